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

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace qb::exp {

constexpr int kConfigSchema = 1;

// The most cells a config may hold (its products summed, before excludes) unless its
// "max_cells" key or `qbench sweep --max-cells` allows more: every cell is built in memory and
// trial-checked before anything runs, so a typo such as "seeds": [1, ..., 10000] stops here.
constexpr std::uint64_t kDefaultMaxCells = 100'000;

struct Sweep {
  std::string name;         // the config's "name" (informational)
  std::vector<Cell> cells;  // expansion order; keys unique
  std::string hash;         // content_key of the sorted cell keys: the sweep's identity
  nlohmann::json config;    // the document as read (recorded in the results folder)
};

// Throws qb::Errors with one qb::Error per problem, each at its key path. `max_cells`, when
// given, replaces the config's own "max_cells" (and kDefaultMaxCells).
Sweep parse_sweep(const nlohmann::json& config, std::optional<std::uint64_t> max_cells = {});
// Reads and parses a config file (engine/io/json_parse.h: duplicate keys, numbers beyond a
// double and a directory are refused there); every problem's line starts with the file name.
Sweep load_sweep(const std::string& path, std::optional<std::uint64_t> max_cells = {});

}  // namespace qb::exp
