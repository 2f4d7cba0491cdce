#include "analysis/table.h"

#include "analysis/stats.h"
#include "engine/check.h"

#include <cmath>
#include <set>

namespace qb::analysis {

namespace {

Aggregate aggregate(const Results& results, const TableSpec& spec, const Filter& a, const Filter* b,
                    const std::string& where) {
  const Metric& metric = b && b->metric ? *b->metric : spec.metric;
  Aggregate g;
  std::set<std::int64_t> seeds;
  std::vector<double> v;
  auto selected = [&](const ResultRow& r) {
    return (spec.network.empty() || r.net == spec.network) &&
           (spec.dataset.empty() || r.dataset == spec.dataset) && a.matches(r) &&
           (!b || b->matches(r));
  };
  for (const auto& r : results.failed) g.failed += selected(r) ? 1 : 0;
  for (const auto& r : results.rows) {
    if (!selected(r)) continue;
    if (!seeds.insert(r.seed).second)
      throw error(results.path, ": table '", spec.name, "', ", where, ": two results for seed ",
                  r.seed, " (", r.method, " ", r.options, ", first_last ", r.first_last,
                  "): narrow the filter with options, first_last or granularity");
    // NaN: the cell has no such value (no integer inference under that model, or export
    // refused it); shown as missing, like a cell without results.
    const double x = r.values.at(metric.column);
    if (std::isnan(x)) continue;
    v.push_back(x * metric.scale);
    g.keys.push_back(r.key);
  }
  const SampleStats st = sample_stats(v);
  g.n = st.n;
  g.mean = st.mean;
  g.std = st.std;
  return g;
}

}  // namespace

Table build_table(const Results& results, const TableSpec& spec) {
  // A network or dataset absent from the file is a typo, not a table of gaps.
  auto check_present = [&](const std::string& want, const char* key, auto field) {
    if (want.empty()) return;
    std::set<std::string> have;
    for (const auto& r : results.rows) have.insert(r.*field);
    if (have.count(want)) return;
    std::string list;
    for (const auto& h : have) list += (list.empty() ? "" : ", ") + h;
    throw error(spec.name, ": ", key, ": '", want, "' has no results in ", results.path,
                " (it has: ", list.empty() ? "nothing" : list, ")");
  };
  check_present(spec.network, "network", &ResultRow::net);
  check_present(spec.dataset, "dataset", &ResultRow::dataset);

  Table t;
  t.spec = spec;
  t.source = results.path;
  t.cells_expected = results.cells_expected;
  t.cells_merged = results.cells_merged;
  t.cells_failed = std::int64_t(results.failed.size());
  if (spec.baseline) t.baseline = aggregate(results, spec, *spec.baseline, nullptr, "baseline");
  t.cells.resize(spec.rows.size());
  for (std::size_t r = 0; r < spec.rows.size(); ++r)
    for (std::size_t c = 0; c < spec.columns.size(); ++c)
      t.cells[r].push_back(
          aggregate(results, spec, spec.rows[r], &spec.columns[c],
                    "row '" + spec.rows[r].label + "' column '" + spec.columns[c].label + "'"));
  return t;
}

}  // namespace qb::analysis
