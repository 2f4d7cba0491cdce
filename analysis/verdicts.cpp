#include "analysis/verdicts.h"

#include "analysis/stats.h"
#include "engine/check.h"
#include "engine/io/json_parse.h"
#include "experiments/json_reader.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <map>
#include <set>

namespace qb::analysis {
using json = nlohmann::json;
using exp::JsonReader;

const char* verdict_name(Verdict v) {
  switch (v) {
    case Verdict::no_cells:
      return "no cells";
    case Verdict::inconclusive:
      return "inconclusive";
    case Verdict::supported:
      return "supported";
    case Verdict::contradicted:
      return "contradicted";
  }
  return "?";
}

Verdict judge(const std::vector<double>& deltas, std::optional<double> min,
              std::optional<double> max) {
  if (deltas.empty()) return Verdict::no_cells;
  std::size_t holds = 0;
  for (double d : deltas) holds += (!min || d >= *min) && (!max || d <= *max);
  if (deltas.size() < 2) return Verdict::inconclusive;
  if (holds == deltas.size()) return Verdict::supported;
  if (holds == 0) return Verdict::contradicted;
  return Verdict::inconclusive;
}

Verdict combine(const std::vector<Verdict>& parts) {
  if (parts.empty()) return Verdict::no_cells;
  const auto all = [&](Verdict v) {
    return std::all_of(parts.begin(), parts.end(), [&](Verdict p) { return p == v; });
  };
  if (std::find(parts.begin(), parts.end(), Verdict::contradicted) != parts.end())
    return Verdict::contradicted;
  if (all(Verdict::supported)) return Verdict::supported;
  if (all(Verdict::no_cells)) return Verdict::no_cells;
  return Verdict::inconclusive;
}

namespace {

const std::vector<std::string> kTestKeys = {"id",       "claim", "source",  "tag",    "theirs",
                                            "a",        "b",     "delta",   "metric", "a_metric",
                                            "b_metric", "each",  "networks"};
const std::vector<std::string> kTheirsKeys = {"network", "dataset", "numbers"};
const std::vector<std::string> kDeltaKeys = {"min", "max"};

// `base` with every key of `extra` set (an `each` entry refines both sides).
json refined(const json& base, const json& extra) {
  json j = base;
  for (const auto& [k, v] : extra.items()) j[k] = v;
  return j;
}

ClaimTest parse_test(const json& t, const std::string& method, const std::string& at,
                     JsonReader& in) {
  ClaimTest c;
  c.method = method;
  if (!in.object(t, at, kTestKeys)) return c;
  for (const char* key : {"id", "claim", "source", "tag", "a", "b", "delta"})
    if (!t.contains(key)) in.problem(join_key_path(at, key), "missing");
  in.read(t, "id", at, c.id);
  in.read(t, "claim", at, c.claim);
  in.read(t, "source", at, c.source);
  in.read(t, "tag", at, c.tag);
  if (t.contains("theirs")) {
    const std::string th = join_key_path(at, "theirs");
    if (in.object(t.at("theirs"), th, kTheirsKeys)) {
      in.read(t.at("theirs"), "network", th, c.their_network);
      in.read(t.at("theirs"), "dataset", th, c.their_dataset);
      in.read(t.at("theirs"), "numbers", th, c.their_numbers);
    }
  }
  if (t.contains("delta")) {
    const std::string dp = join_key_path(at, "delta");
    if (in.object(t.at("delta"), dp, kDeltaKeys)) {
      const json& d = t.at("delta");
      const auto bound = [&](const char* key, std::optional<double>& out) {
        if (!d.contains(key)) return;
        double v = 0;
        const std::size_t before = in.problems().size();
        in.read(d, key, dp, v);
        if (in.problems().size() == before) out = v;
      };
      bound("min", c.min);
      bound("max", c.max);
      if (!t.at("delta").contains("min") && !t.at("delta").contains("max"))
        in.problem(dp, "give min, max or both (bounds on a - b)");
      if (c.min && c.max && *c.min > *c.max) in.problem(dp, "min is above max");
    }
  }
  // "metric" for both sides, "a_metric"/"b_metric" for one (two columns of the same cells).
  const auto metric_at = [&](const std::string& key) -> std::optional<Metric> {
    std::string name;
    if (!t.contains(key)) return std::nullopt;
    in.read(t, key, at, name);
    try {
      return metric_named(name, join_key_path(at, key));
    } catch (const Error& e) {
      in.problem(e);
      return std::nullopt;
    }
  };
  const Metric shared = metric_at("metric").value_or(metric_named("test_acc"));
  c.a_metric = metric_at("a_metric").value_or(shared);
  c.b_metric = metric_at("b_metric").value_or(shared);
  if (c.a_metric.scale != c.b_metric.scale)
    in.problem(join_key_path(at, "b_metric"), "not in the units of a_metric");
  if (t.contains("networks")) in.read_list(t, "networks", at, c.networks);
  if (!t.contains("a") || !t.contains("b")) return c;
  const std::size_t before = in.problems().size();
  const Filter a = parse_filter(t.at("a"), join_key_path(at, "a"), in);
  const Filter b = parse_filter(t.at("b"), join_key_path(at, "b"), in);
  if (in.problems().size() != before) return c;
  // One comparison per `each` entry: its keys refine both sides (problems at the entry's path).
  struct Entry {
    std::string label, path;
    json keys;
  };
  std::vector<Entry> entries = {{"", at, json::object()}};
  if (t.contains("each")) {
    const std::string ep = join_key_path(at, "each");
    entries.clear();
    if (!t.at("each").is_array() || t.at("each").empty())
      in.problem(ep, "expected a non-empty array of filter refinements");
    for (std::size_t i = 0; t.at("each").is_array() && i < t.at("each").size(); ++i) {
      const json& e = t.at("each")[i];
      if (!e.is_object() || e.empty() || e.contains("label"))
        in.problem(exp::index_path(ep, i), "expected a non-empty object of filter keys");
      else
        entries.push_back({e.dump(), exp::index_path(ep, i), e});
    }
  }
  for (const Entry& e : entries) {
    JsonReader same;  // b's refinement fails exactly where a's does: report it once
    ClaimTest::Part p{e.label, parse_filter(refined(t.at("a"), e.keys), e.path, in),
                      parse_filter(refined(t.at("b"), e.keys), e.path, same)};
    p.a.label = a.label;
    p.b.label = b.label;
    c.parts.push_back(std::move(p));
  }
  return c;
}

// The metric per seed of the cells of (net, dataset) that `f` selects, in shown units. A seed
// with several such cells (a filter too loose to pair) is left out and counted in `ambiguous`;
// a non-finite value (a failed cell, a column the cell lacks) is left out.
std::map<std::int64_t, double> by_seed(const Results& r, const Filter& f, const Metric& m,
                                       const std::string& net, const std::string& dataset,
                                       std::size_t& ambiguous) {
  std::map<std::int64_t, double> v;
  std::set<std::int64_t> several;
  for (const ResultRow& row : r.rows) {
    if (row.net != net || row.dataset != dataset || !f.matches(row)) continue;
    const auto it = row.values.find(m.column);
    if (it == row.values.end() || !std::isfinite(it->second)) continue;
    if (!v.emplace(row.seed, it->second * m.scale).second) several.insert(row.seed);
  }
  for (std::int64_t s : several) v.erase(s);
  ambiguous += several.size();
  return v;
}

}  // namespace

std::vector<ClaimTest> parse_claim_tests(const json& tests, const std::string& method,
                                         const std::string& origin) {
  JsonReader in;
  std::vector<ClaimTest> out;
  if (!tests.is_array()) {
    in.problem("tests", "expected an array");
  } else {
    std::set<std::string> ids;
    for (std::size_t i = 0; i < tests.size(); ++i) {
      const std::string at = exp::index_path("tests", i);
      out.push_back(parse_test(tests[i], method, at, in));
      if (!out.back().id.empty() && !ids.insert(out.back().id).second)
        in.problem(join_key_path(at, "id"), "'" + out.back().id + "' is used twice");
    }
  }
  if (in.ok()) return out;
  std::vector<Error> named;  // as table specs name their file: "FILE: tests[0].a.wbits: ..."
  for (const Error& e : in.problems())
    named.emplace_back(origin.empty() ? e.what() : origin + ": " + e.what());
  throw Errors(std::move(named));
}

std::vector<ClaimTest> load_claim_tests(const std::string& dir) {
  std::vector<std::string> files;
  for (const auto& e : std::filesystem::directory_iterator(dir))
    if (e.path().extension() == ".json") files.push_back(e.path().string());
  std::sort(files.begin(), files.end());
  std::vector<ClaimTest> out;
  for (const auto& path : files) {
    const json j = read_user_json(path, "claims file");
    if (!j.is_object() || !j.contains("tests")) continue;
    const std::string method = j.value("method", std::string());
    for (ClaimTest& t : parse_claim_tests(j.at("tests"), method, path)) {
      t.paper = j.contains("paper") && j.at("paper").is_string() ? j.at("paper").get<std::string>()
                                                                 : method;
      out.push_back(std::move(t));
    }
  }
  return out;
}

std::vector<double> Comparison::deltas() const {
  std::vector<double> d(a.size());
  for (std::size_t i = 0; i < a.size(); ++i) d[i] = a[i] - b[i];
  return d;
}

std::vector<ClaimResult> evaluate(const std::vector<ClaimTest>& tests, const Results& results) {
  // The (network, dataset) pairs present, in the order the results list them.
  std::vector<std::pair<std::string, std::string>> places;
  for (const ResultRow& r : results.rows)
    if (std::find(places.begin(), places.end(), std::pair(r.net, r.dataset)) == places.end())
      places.emplace_back(r.net, r.dataset);
  std::vector<ClaimResult> out;
  for (const ClaimTest& t : tests) {
    ClaimResult cr;
    cr.test = t;
    std::vector<Verdict> verdicts;
    for (const auto& [net, dataset] : places) {
      if (!t.networks.empty() &&
          std::find(t.networks.begin(), t.networks.end(), net) == t.networks.end())
        continue;
      for (const ClaimTest::Part& p : t.parts) {
        Comparison c{net, dataset, p.label};
        const auto a = by_seed(results, p.a, t.a_metric, net, dataset, c.ambiguous);
        const auto b = by_seed(results, p.b, t.b_metric, net, dataset, c.ambiguous);
        for (const auto& [seed, va] : a)
          if (const auto it = b.find(seed); it != b.end()) {
            c.seeds.push_back(seed);
            c.a.push_back(va);
            c.b.push_back(it->second);
          }
        c.verdict = judge(c.deltas(), t.min, t.max);
        verdicts.push_back(c.verdict);
        cr.comparisons.push_back(std::move(c));
      }
    }
    cr.verdict = combine(verdicts);
    out.push_back(std::move(cr));
  }
  return out;
}

namespace {

std::string relation(const ClaimTest& t) {
  const std::string d = "Δ = a − b";
  if (t.min && t.max) return fixed(*t.min, 2) + " ≤ " + d + " ≤ " + fixed(*t.max, 2);
  if (t.min) return d + " ≥ " + fixed(*t.min, 2);
  return d + " ≤ " + fixed(*t.max, 2);
}

std::string mean_text(const std::vector<double>& v) {
  return v.empty() ? "—" : fixed(sample_stats(v).mean, 2);
}

std::string theirs_text(const ClaimTest& t) {
  std::string theirs = t.their_network;
  if (!t.their_dataset.empty()) theirs += (theirs.empty() ? "" : ", ") + t.their_dataset;
  if (!t.their_numbers.empty()) theirs += (theirs.empty() ? "" : ": ") + t.their_numbers;
  return theirs.empty() ? "—" : theirs;
}

// "a" / "b" as the tables show them: the filter's label, and the metric when not test_acc.
std::string side_text(const ClaimTest& t, bool a_side) {
  if (t.parts.empty()) return "";
  const Filter& f = a_side ? t.parts.front().a : t.parts.front().b;
  const Metric& m = a_side ? t.a_metric : t.b_metric;
  return f.label + (m.column == "test_acc" ? "" : " [" + m.column + "]");
}

std::string deltas_text(const Comparison& c) {
  const std::string loose =
      c.ambiguous ? " [" + std::to_string(c.ambiguous) + " seed(s) with several cells left out]"
                  : "";
  const std::vector<double> d = c.deltas();
  if (d.empty()) return "—" + loose;
  std::string per_seed;
  for (std::size_t i = 0; i < d.size(); ++i) per_seed += (i ? ", " : "") + signed_fixed(d[i], 2);
  return signed_fixed(sample_stats(d).mean, 2) + " (n=" + std::to_string(d.size()) + ": " +
         per_seed + ")";
}

}  // namespace

Grid verdicts_table(const std::vector<ClaimResult>& results) {
  Grid g;
  g.name = "claim-verdicts";
  g.title = "The papers' claims tested on our cells";
  g.note =
      "Δ = a − b per seed (paired by seed, same network and dataset; accuracies in points). "
      "supported: every seed's Δ satisfies the relation (at least 2 seeds); contradicted: none "
      "does; inconclusive: the seeds disagree or fewer than 2 are paired; no cells: nothing to "
      "compare. A claim is contradicted if any comparison is, supported if all are. Their "
      "numbers are on their networks and datasets (source and tag given), ours on ours.";
  g.header = {"method", "claim",    "source (tag)",      "theirs",     "ours",         "a",
              "b",      "relation", "Δ mean (per seed)", "comparison", "claim verdict"};
  for (const ClaimResult& r : results) {
    const ClaimTest& t = r.test;
    const std::string src = t.source + " (" + t.tag + ")";
    const std::string rel = relation(t), a = side_text(t, true), b = side_text(t, false);
    const auto row = [&](const std::string& ours, const std::string& deltas, Verdict v) {
      g.rows.push_back({t.method, t.id + ": " + t.claim, src, theirs_text(t), ours, a, b, rel,
                        deltas, verdict_name(v), verdict_name(r.verdict)});
    };
    if (r.comparisons.empty()) row("—", "—", Verdict::no_cells);
    for (const Comparison& c : r.comparisons) {
      const std::string ours = c.net + ", " + c.dataset + (c.part.empty() ? "" : ", " + c.part);
      row(ours, deltas_text(c), c.verdict);
    }
  }
  return g;
}

std::vector<Grid> verdicts_by_paper(const std::vector<ClaimResult>& results) {
  std::vector<Grid> out;
  for (const ClaimResult& r : results) {
    const ClaimTest& t = r.test;
    if (out.empty() || out.back().name != "claims-" + t.method) {
      Grid g;
      g.name = "claims-" + t.method;
      g.title = t.paper;
      g.note =
          "Their numbers on their networks (source and tag per claim); ours: a and b are the "
          "means over the paired seeds (accuracy in %), Δ = a − b per seed in points. Verdict "
          "per comparison (analysis/verdicts.h): supported when every seed's Δ satisfies the "
          "relation (at least 2 seeds), contradicted when none does, inconclusive otherwise.";
      g.header = {"claim", "theirs", "ours",         "a",        "b",
                  "a (%)", "b (%)",  "Δ (per seed)", "relation", "verdict"};
      out.push_back(std::move(g));
    }
    Grid& g = out.back();
    const std::string a = side_text(t, true), b = side_text(t, false), rel = relation(t);
    if (r.comparisons.empty())
      g.rows.push_back({t.id + ": " + t.claim, theirs_text(t), "—", a, b, "—", "—", "—", rel,
                        verdict_name(Verdict::no_cells)});
    for (const Comparison& c : r.comparisons)
      g.rows.push_back({t.id + ": " + t.claim, theirs_text(t),
                        c.net + (c.part.empty() ? "" : ", " + c.part), a, b, mean_text(c.a),
                        mean_text(c.b), deltas_text(c), rel, verdict_name(c.verdict)});
  }
  return out;
}

Results combine_results(const std::vector<Results>& files) {
  Results all;
  std::set<std::string> keys;
  for (const Results& f : files) {
    all.path += (all.path.empty() ? "" : " ") + f.path;
    all.sweep_name += (all.sweep_name.empty() ? "" : " ") + f.sweep_name;
    all.cells_expected += f.cells_expected;
    all.cells_merged += f.cells_merged;
    for (const ResultRow& row : f.rows) {
      if (!keys.insert(row.key).second)
        throw error(f.path, ": cell ", row.key, " is also in an earlier file");
      all.rows.push_back(row);
    }
    all.failed.insert(all.failed.end(), f.failed.begin(), f.failed.end());
    all.failed_reasons.insert(all.failed_reasons.end(), f.failed_reasons.begin(),
                              f.failed_reasons.end());
  }
  return all;
}

}  // namespace qb::analysis
