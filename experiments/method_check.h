// A config's method entries checked through the registry before anything runs.
#pragma once

#include "experiments/expand.h"

namespace qb::exp {

// The registry's checks of one entry: its name, options and bit-widths. True when they pass.
bool check_method(const MethodEntry& m, JsonReader& reader);

// Builds each of the entry's networks and installs its quantizers once per setting (bits ×
// first_last × granularity), so that errors only make_qat() and the quantizers' constructors
// see (a granularity a method does not support on some layer) surface before any cell runs,
// not hours into a sweep. Run only on entries that passed check_method(); an error that
// several settings share is reported once, with the first setting that raised it.
void trial_install(const MethodEntry& m, const DatasetSpec& data, JsonReader& reader);

}  // namespace qb::exp
