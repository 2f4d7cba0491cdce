#include "experiments/expand.h"

#include "experiments/hash.h"

#include <algorithm>
#include <set>
#include <tuple>

namespace qb::exp {

const std::vector<std::string> kRuleKeys = {"method", "net",   "seed",       "wbits",
                                            "abits",  "gbits", "first_last", "granularity"};

namespace {

std::map<std::string, std::string> cell_fields(const Cell& c) {
  return {{"method", c.method},
          {"net", c.net},
          {"seed", std::to_string(c.seed)},
          {"wbits", std::to_string(c.quant.wbits)},
          {"abits", std::to_string(c.quant.abits)},
          {"gbits", std::to_string(c.quant.gbits)},
          {"first_last", std::string(kFirstLast.row_of(c.quant.first_last).name)},
          {"granularity", c.quant.granularity}};
}

bool matches(const Rule& r, const Cell& c) {
  const auto fields = cell_fields(c);
  for (const auto& [k, values] : r.match) {
    const auto it = fields.find(k);
    if (it == fields.end()) return false;
    if (std::find(values.begin(), values.end(), it->second) == values.end()) return false;
  }
  return true;
}

void expand(const MethodEntry& m, const DatasetSpec& data, const Recipe& fp32,
            std::vector<Cell>& out) {
  for (const auto& net : m.nets)
    for (auto seed : m.seeds)
      for (int w : m.wbits)
        for (int a : m.abits)
          for (int g : m.gbits)
            for (const auto fl : m.first_last)
              for (const auto& gr : m.granularity) {
                Cell c;
                c.data = data;
                c.net = net;
                c.seed = seed;
                c.fp32 = fp32;
                c.method = m.name;
                c.quant = QuantSettings{w, a, g, gr, fl, normalise_numbers(m.options)};
                c.init = m.init;
                c.recipe = m.recipe;
                set_identity(c);
                out.push_back(std::move(c));
              }
}

// Order: network; within it the cells trained from scratch first (each a whole FP32 recipe, ten
// times a fine-tune's epochs: started last, one of them kept the other processes of a LeNet-5
// sweep idle for its last 3 minutes); then seed (as the config lists them; others after), then
// the methods as listed.
void sort_cells(std::vector<Cell>& cells, const std::vector<std::string>& nets,
                const std::vector<std::uint64_t>& seeds) {
  auto rank = [](const auto& v, const auto& x) {
    return std::size_t(std::find(v.begin(), v.end(), x) - v.begin());
  };
  std::stable_sort(cells.begin(), cells.end(), [&](const Cell& a, const Cell& b) {
    return std::tuple(rank(nets, a.net), a.init != Init::scratch, rank(seeds, a.seed)) <
           std::tuple(rank(nets, b.net), b.init != Init::scratch, rank(seeds, b.seed));
  });
}

}  // namespace

std::uint64_t count_cells(const std::vector<MethodEntry>& entries,
                          const std::vector<MethodEntry>& includes) {
  constexpr std::uint64_t kAll = ~std::uint64_t(0);
  std::uint64_t total = 0;
  for (const auto* list : {&entries, &includes})
    for (const MethodEntry& m : *list) {
      std::uint64_t n = 1;
      for (std::size_t size : {m.nets.size(), m.seeds.size(), m.wbits.size(), m.abits.size(),
                               m.gbits.size(), m.first_last.size(), m.granularity.size()})
        if (__builtin_mul_overflow(n, std::uint64_t(size), &n)) n = kAll;
      if (__builtin_add_overflow(total, n, &total)) total = kAll;
    }
  return total;
}

std::vector<Cell> expand_cells(const std::vector<MethodEntry>& entries,
                               const std::vector<MethodEntry>& includes,
                               const std::vector<Rule>& excludes, const DatasetSpec& data,
                               const Recipe& fp32, const std::vector<std::string>& nets,
                               const std::vector<std::uint64_t>& seeds, JsonReader& reader) {
  std::vector<Cell> product, extra;
  for (const auto& e : entries) expand(e, data, fp32, product);
  for (const auto& e : includes) expand(e, data, fp32, extra);
  std::vector<std::size_t> hits(excludes.size(), 0);
  std::vector<Cell> cells;
  for (auto& c : product) {
    bool drop = false;
    for (std::size_t i = 0; i < excludes.size(); ++i)
      if (matches(excludes[i], c)) ++hits[i], drop = true;
    if (!drop) cells.push_back(std::move(c));
  }
  for (std::size_t i = 0; i < excludes.size(); ++i)
    if (hits[i] == 0) reader.problem(excludes[i].path, "matches no cell (a misspelt value?)");
  // Includes are added after the excludes, which never remove them; a cell that two entries
  // produce runs once.
  for (auto& c : extra) cells.push_back(std::move(c));
  if (cells.empty()) reader.problem("exclude", "every cell is excluded: the sweep is empty");
  std::vector<Cell> unique;
  std::set<std::string> taken;
  for (auto& c : cells)
    if (taken.insert(c.key).second) unique.push_back(std::move(c));
  sort_cells(unique, nets, seeds);
  for (std::size_t i = 0; i < unique.size(); ++i) unique[i].index = i;
  return unique;
}

}  // namespace qb::exp
