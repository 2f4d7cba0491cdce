// Table specs (analysis/tables/*.json): which cells of a results file make which table.
//
//   {"schema": 1, "name": "lenet5-paper", "title": "...",
//    "network": "lenet5", "dataset": "fashion-mnist", "metric": "test_acc",
//    "baseline": {"method": "fp32"},
//    "rows":    [{"label": "SYQ ternary", "method": "syq", "options": {"levels": 3}}, ...],
//    "columns": [{"label": "W4A4", "wbits": 4, "abits": 4}, ...],
//    "precision": 2}
//
// A column may name its own metric ({"label": "wrap", "metric": "int_acc_wrap"}): a table of
// several quantities of the same cells (analysis/tables/oaq-lenet5.json: integer top-1 under
// each accumulator and overflow rates). Its cells then show no Δ to the baseline; rows and the
// baseline keep the table's metric (a metric there is refused).
//
// Rows, columns and the baseline are all filters over the summary's columns: a table cell
// takes the results that match its row AND its column (AND the network and dataset), one per
// seed. `options` matches when every key given equals the cell's option (a subset match).
// Every key is checked and every problem reported, each naming its path
// ("rows[2].metod: unknown key (did you mean 'method'?)"). Without a spec, default_specs() builds
// one table per network and dataset: every method/options as a row, every (wbits, abits) as a
// column.
#pragma once

#include "analysis/results.h"

#include <nlohmann/json.hpp>

#include <optional>
#include <string>
#include <vector>

namespace qb::exp {
class JsonReader;
}

namespace qb::analysis {

// How a metric is shown: accuracies as percentages (Δ in percentage points).
struct Metric {
  std::string column;  // summary column
  std::string name;    // for people: "test accuracy (%)"
  double scale = 1;
};
// The metric of a kResultsColumns column with a label; throws qb::Error (at key_path) else.
Metric metric_named(const std::string& column, const std::string& key_path = "");

struct Filter {
  std::string label;
  std::optional<std::string> method, first_last, granularity, init;
  std::optional<nlohmann::json> options;  // an object; subset match
  bool options_exact = false;             // default specs: {} must not match {"mode": ...}
  std::optional<int> wbits, abits, gbits;
  std::optional<Metric> metric;  // a column's own metric (not a filter: matches() ignores it)
  bool matches(const ResultRow& r) const;
};

struct TableSpec {
  std::string name, title, network, dataset;
  Metric metric = metric_named("test_acc");
  std::optional<Filter> baseline;
  std::vector<Filter> rows, columns;
  int precision = 2;  // decimals shown (CSV: two more)
  // Column c's metric: its own, else the table's.
  const Metric& metric_of(std::size_t c) const {
    return columns[c].metric ? *columns[c].metric : metric;
  }
  bool has_column_metrics() const {
    for (const Filter& f : columns)
      if (f.metric) return true;
    return false;
  }
};

// One filter object at key path `at` (claims tests use them too); problems go to `in`.
Filter parse_filter(const nlohmann::json& j, const std::string& at, exp::JsonReader& in);

// `origin` prefixes every problem (the spec file's name); throws qb::Errors.
TableSpec parse_spec(const nlohmann::json& j, const std::string& origin);
TableSpec load_spec(const std::string& path);

// One table per (network, dataset) present; rows: every (method, options) except the FP32
// baseline's (first_last/granularity added only where a method has several); columns: every
// (wbits, abits) those rows hold; baseline: method fp32 when present.
std::vector<TableSpec> default_specs(const Results& results, const std::string& name);

}  // namespace qb::analysis
