#include "analysis/spec.h"

#include "engine/check.h"
#include "engine/io/json_parse.h"
#include "experiments/json_reader.h"
#include "experiments/results_columns.h"

#include <algorithm>
#include <set>
#include <sstream>
#include <tuple>

namespace qb::analysis {
using json = nlohmann::json;

bool Filter::matches(const ResultRow& r) const {
  if (method && *method != r.method) return false;
  if (first_last && *first_last != r.first_last) return false;
  if (granularity && *granularity != r.granularity) return false;
  if (init && *init != r.init) return false;
  if (wbits && *wbits != r.wbits) return false;
  if (abits && *abits != r.abits) return false;
  if (gbits && *gbits != r.gbits) return false;
  if (options) {
    const json have = json::parse(r.options, nullptr, false);
    if (options_exact) return have == *options;
    for (const auto& [k, v] : options->items())
      if (!have.is_object() || !have.contains(k) || have.at(k) != v) return false;
  }
  return true;
}

namespace {

// The metrics: the columns of kResultsColumns that have a label.
std::vector<std::string> metric_names() {
  std::vector<std::string> v;
  for (const auto& col : exp::kResultsColumns.rows())
    if (!col.metric_label.empty()) v.emplace_back(col.name);
  return v;
}

}  // namespace

Metric metric_named(const std::string& column, const std::string& key_path) {
  const exp::ResultsColumn* col = exp::kResultsColumns.find(column);
  if (!col || col->metric_label.empty())
    throw unknown_name("metric", column, metric_names(), key_path);
  return {column, std::string(col->metric_label), col->metric_scale};
}

namespace {

using exp::JsonReader;

const std::vector<std::string> kFilterKeys = {"label",       "method", "options", "first_last",
                                              "granularity", "init",   "wbits",   "abits",
                                              "gbits",       "metric"};
const std::vector<std::string> kSpecKeys = {"schema", "name",     "title", "network", "dataset",
                                            "metric", "baseline", "rows",  "columns", "precision"};

// An optional value: set when the key is present and well typed.
template <class T>
void read_optional(JsonReader& in, const json& j, const std::string& key, const std::string& at,
                   std::optional<T>& out) {
  if (!j.contains(key)) return;
  T v{};
  const std::size_t before = in.problems().size();
  in.read(j, key, at, v);
  if (in.problems().size() == before) out = v;
}

std::vector<Filter> parse_filters(const json& j, const std::string& key, JsonReader& in) {
  std::vector<Filter> out;
  if (!j.contains(key)) {
    in.problem(key, "missing (a non-empty array of filters)");
    return out;
  }
  const json& list = j.at(key);
  if (!list.is_array() || list.empty()) {
    in.problem(key, "expected a non-empty array of filters");
    return out;
  }
  for (std::size_t i = 0; i < list.size(); ++i)
    out.push_back(parse_filter(list[i], exp::index_path(key, i), in));
  return out;
}

}  // namespace

Filter parse_filter(const json& j, const std::string& at, exp::JsonReader& in) {
  Filter f;
  if (!in.object(j, at, kFilterKeys)) return f;
  read_optional(in, j, "method", at, f.method);
  read_optional(in, j, "first_last", at, f.first_last);
  read_optional(in, j, "granularity", at, f.granularity);
  read_optional(in, j, "init", at, f.init);
  read_optional(in, j, "wbits", at, f.wbits);
  read_optional(in, j, "abits", at, f.abits);
  read_optional(in, j, "gbits", at, f.gbits);
  if (j.contains("options")) {
    if (j.at("options").is_object())
      f.options = j.at("options");
    else
      in.problem(join_key_path(at, "options"),
                 std::string("expected object, got ") + j.at("options").type_name());
  }
  if (j.contains("metric")) {
    std::string metric;
    in.read(j, "metric", at, metric);
    try {
      if (!metric.empty()) f.metric = metric_named(metric, join_key_path(at, "metric"));
    } catch (const Error& e) {
      in.problem(e);
    }
  }
  if (j.contains("label")) {
    in.read(j, "label", at, f.label);
  } else {  // a readable default: the filter's own values
    std::ostringstream os;
    if (f.method) os << *f.method;
    if (f.options && !f.options->empty()) os << (os.tellp() ? " " : "") << f.options->dump();
    if (f.wbits || f.abits)
      os << (os.tellp() ? " " : "") << "W" << (f.wbits ? std::to_string(*f.wbits) : "*") << "A"
         << (f.abits ? std::to_string(*f.abits) : "*");
    if (f.first_last) os << " first_last=" << *f.first_last;
    if (f.granularity) os << " granularity=" << *f.granularity;
    if (f.init) os << " init=" << *f.init;
    f.label = os.str();
  }
  return f;
}

TableSpec parse_spec(const json& j, const std::string& origin) {
  JsonReader in;
  TableSpec s;
  s.name = "table";
  if (in.object(j, "", kSpecKeys)) {
    if (!j.contains("schema") || j.at("schema") != 1)
      in.problem("schema", "expected 1 (the spec format's version)");
    in.read(j, "name", "", s.name);
    in.read(j, "title", "", s.title);
    in.read(j, "network", "", s.network);
    in.read(j, "dataset", "", s.dataset);
    std::string metric = s.metric.column;
    in.read(j, "metric", "", metric);
    try {
      s.metric = metric_named(metric, "metric");
    } catch (const Error& e) {
      in.problem(e);
    }
    in.read(j, "precision", "", s.precision);
    if (s.precision < 0 || s.precision > 8) in.problem("precision", "expected 0..8");
    if (j.contains("baseline")) s.baseline = parse_filter(j.at("baseline"), "baseline", in);
    s.rows = parse_filters(j, "rows", in);
    s.columns = parse_filters(j, "columns", in);
    // A row's or the baseline's metric would make a cell's quantity depend on two filters.
    if (s.baseline && s.baseline->metric)
      in.problem("baseline.metric", "only a column may name its own metric");
    for (std::size_t r = 0; r < s.rows.size(); ++r)
      if (s.rows[r].metric)
        in.problem(exp::index_path("rows", r) + ".metric", "only a column may name its own metric");
  }
  if (in.ok()) return s;
  std::vector<Error> problems;
  for (const Error& p : in.problems())
    problems.emplace_back(origin.empty() ? p.what() : origin + ": " + p.what());
  throw Errors(std::move(problems));
}

TableSpec load_spec(const std::string& path) {
  return parse_spec(read_user_json(path, "table spec file"), path);
}

std::vector<TableSpec> default_specs(const Results& results, const std::string& name) {
  std::vector<std::pair<std::string, std::string>> tables;  // (net, dataset), first-seen order
  for (const auto& r : results.rows)
    if (std::find(tables.begin(), tables.end(), std::pair{r.net, r.dataset}) == tables.end())
      tables.emplace_back(r.net, r.dataset);

  std::vector<TableSpec> out;
  for (const auto& [net, dataset] : tables) {
    TableSpec s;
    s.name = tables.size() == 1 ? name : name + "-" + net + "-" + dataset;
    s.network = net;
    s.dataset = dataset;
    bool has_fp32 = false;
    using RowKey = std::tuple<std::string, std::string, std::string, std::string, std::string>;
    std::vector<RowKey> rows;
    std::vector<std::pair<int, int>> cols;
    for (const auto& r : results.rows) {
      if (r.net != net || r.dataset != dataset) continue;
      if (r.method == "fp32") {
        has_fp32 = true;
        continue;
      }
      const RowKey k{r.method, r.options, r.first_last, r.granularity, r.init};
      if (std::find(rows.begin(), rows.end(), k) == rows.end()) rows.push_back(k);
      if (std::find(cols.begin(), cols.end(), std::pair{r.wbits, r.abits}) == cols.end())
        cols.emplace_back(r.wbits, r.abits);
    }
    if (has_fp32) s.baseline = Filter{.label = "fp32", .method = "fp32"};
    for (const auto& [method, options, first_last, granularity, init] : rows) {
      Filter f{.label = method,
               .method = method,
               .options = json::parse(options),
               .options_exact = true};
      if (options != "{}") f.label += " " + options;
      // first_last/granularity only where they tell two rows of one method apart
      int variants = 0;
      for (const auto& o : rows) variants += std::get<0>(o) == method && std::get<1>(o) == options;
      if (variants > 1) {
        f.first_last = first_last;
        f.granularity = granularity;
        f.label += " (first/last " + first_last + ", " + granularity + ")";
      }
      // Every row says where its training started; "fp32" (fine-tuned) is the default.
      f.init = init;
      if (init != "fp32") f.label += " from " + init;
      s.rows.push_back(f);
    }
    // Widest first: W8A8, W4A4, W2A8, W2A4, ...
    std::stable_sort(cols.begin(), cols.end(), [](auto a, auto b) { return a > b; });
    for (const auto& [w, a] : cols) {
      // Appended piece by piece: g++ 12 warns (-Wrestrict, a false positive) on "W" + to_string.
      std::string label = "W";
      label += std::to_string(w);
      label += 'A';
      label += std::to_string(a);
      s.columns.push_back(Filter{.label = label, .wbits = w, .abits = a});
    }
    out.push_back(std::move(s));
  }
  return out;
}

}  // namespace qb::analysis
