// qbench report: tables from a small synthetic merged results file written here in the
// documented layout (docs/results-format.md) through the HDF5 wrappers; exact text in all
// three formats (mean, std, n, Δ, missing cells marked); refusals naming the key or file.
#include "analysis/plots.h"
#include "analysis/render.h"
#include "analysis/results.h"
#include "analysis/spec.h"
#include "analysis/table.h"
#include "engine/check.h"
#include "engine/io/hdf5.h"
#include "tests/support.h"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>

using namespace qb;
using namespace qb::analysis;
using qb::test::TempDir;
namespace fs = std::filesystem;

namespace {

struct Synthetic {
  std::string method, options;
  int wbits, abits;
  std::int64_t seed;
  double test_acc;
};

// fp32: 90, 91, 92 -> 91.00 ± 1.00; minmax W8A8: 89.5, 90.5; minmax W4A4: 85 (one seed);
// alt W8A8: 91 three times; alt W4A4: no cell (missing). 9 of 10 cells merged.
const Synthetic kRows[] = {
    {"fp32", "{}", 32, 32, 1, 0.90},  {"fp32", "{}", 32, 32, 2, 0.91},
    {"fp32", "{}", 32, 32, 3, 0.92},  {"minmax", "{}", 8, 8, 1, 0.895},
    {"minmax", "{}", 8, 8, 2, 0.905}, {"minmax", "{}", 4, 4, 1, 0.85},
    {"alt", "{}", 8, 8, 1, 0.91},     {"alt", "{}", 8, 8, 2, 0.91},
    {"alt", "{}", 8, 8, 3, 0.91},
};

// `first_wbits`: when not 0, the first row's wbits (a damaged file's value).
std::string write_synthetic(const std::string& path, std::int64_t first_wbits = 0) {
  h5::File f = h5::File::create(path);
  h5::Group root = f.root();
  root.set_attr("format", std::string("qbench-results"));
  root.set_attr("schema_version", std::int64_t(1));
  root.set_attr("sweep_hash", std::string("0123456789abcdef"));
  root.set_attr("sweep_name", std::string("synthetic"));
  root.set_attr("cells_expected", std::int64_t(10));
  root.set_attr("cells_merged", std::int64_t(std::size(kRows)));
  root.write("sweep", std::string("{}"));
  std::vector<std::string> key, net, method, dataset, gran, fl, options, commit;
  std::vector<std::int64_t> wbits, abits, gbits, seed, threads;
  std::vector<double> acc, other;
  h5::Group cells = root.create_group("cells");
  for (std::size_t i = 0; i < std::size(kRows); ++i) {
    const auto& r = kRows[i];
    key.push_back("00000000000000" + std::to_string(10 + i));
    net.push_back("lenet5");
    method.push_back(r.method);
    dataset.push_back("fashion-mnist");
    gran.push_back("tensor");
    fl.push_back(r.method == "fp32" ? "same" : "8");
    options.push_back(r.options);
    commit.push_back("test");
    wbits.push_back(r.wbits);
    abits.push_back(r.abits);
    gbits.push_back(32);
    seed.push_back(r.seed);
    threads.push_back(1);
    acc.push_back(r.test_acc);
    other.push_back(1.0);
    h5::Group c = cells.create_group(key.back());
    h5::Group curves = c.create_group("curves");
    curves.write_doubles("epoch", {1, 2});
    curves.write_doubles("val_accuracy", {r.test_acc - 0.01, r.test_acc});
    c.write("summary", std::string(R"({"parameters": 61706})"));
  }
  if (first_wbits) wbits.front() = first_wbits;
  h5::Group s = root.create_group("summary");
  s.write_strings("key", key);
  s.write_strings("net", net);
  s.write_strings("method", method);
  s.write_strings("dataset", dataset);
  s.write_strings("granularity", gran);
  s.write_strings("first_last", fl);
  s.write_strings("options", options);
  s.write_strings("qbench_commit", commit);
  s.write_ints("wbits", wbits);
  s.write_ints("abits", abits);
  s.write_ints("gbits", gbits);
  s.write_ints("seed", seed);
  s.write_ints("threads", threads);
  s.write_doubles("test_acc", acc);
  for (const char* k : {"val_acc", "test_loss", "val_loss", "epochs", "seconds", "train_seconds"})
    s.write_doubles(k, other);
  f.close();
  return path;
}

Table default_table(const std::string& file) {
  const Results r = read_results(file);
  const auto specs = default_specs(r, "synthetic");
  REQUIRE(specs.size() == 1);
  return build_table(r, specs.front());
}

}  // namespace

TEST_CASE("default table aggregates seeds and marks missing cells", "[report]") {
  TempDir tmp;
  const Table t = default_table(write_synthetic((tmp.path / "s.h5").string()));
  REQUIRE(t.spec.rows.size() == 2);  // minmax, alt: the fp32 baseline is not a row
  REQUIRE(t.spec.columns.size() == 2);
  CHECK(t.baseline.n == 3);
  CHECK(t.baseline.mean == Approx(91.0));
  CHECK(t.baseline.std == Approx(1.0));
  CHECK(t.cells[0][0].n == 2);
  CHECK(t.cells[0][0].std == Approx(std::sqrt(0.5)));
  CHECK(t.delta(0, 1) == Approx(-6.0));
  CHECK(t.cells[1][1].missing());
}

TEST_CASE("report text is exact in markdown", "[report]") {
  TempDir tmp;
  const Table t = default_table(write_synthetic((tmp.path / "s.h5").string()));
  CHECK(render(t, Format::md) ==
        "### synthetic: test accuracy (%), lenet5 on fashion-mnist\n\n"
        "Mean ± sample std over seeds (n); Δ: difference to the baseline fp32 = 91.00 ± 1.00 "
        "(n=3). —: no finished cell. The sweep is unfinished: 9 of 10 cells merged.\n\n"
        "| method | W8A8 | W4A4 |\n"
        "|---|---|---|\n"
        "| minmax | 90.00 ± 0.71 (n=2), Δ -1.00 | 85.00 (n=1), Δ -6.00 |\n"
        "| alt | 91.00 ± 0.00 (n=3), Δ +0.00 | — |\n");
}

TEST_CASE("report text is exact in CSV", "[report]") {
  TempDir tmp;
  const Table t = default_table(write_synthetic((tmp.path / "s.h5").string()));
  CHECK(render(t, Format::csv) ==
        "table,row,column,metric,n,mean,std,delta,status\n"
        "synthetic,fp32,baseline,test_acc,3,91.0000,1.0000,,ok\n"
        "synthetic,minmax,W8A8,test_acc,2,90.0000,0.7071,-1.0000,ok\n"
        "synthetic,minmax,W4A4,test_acc,1,85.0000,,-6.0000,ok\n"
        "synthetic,alt,W8A8,test_acc,3,91.0000,0.0000,+0.0000,ok\n"
        "synthetic,alt,W4A4,test_acc,0,,,,missing\n");
}

TEST_CASE("report text is exact in LaTeX", "[report]") {
  TempDir tmp;
  const std::string file = write_synthetic((tmp.path / "s.h5").string());
  const Table t = default_table(file);
  CHECK(render(t, Format::tex) ==
        "% generated by `qbench report` from " + file +
            "\n"
            "\\begin{table}[ht]\n\\centering\n"
            "\\caption{synthetic: test accuracy (\\%), lenet5 on fashion-mnist. Mean $\\pm$ sample "
            "std over seeds (n); $\\Delta$: difference to the baseline fp32 = $91.00 \\pm 1.00$ "
            "(n=3). ---: no finished cell. The sweep is unfinished: 9 of 10 cells merged.}\n"
            "\\label{tab:synthetic}\n"
            "\\begin{tabular}{lcc}\n\\hline\n"
            "method & W8A8 & W4A4 \\\\\n\\hline\n"
            "minmax & $90.00 \\pm 0.71$ (n=2), $\\Delta\\,{-1.00}$ & $85.00$ (n=1), "
            "$\\Delta\\,{-6.00}$ \\\\\n"
            "alt & $91.00 \\pm 0.00$ (n=3), $\\Delta\\,{+0.00}$ & --- \\\\\n"
            "\\hline\n\\end{tabular}\n\\end{table}\n");
}

TEST_CASE("a spec picks rows and columns and escapes their names", "[report]") {
  TempDir tmp;
  const Results r = read_results(write_synthetic((tmp.path / "s.h5").string()));
  const TableSpec spec = parse_spec(nlohmann::json::parse(R"({
    "schema": 1, "name": "picked", "network": "lenet5", "metric": "test_acc",
    "baseline": {"method": "fp32"},
    "rows": [{"label": "ALT, 50% & a_b | c", "method": "alt"}, {"method": "oaq"}],
    "columns": [{"label": "W8A8", "wbits": 8, "abits": 8}]})"),
                                    "picked.json");
  const Table t = build_table(r, spec);
  CHECK(t.cells[1][0].missing());  // a method with no results stays as a row of gaps
  const std::string md = render(t, Format::md);
  CHECK(md.find("| ALT, 50% & a_b \\| c | 91.00") != std::string::npos);
  CHECK(md.find("| oaq | — |") != std::string::npos);
  CHECK(render(t, Format::csv).find("picked,\"ALT, 50% & a_b | c\",W8A8,") != std::string::npos);
  CHECK(render(t, Format::tex).find("ALT, 50\\% \\& a\\_b \\textbar{} c & $91.00") !=
        std::string::npos);
}

TEST_CASE("bad specs and files are refused naming the key or file", "[report]") {
  TempDir tmp;
  const std::string file = write_synthetic((tmp.path / "s.h5").string());
  auto spec_error = [&](const char* text) {
    try {
      build_table(read_results(file), parse_spec(nlohmann::json::parse(text), "t.json"));
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  CHECK(spec_error(R"({"schema": 1, "rows": [{"metod": "alt"}], "columns": [{"wbits": 8}]})") ==
        "t.json: rows[0].metod: unknown key (did you mean 'method'?)");
  // Every problem at once, one per line.
  CHECK(spec_error(R"({"schema": 2, "rows": [{"metod": "alt"}], "columns": [{"wbit": 8}]})") ==
        "t.json: schema: expected 1 (the spec format's version)\n"
        "t.json: rows[0].metod: unknown key (did you mean 'method'?)\n"
        "t.json: columns[0].wbit: unknown key (did you mean 'wbits'?)");
  CHECK(spec_error(R"({"schema": 1, "metric": "top5", "rows": [{}], "columns": [{}]})")
            .find("t.json: metric: unknown metric 'top5'") == 0);
  CHECK(spec_error(R"({"schema": 1, "rows": [], "columns": [{}]})") ==
        "t.json: rows: expected a non-empty array of filters");
  CHECK(spec_error(R"({"schema": 1, "network": "lenet", "rows": [{}], "columns": [{}]})")
            .find("network: 'lenet' has no results") != std::string::npos);
  CHECK(spec_error(R"({"schema": 1, "rows": [{"wbits": 8}], "columns": [{}]})")
            .find("two results for seed 1") != std::string::npos);

  const std::string missing = (tmp.path / "nope.h5").string();
  CHECK_THROWS_WITH(read_results(missing), missing + ": no such file");
  const std::string cell = (tmp.path / "cell.h5").string();
  {
    h5::File f = h5::File::create(cell);
    f.root().set_attr("format", std::string("qbench-cell"));
  }
  CHECK_THROWS_WITH(read_results(cell),
                    Catch::Contains("not a merged results file") && Catch::Contains("qbench-cell"));
  CHECK_THROWS_WITH(load_spec(missing), missing + ": file not found, expected a table spec file");
  // An integer column beyond its field's type (fuzz_results found the conversion's UB).
  const std::string huge = write_synthetic((tmp.path / "huge.h5").string(), std::int64_t(1) << 61);
  CHECK_THROWS_WITH(read_results(huge), Catch::Contains("/summary/wbits row 0 holds") &&
                                            Catch::Contains("not an integer its column can hold"));
}

TEST_CASE("plots are written and non-empty when gnuplot is present", "[report]") {
  if (!gnuplot_available()) {
    WARN("gnuplot not installed: plot test skipped");
    return;
  }
  TempDir tmp;
  const std::string file = write_synthetic((tmp.path / "s.h5").string());
  const Results r = read_results(file);
  const Table t = build_table(r, default_specs(r, "synthetic").front());
  const PlotOutcome p = write_plots(t, r, (tmp.path / "plots").string());
  CHECK(p.skipped.empty());
  REQUIRE(p.files.size() == 6);
  for (const auto& f : p.files) {
    INFO(f);
    CHECK(fs::file_size(f) > 1000);
  }
  CHECK(fs::exists(tmp.path / "plots" / "synthetic-acc-vs-bits.png"));
  CHECK(fs::exists(tmp.path / "plots" / "synthetic-pareto.svg"));
  CHECK(fs::exists(tmp.path / "plots" / "synthetic-curves.png"));
}
