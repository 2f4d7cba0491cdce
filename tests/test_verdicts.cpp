// The papers' claims as relations with computed verdicts (analysis/verdicts.h): the rule on
// crafted differences, every verdict reached from synthetic cells, the claims files in the tree
// all parse, and a malformed test is refused naming its key path.
#include "analysis/verdicts.h"
#include "engine/check.h"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

using namespace qb;
using namespace qb::analysis;
using json = nlohmann::json;

namespace {

ResultRow cell(const std::string& net, const std::string& method, int wbits, int abits,
               std::int64_t seed, double test_acc, const std::string& options = "{}") {
  ResultRow r;
  r.key =
      net + method + std::to_string(wbits) + std::to_string(abits) + std::to_string(seed) + options;
  r.net = net;
  r.method = method;
  r.dataset = "fashion-mnist";
  r.options = options;
  r.wbits = wbits;
  r.abits = abits;
  r.seed = seed;
  r.values["test_acc"] = test_acc;
  return r;
}

// "ALT W8A8 within 1 point of FP32" on lenet5: Δ per seed in points.
Results alt_vs_fp32(const std::vector<double>& deltas_in_points) {
  Results r;
  for (std::size_t s = 0; s < deltas_in_points.size(); ++s) {
    r.rows.push_back(cell("lenet5", "fp32", 32, 32, std::int64_t(s + 1), 0.90));
    r.rows.push_back(
        cell("lenet5", "alt", 8, 8, std::int64_t(s + 1), 0.90 + deltas_in_points[s] / 100));
  }
  return r;
}

const json kAltTest = json::parse(R"([{
  "id": "alt-w8a8-fp32", "claim": "ALT W8A8 within 1 point of FP32", "source": "README",
  "tag": "official-code", "theirs": {"network": "resnet_v1_50", "numbers": "75.4 vs 75.4"},
  "a": {"method": "alt", "wbits": 8, "abits": 8}, "b": {"method": "fp32"},
  "delta": {"min": -1.0}}])");

Verdict verdict_of(const json& tests, const Results& r) {
  const auto parsed = parse_claim_tests(tests, "alt", "t.json");
  return evaluate(parsed, r).at(0).verdict;
}

}  // namespace

TEST_CASE("verdict rule: every seed must satisfy the relation, none for a contradiction",
          "[claims]") {
  CHECK(judge({}, -1.0, std::nullopt) == Verdict::no_cells);
  CHECK(judge({0.5}, -1.0, std::nullopt) == Verdict::inconclusive);  // one seed decides nothing
  CHECK(judge({0.5, -0.9}, -1.0, std::nullopt) == Verdict::supported);
  CHECK(judge({-1.0, -1.0}, -1.0, std::nullopt) == Verdict::supported);  // bounds inclusive
  CHECK(judge({-1.5, -2.0}, -1.0, std::nullopt) == Verdict::contradicted);
  CHECK(judge({-1.5, 0.2}, -1.0, std::nullopt) == Verdict::inconclusive);
  CHECK(judge({1.4, 0.0}, -1.4, 1.3) == Verdict::inconclusive);
  CHECK(judge({1.4, 1.5}, -1.4, 1.3) == Verdict::contradicted);
  CHECK(judge({-1.4, 1.3}, -1.4, 1.3) == Verdict::supported);
  CHECK(combine({Verdict::supported, Verdict::supported}) == Verdict::supported);
  CHECK(combine({Verdict::supported, Verdict::contradicted}) == Verdict::contradicted);
  CHECK(combine({Verdict::supported, Verdict::no_cells}) == Verdict::inconclusive);
  CHECK(combine({Verdict::no_cells, Verdict::no_cells}) == Verdict::no_cells);
  CHECK(combine({Verdict::inconclusive, Verdict::supported}) == Verdict::inconclusive);
}

TEST_CASE("claims verdicts come out each way from synthetic cells", "[claims]") {
  CHECK(verdict_of(kAltTest, alt_vs_fp32({-0.2, 0.3, -0.9})) == Verdict::supported);
  CHECK(verdict_of(kAltTest, alt_vs_fp32({-1.5, -3.0, -1.1})) == Verdict::contradicted);
  CHECK(verdict_of(kAltTest, alt_vs_fp32({-1.5, 0.3, -0.2})) == Verdict::inconclusive);
  CHECK(verdict_of(kAltTest, alt_vs_fp32({-0.2})) == Verdict::inconclusive);

  // No ALT cells at all; or ALT without a baseline of the same seed.
  Results only_fp32;
  only_fp32.rows.push_back(cell("lenet5", "fp32", 32, 32, 1, 0.9));
  CHECK(verdict_of(kAltTest, only_fp32) == Verdict::no_cells);
  Results unpaired;
  unpaired.rows.push_back(cell("lenet5", "fp32", 32, 32, 1, 0.9));
  unpaired.rows.push_back(cell("lenet5", "alt", 8, 8, 2, 0.9));
  CHECK(verdict_of(kAltTest, unpaired) == Verdict::no_cells);

  // A failed or NaN cell is not a seed.
  Results nan_cell = alt_vs_fp32({-0.2, 0.3});
  nan_cell.rows.push_back(cell("lenet5", "fp32", 32, 32, 3, 0.9));
  nan_cell.rows.push_back(cell("lenet5", "alt", 8, 8, 3, std::nan("")));
  const auto r = evaluate(parse_claim_tests(kAltTest, "alt", ""), nan_cell);
  CHECK(r.at(0).comparisons.at(0).seeds == std::vector<std::int64_t>{1, 2});
  CHECK(r.at(0).verdict == Verdict::supported);
}

TEST_CASE("claims: networks are judged apart, each entry is its own comparison", "[claims]") {
  // Ternary beats binary: true on lenet5 for both granularities, false on resnet20 for one.
  const json t = json::parse(R"([{"id": "tern", "claim": "ternary > binary",
    "source": "abstract", "tag": "inferred", "a": {"method": "syq", "wbits": 2},
    "b": {"method": "syq", "wbits": 1}, "delta": {"min": 0},
    "each": [{"options": {"granularity": "layer"}}, {"options": {"granularity": "pixel"}}]}])");
  Results r;
  for (std::int64_t s : {1, 2})
    for (const char* g : {"layer", "pixel"}) {
      const std::string o = std::string(R"({"granularity":")") + g + "\"}";
      r.rows.push_back(cell("lenet5", "syq", 2, 8, s, 0.85, o));
      r.rows.push_back(cell("lenet5", "syq", 1, 8, s, 0.80, o));
      const bool flip = std::string(g) == "pixel";
      r.rows.push_back(cell("resnet20", "syq", 2, 8, s, flip ? 0.70 : 0.85, o));
      r.rows.push_back(cell("resnet20", "syq", 1, 8, s, 0.80, o));
    }
  const auto results = evaluate(parse_claim_tests(t, "syq", ""), r);
  REQUIRE(results.size() == 1);
  const auto& c = results[0].comparisons;
  REQUIRE(c.size() == 4);
  CHECK(c[0].net == "lenet5");
  CHECK(c[0].part == R"({"options":{"granularity":"layer"}})");
  CHECK(c[0].verdict == Verdict::supported);
  CHECK(c[1].verdict == Verdict::supported);
  CHECK(c[2].net == "resnet20");
  CHECK(c[2].verdict == Verdict::supported);
  CHECK(c[3].verdict == Verdict::contradicted);
  CHECK(c[3].deltas().at(0) == Approx(-10.0));
  CHECK(results[0].verdict == Verdict::contradicted);

  // Without `each`, both granularities match one seed: left out and counted, never averaged.
  json loose = t;
  loose[0].erase("each");
  const auto l = evaluate(parse_claim_tests(loose, "syq", ""), r).at(0);
  CHECK(l.comparisons.at(0).ambiguous == 4);  // seeds 1 and 2, on both sides
  CHECK(l.comparisons.at(0).verdict == Verdict::no_cells);
  CHECK_THAT(render(verdicts_table({l}), Format::md),
             Catch::Contains("4 seed(s) with several cells left out"));

  // Restricted to lenet5, the same claim is supported.
  json only = t;
  only[0]["networks"] = {"lenet5"};
  CHECK(evaluate(parse_claim_tests(only, "syq", ""), r).at(0).verdict == Verdict::supported);

  // Two metrics of the same cells (integer int16 vs int32 accuracy).
  const json m = json::parse(R"([{"id": "oaq", "claim": "int16 within 0.5 of int32",
    "source": "abstract", "tag": "inferred", "a": {"method": "oaq"}, "b": {"method": "oaq"},
    "a_metric": "int_acc_wrap", "b_metric": "int_acc_int32", "delta": {"min": -0.5}}])");
  Results o;
  for (std::int64_t s : {1, 2}) {
    o.rows.push_back(cell("lenet5", "oaq", 8, 8, s, 0.9));
    o.rows.back().values["int_acc_int32"] = 0.900;
    o.rows.back().values["int_acc_wrap"] = s == 1 ? 0.897 : 0.896;
  }
  CHECK(evaluate(parse_claim_tests(m, "oaq", ""), o).at(0).verdict == Verdict::supported);
  o.rows[1].values["int_acc_wrap"] = 0.890;  // seed 2 loses a whole point
  CHECK(evaluate(parse_claim_tests(m, "oaq", ""), o).at(0).verdict == Verdict::inconclusive);
}

TEST_CASE("claims: a malformed test is refused with its key path", "[claims]") {
  const auto refusal = [](const std::string& text) {
    try {
      parse_claim_tests(json::parse(text), "alt", "alt.json");
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("accepted");
  };
  const std::string base =
      R"("id": "x", "claim": "c", "source": "s", "tag": "t", "b": {"method": "fp32"})";
  CHECK_THAT(refusal("[{" + base + R"(, "a": {"method": "alt"}}])"),
             Catch::Contains("alt.json: tests[0].delta: missing"));
  CHECK_THAT(refusal("[{" + base + R"(, "a": {"metod": "alt"}, "delta": {"min": 0}}])"),
             Catch::Contains("tests[0].a.metod: unknown key"));
  CHECK_THAT(refusal("[{" + base + R"(, "a": {"method": "alt"}, "delta": {}}])"),
             Catch::Contains("tests[0].delta: give min, max or both"));
  CHECK_THAT(refusal("[{" + base + R"(, "a": {"method": "alt"}, "delta": {"min": 1, "max": 0}}])"),
             Catch::Contains("tests[0].delta: min is above max"));
  CHECK_THAT(refusal("[{" + base + R"(, "a": {"method": "alt"}, "delta": {"min": 0},
                      "metric": "test_accuracy"}])"),
             Catch::Contains("tests[0].metric: unknown metric"));
  CHECK_THAT(refusal("[{" + base + R"(, "a": {"method": "alt"}, "delta": {"min": 0},
                      "each": [{"wbits": 8}, {"wbit": 4}]}])"),
             Catch::Contains("tests[0].each[1].wbit: unknown key"));
  CHECK_THAT(refusal("[{" + base + R"(, "a": {"method": "alt"}, "delta": {"min": 0}},
                      {)" +
                     base + R"(, "a": {"method": "alt"}, "delta": {"max": 0}}])"),
             Catch::Contains("tests[1].id: 'x' is used twice"));
}

TEST_CASE("claims: every claims file in the tree parses and names its tests", "[claims]") {
  const auto tests = load_claim_tests(std::string(QB_SOURCE_DIR) + "/analysis/claims");
  CHECK(tests.size() >= 10);
  for (const ClaimTest& t : tests) {
    CAPTURE(t.id);
    CHECK(!t.method.empty());
    CHECK(!t.source.empty());
    CHECK(!t.parts.empty());
    CHECK((t.min || t.max));
  }
}

TEST_CASE("claims: files of other networks combine, and each paper gets its own table",
          "[claims]") {
  Results lenet = alt_vs_fp32({-0.2, 0.4});  // Δ -0.2, +0.4 on lenet5: supported
  lenet.path = "lenet.h5";
  Results resnet;  // Δ -2, -3 on resnet20: contradicted
  resnet.path = "resnet.h5";
  for (std::int64_t s : {1, 2}) {
    resnet.rows.push_back(cell("resnet20", "fp32", 32, 32, s, 0.92));
    resnet.rows.push_back(cell("resnet20", "alt", 8, 8, s, 0.92 - double(s + 1) / 100));
  }
  const Results all = combine_results({lenet, resnet});
  CHECK(all.rows.size() == 8);
  auto tests = parse_claim_tests(kAltTest, "alt", "t.json");
  tests.at(0).paper = "ALT paper";
  const auto sat_tests = parse_claim_tests(json::parse(R"([{
    "id": "sat-w4a4", "claim": "SAT W4A4 within 1 point", "source": "abstract", "tag": "abstract",
    "a": {"method": "sat", "wbits": 4, "abits": 4}, "b": {"method": "fp32"},
    "delta": {"min": -1.0}}])"),
                                           "sat", "s.json");
  tests.push_back(sat_tests.at(0));
  const auto results = evaluate(tests, all);
  CHECK(results.at(0).verdict == Verdict::contradicted);  // one network contradicts it
  const std::vector<Grid> papers = verdicts_by_paper(results);
  REQUIRE(papers.size() == 2);
  CHECK(papers[0].title == "ALT paper");
  REQUIRE(papers[0].rows.size() == 2);  // one row per network
  const auto& lenet_row = papers[0].rows[0];
  const auto& resnet_row = papers[0].rows[1];
  CHECK(lenet_row[2] == "lenet5");
  CHECK(lenet_row[5] == "90.10");  // a: mean of 89.80 and 90.40
  CHECK(lenet_row[6] == "90.00");
  CHECK(lenet_row[9] == "supported");
  CHECK(resnet_row[2] == "resnet20");
  CHECK(resnet_row[5] == "89.50");  // 90 and 89
  CHECK(resnet_row[7] == "-2.50 (n=2: -2.00, -3.00)");
  CHECK(resnet_row[9] == "contradicted");
  REQUIRE(papers[1].rows.size() == 2);  // SAT: no SAT cells on either network
  CHECK(papers[1].rows[0][9] == "no cells");

  // One cell in two files is refused, naming the second file.
  try {
    combine_results({lenet, lenet});
    FAIL("a cell in two files was accepted");
  } catch (const Error& e) {
    CHECK(std::string(e.what()).find("lenet.h5: cell ") == 0);
  }
}
