#include "analysis/bench.h"

#include "engine/check.h"
#include "engine/io/input_file.h"
#include "engine/names.h"

#include <nlohmann/json.hpp>

#include <fstream>
#include <regex>

namespace qb::analysis {
using json = nlohmann::json;

namespace {

struct BenchRow {
  std::string name, unit;
  double time = 0;  // real_time, in `unit`
};

// "quantizer/alt/weight/b4/65536" -> "65536"; "x/threads:2/real_time" -> "threads:2/real_time".
std::string arguments(const std::string& name) {
  std::vector<std::string> parts;
  std::size_t start = 0;
  for (std::size_t i = 0; i <= name.size(); ++i)
    if (i == name.size() || name[i] == '/') {
      parts.push_back(name.substr(start, i - start));
      start = i + 1;
    }
  auto is_arg = [](const std::string& s) {
    if (s.empty()) return false;
    if (s == "real_time" || s == "process_time" || s == "manual_time") return true;
    if (s.find(':') != std::string::npos) return true;
    return s.find_first_not_of("0123456789") == std::string::npos;
  };
  std::size_t first = parts.size();
  while (first > 1 && is_arg(parts[first - 1])) --first;  // the first segment is the family
  std::string out;
  for (std::size_t i = first; i < parts.size(); ++i) out += (out.empty() ? "" : "/") + parts[i];
  return out;
}

// Google Benchmark's time units, as nanoseconds.
constexpr Named<double> kTimeUnitRows[] = {{"ns", 1}, {"us", 1e3}, {"ms", 1e6}, {"s", 1e9}};
constexpr NameTable<Named<double>> kTimeUnits{"time unit", kTimeUnitRows};

double to_ns(double t, const std::string& unit) {
  return t * kTimeUnits.parse(unit, "time_unit").value;
}

}  // namespace

Grid bench_ratios(const std::string& path, const std::string& peer) {
  check_input_file(path, "a benchmark JSON file");
  std::ifstream in(path);
  if (!in) throw error(path, ": cannot open the benchmark file");
  const json j = json::parse(in, nullptr, false);
  if (j.is_discarded() || !j.is_object() || !j.contains("benchmarks") ||
      !j.at("benchmarks").is_array())
    throw error(path,
                ": not a Google Benchmark JSON file (no \"benchmarks\" array; write one "
                "with --benchmark_out=FILE --benchmark_out_format=json)");
  std::regex re;
  try {
    re = std::regex(peer);
  } catch (const std::regex_error& e) {
    throw error("--peer: not a regular expression: '", peer, "' (", e.what(), ")");
  }

  bool has_mean = false;
  for (const auto& b : j.at("benchmarks"))
    has_mean |= b.value("run_type", "") == "aggregate" && b.value("aggregate_name", "") == "mean";
  std::vector<BenchRow> rows;
  for (const auto& b : j.at("benchmarks")) {
    const bool agg = b.value("run_type", "iteration") == "aggregate";
    if (has_mean ? !(agg && b.value("aggregate_name", "") == "mean") : agg) continue;
    if (!b.contains("real_time") || !b.contains("name")) continue;  // errored runs
    const std::string unit = b.value("time_unit", "ns");
    // Aggregates are named "<run_name>_mean": pair by run_name.
    rows.push_back({b.value("run_name", b.at("name").get<std::string>()), unit,
                    b.at("real_time").get<double>()});
  }
  std::vector<const BenchRow*> peers;
  for (const auto& r : rows)
    if (std::regex_search(r.name, re)) peers.push_back(&r);
  if (peers.empty()) throw error("--peer: '", peer, "' matches no benchmark in ", path);

  Grid g;
  g.name = "bench";
  g.title = "Benchmarks of " + path + " against peer rows matching '" + peer + "'";
  g.note =
      "ratio = peer time / time: above 1 the row is faster than its peer (same run, same "
      "arguments)";
  g.header = {"benchmark", "time", "peer", "peer time", "ratio"};
  auto time_text = [](const BenchRow& r) { return fixed(r.time, 3) + " " + r.unit; };
  for (const auto& r : rows) {
    if (std::regex_search(r.name, re)) continue;
    const BenchRow* p = nullptr;
    if (peers.size() == 1) {
      p = peers.front();
    } else {
      for (const BenchRow* c : peers)
        if (arguments(c->name) == arguments(r.name)) p = c;
    }
    if (!p) {
      g.rows.push_back({r.name, time_text(r), "", ""});
      continue;
    }
    const double ratio = to_ns(p->time, p->unit) / to_ns(r.time, r.unit);
    g.rows.push_back({r.name, time_text(r), p->name, time_text(*p), fixed(ratio, 2) + "x"});
  }
  return g;
}

}  // namespace qb::analysis
