// `qbench report RESULTS.h5 [--spec FILE] --format md|csv|tex [--plots DIR] [--claims]`:
// comparison tables (and plots) regenerated from a merged results file; and
// `qbench report --bench FILE.json --peer REGEX`: Google Benchmark output as ratios against
// peer rows of the same run; `qbench report RESULTS.h5 --integer`: the integer-inference
// tables (accuracy per accumulator model, per-layer overflows); `qbench report A.h5 B.h5 ...
// --papers`: one table per paper, its claims judged on the cells of every file. The work is in
// analysis/; this file only wires flags to it.
#include "analysis/bench.h"
#include "analysis/claims.h"
#include "analysis/integer_table.h"
#include "analysis/plots.h"
#include "analysis/render.h"
#include "analysis/results.h"
#include "analysis/spec.h"
#include "analysis/table.h"
#include "analysis/verdicts.h"
#include "analysis/widths.h"
#include "apps/commands.h"
#include "engine/check.h"
#include "engine/io/input_file.h"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <memory>

#ifndef QB_CLAIMS_DIR
#define QB_CLAIMS_DIR "analysis/claims"
#endif

namespace qb::app {
namespace {

struct ReportArgs {
  std::vector<std::string> results;  // one file; several only with --papers
  std::string spec, format = "md", plots, bench, peer;
  std::string claims_dir = QB_CLAIMS_DIR;
  bool claims = false, integer = false, papers = false;
};

// --papers: one table per paper, its claims judged on the cells of every file together.
std::string paper_tables(const ReportArgs& a, analysis::Format fmt) {
  if (a.results.empty() || !a.spec.empty() || a.claims || a.integer || !a.plots.empty() ||
      !a.bench.empty())
    throw error(
        "--papers: give merged results files, and neither --spec, --claims, --integer, "
        "--plots nor --bench");
  check_folder(a.claims_dir, "a folder of claims", /*may_be_created=*/false);
  std::vector<analysis::Results> files;
  for (const std::string& path : a.results) files.push_back(analysis::read_results(path));
  const analysis::Results all = analysis::combine_results(files);
  std::string out;
  const auto tests = analysis::load_claim_tests(a.claims_dir);
  for (const analysis::Grid& g : analysis::verdicts_by_paper(analysis::evaluate(tests, all)))
    out += (out.empty() ? "" : "\n") + analysis::render(g, fmt);
  return out;
}

int report(const ReportArgs& a) {
  const analysis::Format fmt = analysis::format_named(a.format);
  if (a.papers) {
    const std::string out = paper_tables(a, fmt);
    std::fputs(out.c_str(), stdout);
    return 0;
  }
  if (a.results.empty() && a.bench.empty())
    throw error("report: give a merged results file (RESULTS.h5) or --bench FILE.json");
  if (a.results.size() > 1)
    throw error("report: several results files only with --papers (a table reads one file)");
  if (!a.bench.empty() && a.peer.empty())
    throw error("--peer: required with --bench (a regex naming the peer rows, e.g. '^copy/')");
  if (a.integer && (a.results.empty() || !a.spec.empty() || a.claims || !a.plots.empty()))
    throw error("--integer: give a merged results file, and neither --spec, --claims nor --plots");
  if (!a.plots.empty()) check_folder(a.plots, "a folder for the plots", /*may_be_created=*/true);
  if (a.claims) check_folder(a.claims_dir, "a folder of claims", /*may_be_created=*/false);
  std::string out;
  if (!a.bench.empty()) out += analysis::render(analysis::bench_ratios(a.bench, a.peer), fmt);
  if (a.integer) {
    // Each table whole (CSV: each with its header), one empty line between them.
    for (const analysis::Grid& g : analysis::integer_tables(a.results.front()))
      out += (out.empty() ? "" : "\n") + analysis::render(g, fmt);
  } else if (!a.results.empty()) {
    const analysis::Results results = analysis::read_results(a.results.front());
    const std::vector<analysis::TableSpec> specs =
        a.spec.empty() ? analysis::default_specs(
                             results, std::filesystem::path(a.results.front()).stem().string())
                       : std::vector<analysis::TableSpec>{analysis::load_spec(a.spec)};
    if (specs.empty())
      std::fprintf(stderr, "%s: no finished cells yet\n", a.results.front().c_str());
    bool first = out.empty();
    for (const auto& spec : specs) {
      const analysis::Table t = analysis::build_table(results, spec);
      std::string text = analysis::render(t, fmt);
      // One CSV stream: the header only once.
      if (fmt == analysis::Format::csv && !first) text.erase(0, text.find('\n') + 1);
      out += (first || fmt == analysis::Format::csv ? "" : "\n") + text;
      first = false;
      if (a.claims) {
        std::vector<std::string> methods;
        for (const auto& r : spec.rows)
          if (r.method && std::find(methods.begin(), methods.end(), *r.method) == methods.end())
            methods.push_back(*r.method);
        const std::string ours = (spec.network.empty() ? "all networks" : spec.network) + " on " +
                                 (spec.dataset.empty() ? "all datasets" : spec.dataset);
        // CSV: the claims follow as a second CSV, after one empty line.
        out += "\n" + analysis::render(analysis::claims_table(a.claims_dir, methods, ours), fmt);
      }
      if (!a.plots.empty()) {
        const analysis::PlotOutcome p = analysis::write_plots(t, results, a.plots);
        if (!p.skipped.empty()) std::fprintf(stderr, "qbench report: %s\n", p.skipped.c_str());
        for (const auto& f : p.files) std::fprintf(stderr, "wrote %s\n", f.c_str());
      }
    }
    if (!a.plots.empty()) {  // APT's widths per layer over training, for each APT cell
      const analysis::PlotOutcome p = analysis::write_width_plots(results, a.plots);
      if (!p.skipped.empty()) std::fprintf(stderr, "qbench report: %s\n", p.skipped.c_str());
      for (const auto& f : p.files) std::fprintf(stderr, "wrote %s\n", f.c_str());
    }
    if (a.claims) {  // the verdicts, computed from every cell of the file (CSV: a third CSV)
      const auto tests = analysis::load_claim_tests(a.claims_dir);
      out += "\n" +
             analysis::render(analysis::verdicts_table(analysis::evaluate(tests, results)), fmt);
    }
  }
  std::fputs(out.c_str(), stdout);
  return 0;
}

}  // namespace

Run add_report(CLI::App& app) {
  auto a = std::make_shared<ReportArgs>();
  auto* cmd = app.add_subcommand(
      "report", "Comparison tables and plots from a merged results file (or benchmark JSON)");
  cmd->add_option("results", a->results,
                  "Merged results file (qbench merge); with --papers, one or more");
  cmd->add_option("--spec", a->spec,
                  "Table spec (analysis/tables/*.json); default: every method x every W/A");
  cmd->add_option("--format", a->format, one_of("Table format", analysis::kFormats.names()))
      ->capture_default_str();
  cmd->add_option("--plots", a->plots,
                  "Write SVG and PNG plots (gnuplot) into this folder (APT: widths per layer too)");
  cmd->add_flag("--integer", a->integer,
                "Integer-inference tables: top-1 per accumulator model, per-layer overflows");
  cmd->add_flag("--claims", a->claims,
                "The papers' claims after each table, then each claim's verdict on these cells");
  cmd->add_flag("--papers", a->papers,
                "One table per paper: its claims with their verdicts on the cells of every file");
  cmd->add_option("--claims-dir", a->claims_dir, "Folder of <method>.json claims")
      ->capture_default_str();
  cmd->add_option("--bench", a->bench, "Google Benchmark JSON (--benchmark_out) to tabulate");
  cmd->add_option("--peer", a->peer, "With --bench: regex naming the peer rows to divide by");
  return [a] { return report(*a); };
}

}  // namespace qb::app
