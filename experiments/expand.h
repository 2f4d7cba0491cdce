// From a config's method entries and rules to the sweep's cells.
//
// The cells are the Cartesian product net × seed × method × wbits × abits × gbits ×
// first_last × granularity of each methods[] entry, minus `exclude` rules, plus `include`
// entries (which excludes never remove); a cell that two entries produce runs once. Order:
// network, seed, then the methods as listed — each pretraining is followed by the fine-tunes
// that start from it.
#pragma once

#include "experiments/cell.h"
#include "experiments/json_reader.h"

#include <map>
#include <string>
#include <vector>

namespace qb::exp {

// One methods[] entry (or an include rule resolved against one): its lists before expansion.
struct MethodEntry {
  std::string path;  // "methods[2]" or "include[0]"
  std::string name;
  nlohmann::json options = nlohmann::json::object();
  Init init = Init::fp32;
  Recipe recipe;  // resolved: over `finetune`, or over `fp32` for init "scratch"
  std::vector<std::string> nets, granularity;
  std::vector<FirstLast> first_last;
  std::vector<std::uint64_t> seeds;
  std::vector<int> wbits, abits, gbits;
};

// An exclude rule: for every key it names, the cell's value is one of the listed ones.
struct Rule {
  std::map<std::string, std::vector<std::string>> match;  // values as strings
  std::string path;
};

// The keys a rule may name (the cell fields it matches).
extern const std::vector<std::string> kRuleKeys;

// How many cells the entries' products hold before excludes and duplicates are removed: what
// expand_cells would build in memory. Saturates at UINT64_MAX instead of wrapping.
std::uint64_t count_cells(const std::vector<MethodEntry>& entries,
                          const std::vector<MethodEntry>& includes);

// The sweep's cells in order (`nets` and `seeds`: the config's top-level lists), each with its
// identity and index. A rule that matches no cell, or an empty result, is a problem reported to
// `reader`.
std::vector<Cell> expand_cells(const std::vector<MethodEntry>& entries,
                               const std::vector<MethodEntry>& includes,
                               const std::vector<Rule>& excludes, const DatasetSpec& data,
                               const Recipe& fp32, const std::vector<std::string>& nets,
                               const std::vector<std::uint64_t>& seeds, JsonReader& reader);

}  // namespace qb::exp
