// A config's method entries checked through the registry before anything runs.
#pragma once

#include "experiments/expand.h"

namespace qb::exp {

// The registry's checks of one entry: its name, options and bit-widths. True when they pass.
bool check_method(const MethodEntry& m, JsonReader& reader);

// Installs the entry's quantizers into each network once per setting, so that errors only a
// quantizer's constructor sees (a granularity it does not support) surface now, not hours
// into a sweep. Run only on entries that passed check_method.
void trial_install(const MethodEntry& m, const DatasetSpec& data, JsonReader& reader);

}  // namespace qb::exp
