#include "analysis/spec.h"

#include "engine/check.h"
#include "experiments/config.h"

#include <algorithm>
#include <fstream>
#include <set>
#include <sstream>
#include <tuple>

namespace qb::analysis {
using json = nlohmann::json;

bool Filter::matches(const ResultRow& r) const {
  if (method && *method != r.method) return false;
  if (first_last && *first_last != r.first_last) return false;
  if (granularity && *granularity != r.granularity) return false;
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

Metric metric_named(const std::string& column) {
  if (column == "test_acc") return {column, "test accuracy (%)", 100};
  if (column == "val_acc") return {column, "validation accuracy (%)", 100};
  if (column == "test_loss") return {column, "test loss", 1};
  if (column == "val_loss") return {column, "validation loss", 1};
  if (column == "seconds") return {column, "wall time per cell (s)", 1};
  if (column == "train_seconds") return {column, "training time (s)", 1};
  throw error("metric: unknown metric '", column,
              "' (test_acc, val_acc, test_loss, val_loss, seconds, train_seconds)");
}

namespace {

// Refuses keys outside `known`, suggesting the nearest one.
void check_keys(const json& j, const std::string& where, const std::set<std::string>& known) {
  if (!j.is_object()) throw error(where, ": expected an object, got ", j.type_name());
  for (const auto& [k, v] : j.items()) {
    if (known.count(k)) continue;
    std::string best;
    std::size_t best_d = 3;  // suggest only near misses
    for (const auto& cand : known)
      if (const auto d = exp::edit_distance(k, cand); d < best_d) best_d = d, best = cand;
    throw error(where, where.empty() ? "" : ".", k, ": unknown key",
                best.empty() ? "" : ", did you mean " + best + "?");
  }
}

template <class T>
T get(const json& j, const std::string& key, const std::string& where) {
  try {
    return j.at(key).get<T>();
  } catch (const json::exception&) {
    throw error(where, where.empty() ? "" : ".", key, ": expected ",
                std::is_same_v<T, std::string> ? "a string" : "a number", ", got ",
                j.at(key).type_name());
  }
}

Filter parse_filter(const json& j, const std::string& where) {
  check_keys(j, where, {"label", "method", "options", "first_last", "granularity", "wbits",
                        "abits", "gbits"});
  Filter f;
  if (j.contains("method")) f.method = get<std::string>(j, "method", where);
  if (j.contains("first_last")) f.first_last = get<std::string>(j, "first_last", where);
  if (j.contains("granularity")) f.granularity = get<std::string>(j, "granularity", where);
  if (j.contains("wbits")) f.wbits = get<int>(j, "wbits", where);
  if (j.contains("abits")) f.abits = get<int>(j, "abits", where);
  if (j.contains("gbits")) f.gbits = get<int>(j, "gbits", where);
  if (j.contains("options")) {
    if (!j.at("options").is_object())
      throw error(where, ".options: expected an object, got ", j.at("options").type_name());
    f.options = j.at("options");
  }
  if (j.contains("label")) {
    f.label = get<std::string>(j, "label", where);
  } else {  // a readable default: the filter's own values
    std::ostringstream os;
    if (f.method) os << *f.method;
    if (f.options && !f.options->empty()) os << (os.tellp() ? " " : "") << f.options->dump();
    if (f.wbits || f.abits)
      os << (os.tellp() ? " " : "") << "W" << (f.wbits ? std::to_string(*f.wbits) : "*") << "A"
         << (f.abits ? std::to_string(*f.abits) : "*");
    if (f.first_last) os << " first_last=" << *f.first_last;
    if (f.granularity) os << " granularity=" << *f.granularity;
    f.label = os.str();
  }
  return f;
}

std::vector<Filter> parse_filters(const json& j, const std::string& where) {
  if (!j.is_array() || j.empty()) throw error(where, ": expected a non-empty array");
  std::vector<Filter> out;
  for (std::size_t i = 0; i < j.size(); ++i)
    out.push_back(parse_filter(j[i], where + "[" + std::to_string(i) + "]"));
  return out;
}

}  // namespace

TableSpec parse_spec(const json& j, const std::string& origin) {
  const std::string at = origin.empty() ? "" : origin + ": ";
  try {
    check_keys(j, "", {"schema", "name", "title", "network", "dataset", "metric", "baseline",
                       "rows", "columns", "precision"});
    if (!j.contains("schema") || j.at("schema") != 1)
      throw error("schema: expected 1 (the spec format's version)");
    for (const char* k : {"rows", "columns"})
      if (!j.contains(k)) throw error(k, ": missing (a non-empty array of filters)");
    TableSpec s;
    s.name = j.value("name", std::string("table"));
    if (j.contains("name")) s.name = get<std::string>(j, "name", "");
    if (j.contains("title")) s.title = get<std::string>(j, "title", "");
    if (j.contains("network")) s.network = get<std::string>(j, "network", "");
    if (j.contains("dataset")) s.dataset = get<std::string>(j, "dataset", "");
    if (j.contains("metric")) s.metric = metric_named(get<std::string>(j, "metric", ""));
    if (j.contains("precision")) s.precision = get<int>(j, "precision", "");
    if (s.precision < 0 || s.precision > 8) throw error("precision: expected 0..8");
    if (j.contains("baseline")) s.baseline = parse_filter(j.at("baseline"), "baseline");
    s.rows = parse_filters(j.at("rows"), "rows");
    s.columns = parse_filters(j.at("columns"), "columns");
    return s;
  } catch (const Error& e) {
    throw error(at, e.what());
  }
}

TableSpec load_spec(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw error(path, ": cannot open the table spec");
  const json j = json::parse(in, nullptr, false);
  if (j.is_discarded()) throw error(path, ": not valid JSON");
  return parse_spec(j, path);
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
    using RowKey = std::tuple<std::string, std::string, std::string, std::string>;
    std::vector<RowKey> rows;
    std::vector<std::pair<int, int>> cols;
    for (const auto& r : results.rows) {
      if (r.net != net || r.dataset != dataset) continue;
      if (r.method == "fp32") {
        has_fp32 = true;
        continue;
      }
      const RowKey k{r.method, r.options, r.first_last, r.granularity};
      if (std::find(rows.begin(), rows.end(), k) == rows.end()) rows.push_back(k);
      if (std::find(cols.begin(), cols.end(), std::pair{r.wbits, r.abits}) == cols.end())
        cols.emplace_back(r.wbits, r.abits);
    }
    if (has_fp32) s.baseline = Filter{.label = "fp32", .method = "fp32"};
    for (const auto& [method, options, first_last, granularity] : rows) {
      Filter f{.label = method, .method = method, .options = json::parse(options),
               .options_exact = true};
      if (options != "{}") f.label += " " + options;
      // first_last/granularity only where they tell two rows of one method apart
      int variants = 0;
      for (const auto& o : rows)
        variants += std::get<0>(o) == method && std::get<1>(o) == options;
      if (variants > 1) {
        f.first_last = first_last;
        f.granularity = granularity;
        f.label += " (first/last " + first_last + ", " + granularity + ")";
      }
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
