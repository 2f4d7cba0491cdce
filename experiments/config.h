// Sweep configs: one JSON file → a validated, ordered list of cells.
//
// A config names a dataset, networks, seeds, an FP32 pretraining recipe, and methods, each
// with its options, its fine-tuning recipe and its bit-width lists; experiments/expand.h says
// how they become cells, experiments/cell.h what identifies a cell. Example and every key:
// experiments/configs/README.md.
//
// Everything is checked before anything runs, methods through the registry (name, options,
// bit range, and a trial install of the quantizers into each network;
// experiments/method_check.h). Every problem is reported, one line each, naming its key path:
// `methods[2].options.eta: expected number, got string`; an unknown key or name suggests the
// nearest valid one.
#pragma once

#include "experiments/cell.h"

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

namespace qb::exp {

constexpr int kConfigSchema = 1;

struct Sweep {
  std::string name;         // the config's "name" (informational)
  std::vector<Cell> cells;  // expansion order; keys unique
  std::string hash;         // content_key of the sorted cell keys: the sweep's identity
};

// Throws qb::Errors with one qb::Error per problem, each at its key path.
Sweep parse_sweep(const nlohmann::json& config);
// Reads and parses a config file; every problem's line starts with the file name.
Sweep load_sweep(const std::string& path);

}  // namespace qb::exp
