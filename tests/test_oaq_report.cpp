// The OAQ table (analysis/tables/oaq-lenet5.json) on a synthetic merged results file: every
// method × W8A8/W8A7 row takes its own cells, each column its own quantity (fake-quant top-1,
// integer top-1 per accumulator model, overflow rate per 16-bit model), seeds averaged, models
// a cell did not run shown as gaps; the plot of accuracy against overflow rate is written.
#include "analysis/plots.h"
#include "analysis/render.h"
#include "analysis/results.h"
#include "analysis/spec.h"
#include "analysis/table.h"
#include "engine/io/hdf5.h"
#include "tests/support.h"

#include <catch2/catch.hpp>

#include <filesystem>
#include <map>

using namespace qb;
using namespace qb::analysis;
namespace fs = std::filesystem;

namespace {

struct Cell {
  std::string method, options;
  std::int64_t abits, seed;
  // 0..4: int32, wrap, saturate, pair-wrap, lanes (NaN: not run); rates for the 16-bit ones.
  double test_acc, acc[5], rate[4];
};

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
const char* const kModels[] = {"int32", "wrap", "saturate", "pair_wrap", "lanes"};

// OAQ α W8A7: top-1 wrap 0.88 and 0.90 over two seeds (89.00 ± 1.41), overflow rate under
// pair-wrap 0 and 0.0002 (0.01 ± 0.01 %). minmax W8A8 overflows: wrap top-1 0.5, rate 0.3.
// OAQ clamp ran no lanes model (a gap). The oaq options tell the paper's α rule (λ 0.01) from
// the λ 1 variant and from clamp.
const Cell kCells[] = {
    {"minmax", "{}", 8, 1, 0.90, {0.90, 0.50, 0.60, 0.55, 0.52}, {0.30, 0.30, 0.28, 0.29}},
    {"minmax", "{}", 8, 2, 0.90, {0.90, 0.50, 0.60, 0.55, 0.52}, {0.30, 0.30, 0.28, 0.29}},
    {"minmax", "{}", 7, 1, 0.89, {0.89, 0.70, 0.75, 0.80, 0.85}, {0.10, 0.10, 0.05, 0.02}},
    {"oaq",
     R"({"acc_bits":16,"lambda":0.01,"period":10,"rule":"alpha"})",
     7,
     1,
     0.89,
     {0.89, 0.88, 0.88, 0.89, 0.89},
     {0.001, 0.001, 0.0, 0.0}},
    {"oaq",
     R"({"acc_bits":16,"lambda":0.01,"period":10,"rule":"alpha"})",
     7,
     2,
     0.91,
     {0.91, 0.90, 0.90, 0.91, 0.91},
     {0.001, 0.001, 0.0002, 0.0}},
    {"oaq",
     R"({"acc_bits":16,"lambda":1,"period":1,"rule":"alpha"})",
     8,
     1,
     0.86,
     {0.86, 0.85, 0.85, 0.85, 0.86},
     {0.002, 0.002, 0.002, 0.0}},
    {"oaq",
     R"({"acc_bits":16,"rule":"clamp"})",
     8,
     1,
     0.88,
     {0.88, 0.88, 0.88, 0.88, kNaN},
     {0.0, 0.0, 0.0, kNaN}},
    {"a2q", R"({"acc_bits":16})", 8, 1, 0.87, {0.87, 0.87, 0.87, 0.87, 0.87}, {0.0, 0.0, 0.0, 0.0}},
};

std::string write_cells(const std::string& path) {
  h5::File f = h5::File::create(path);
  h5::Group root = f.root();
  root.set_attr("format", std::string("qbench-results"));
  root.set_attr("schema_version", std::int64_t(1));
  root.set_attr("sweep_hash", std::string("0123456789abcdef"));
  root.set_attr("sweep_name", std::string("oaq-synthetic"));
  root.set_attr("cells_expected", std::int64_t(std::size(kCells)));
  root.set_attr("cells_merged", std::int64_t(std::size(kCells)));
  root.write("sweep", std::string("{}"));
  std::map<std::string, std::vector<std::string>> text;
  std::map<std::string, std::vector<std::int64_t>> ints;
  std::map<std::string, std::vector<double>> reals;
  h5::Group cells = root.create_group("cells");
  for (std::size_t i = 0; i < std::size(kCells); ++i) {
    const Cell& c = kCells[i];
    text["key"].push_back("00000000000000" + std::to_string(10 + i));
    text["net"].push_back("lenet5");
    text["method"].push_back(c.method);
    text["dataset"].push_back("fashion-mnist");
    text["granularity"].push_back("tensor");
    text["first_last"].push_back("fp32");
    text["options"].push_back(c.options);
    text["qbench_commit"].push_back("test");
    ints["wbits"].push_back(8);
    ints["abits"].push_back(c.abits);
    ints["gbits"].push_back(32);
    ints["seed"].push_back(c.seed);
    ints["threads"].push_back(1);
    reals["test_acc"].push_back(c.test_acc);
    for (const char* k : {"val_acc", "test_loss", "val_loss", "epochs", "seconds", "train_seconds"})
      reals[k].push_back(1.0);
    for (int m = 0; m < 5; ++m) reals[std::string("int_acc_") + kModels[m]].push_back(c.acc[m]);
    for (int m = 0; m < 4; ++m)
      reals[std::string("int_rate_") + kModels[m + 1]].push_back(c.rate[m]);
    cells.create_group(text["key"].back()).write("summary", std::string(R"({"parameters": 1})"));
  }
  h5::Group s = root.create_group("summary");
  for (const auto& [k, v] : text) s.write_strings(k, v);
  for (const auto& [k, v] : ints) s.write_ints(k, v);
  for (const auto& [k, v] : reals) s.write_doubles(k, v);
  f.close();
  return path;
}

const TableSpec& oaq_spec() {
  static const TableSpec spec =
      load_spec(std::string(QB_SOURCE_DIR) + "/analysis/tables/oaq-lenet5.json");
  return spec;
}

std::size_t column(const std::string& label) {
  const auto& cols = oaq_spec().columns;
  for (std::size_t c = 0; c < cols.size(); ++c)
    if (cols[c].label == label) return c;
  FAIL("no column " << label);
  return 0;
}

}  // namespace

TEST_CASE("the OAQ table puts each method, bits and quantity in its cell", "[report][oaq]") {
  test::TempDir tmp;
  const Results r = read_results(write_cells((tmp.path / "oaq.h5").string()));
  const Table t = build_table(r, oaq_spec());
  REQUIRE(t.spec.rows.size() == 10);  // minmax, OAQ α (λ 0.01, λ 1), OAQ clamp, A2Q × W8A8, W8A7
  // rows: 0 minmax A8, 1 minmax A7, 2 α A8, 3 α A7, 4 α λ1 A8, 5 α λ1 A7, 6 clamp A8,
  // 7 clamp A7, 8 A2Q A8, 9 A2Q A7
  const Aggregate& alpha_wrap = t.cells[3][column("top-1 wrap")];
  CHECK(alpha_wrap.n == 2);
  CHECK(alpha_wrap.mean == Approx(89.0));
  CHECK(alpha_wrap.std == Approx(1.41421356));
  CHECK(t.cells[3][column("overflow % pair-wrap")].mean == Approx(0.01));
  CHECK(t.cells[4][column("top-1 wrap")].n == 1);  // λ 1 has its own row
  CHECK(t.cells[4][column("top-1 wrap")].mean == Approx(85.0));
  CHECK(t.cells[5][column("fake-quant")].missing());
  CHECK(t.cells[0][column("top-1 wrap")].mean == Approx(50.0));
  CHECK(t.cells[0][column("overflow % wrap")].mean == Approx(30.0));
  CHECK(t.cells[0][column("fake-quant")].mean == Approx(90.0));
  CHECK(t.cells[1][column("top-1 lanes")].mean == Approx(85.0));
  CHECK(t.cells[6][column("top-1 lanes")].missing());  // the cell ran no lanes model
  CHECK(t.cells[6][column("top-1 int32")].n == 1);
  CHECK(t.cells[2][column("top-1 int32")].missing());  // no α W8A8 cell
  CHECK(t.cells[8][column("overflow % lanes")].mean == 0.0);
  CHECK(t.cells[9][column("fake-quant")].missing());

  const std::string md = render(t, Format::md);
  CHECK(md.find("| OAQ α (paper: λ 0.01 per 10 steps) W8A7 | 90.000 ± 1.414 (n=2) | 90.000 ± 1.414 "
                "(n=2) | 89.000 ± 1.414 (n=2) |") != std::string::npos);
  CHECK(md.find("overflow % pair-wrap = overflow rate, pair-wrap (% of dot products)") !=
        std::string::npos);
  CHECK(md.find("Δ") == std::string::npos);  // no baseline, and no Δ across quantities
  CHECK(render(t, Format::csv)
            .find("oaq-lenet5,OAQ α (paper: λ 0.01 per 10 steps) W8A7,top-1 "
                  "wrap,int_acc_wrap,2,89.00000,") != std::string::npos);

  if (!gnuplot_available()) {
    WARN("gnuplot not installed: the accuracy vs overflow plot is not checked");
    return;
  }
  const PlotOutcome p = write_plots(t, r, (tmp.path / "plots").string());
  REQUIRE(p.files.size() == 2);  // svg and png; no plots along bit-widths
  CHECK(fs::file_size(tmp.path / "plots" / "oaq-lenet5-acc-vs-overflow.svg") > 1000);
  CHECK(fs::exists(tmp.path / "plots" / "oaq-lenet5-acc-vs-overflow.png"));
}

TEST_CASE("only a table's columns may name their own metric", "[report]") {
  auto problem = [](const char* text) {
    try {
      parse_spec(nlohmann::json::parse(text), "t.json");
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  CHECK(problem(R"({"schema": 1, "rows": [{"metric": "int_acc_wrap"}], "columns": [{}]})") ==
        "t.json: rows[0].metric: only a column may name its own metric");
  CHECK(problem(R"({"schema": 1, "baseline": {"metric": "test_acc"}, "rows": [{}],
                    "columns": [{}]})") ==
        "t.json: baseline.metric: only a column may name its own metric");
  CHECK(problem(R"({"schema": 1, "rows": [{}], "columns": [{"metric": "int_acc_wrapp"}]})")
            .find("t.json: columns[0].metric: unknown metric 'int_acc_wrapp'") == 0);
  CHECK(problem(R"({"schema": 1, "rows": [{}], "columns": [{"metric": "int_rate_lanes"}]})") ==
        "no error");
}
