// The papers' claims as relations qbench tests on its own cells, each with a computed verdict.
//
// A claims file (analysis/claims/<method>.json, see claims.h) holds, beside the quotes, a list
// of tests. Each test compares two sets of cells on our networks:
//
//   {"id": "alt-w8a8-fp32", "claim": "ALT W8A8 within 1 point of FP32",
//    "source": "Xilinx/graffitist README, Imagenet performance", "tag": "official-code",
//    "theirs": {"network": "resnet_v1_50", "dataset": "ImageNet", "numbers": "75.4 vs 75.4"},
//    "a": {"method": "alt", "wbits": 8, "abits": 8}, "b": {"method": "fp32"},
//    "delta": {"min": -1.0},
//    "metric": "test_acc",                     (optional; or "a_metric" / "b_metric")
//    "each": [{"granularity": "layer"}, ...],  (optional: one comparison per entry)
//    "networks": ["lenet5", "resnet20"]}       (optional: default every network present)
//
// `a` and `b` are table-spec filters (spec.h); an `each` entry's keys are added to both. The
// relation is on Δ = a − b in the metric's shown units (accuracy: percentage points), paired by
// seed within one network and dataset: "delta" bounds Δ from below ("min"), above ("max") or
// both, inclusive.
//
// The verdict rule, per comparison (one network and dataset, one `each` entry):
//   * no cells     — no seed has both sides (a finished cell with a finite metric on each);
//   * inconclusive — fewer than two paired seeds, or the seeds' Δ fall on both sides of a bound;
//   * supported    — every paired seed's Δ satisfies the relation;
//   * contradicted — no paired seed's Δ satisfies it.
// A claim with several comparisons is contradicted if any is, supported if all are, "no cells"
// if all are, inconclusive otherwise. Requiring every seed, not the mean, is what "given the
// seeds' spread" means here: a claim decided by the mean alone could flip with one more seed.
#pragma once

#include "analysis/render.h"
#include "analysis/results.h"
#include "analysis/spec.h"

#include <nlohmann/json.hpp>

#include <optional>
#include <string>
#include <vector>

namespace qb::analysis {

struct ClaimTest {
  std::string method;  // the claims file's method
  std::string paper;   // the claims file's "paper" (its per-paper table's title)
  std::string id, claim, source, tag;
  std::string their_network, their_dataset, their_numbers;
  // One comparison per `each` entry (a single one, labelled "", without): a and b refined.
  struct Part {
    std::string label;
    Filter a, b;
  };
  std::vector<Part> parts;
  Metric a_metric, b_metric;
  std::optional<double> min, max;  // bounds on Δ, in shown units
  std::vector<std::string> networks;
};

enum class Verdict { no_cells, inconclusive, supported, contradicted };
const char* verdict_name(Verdict v);

// The rule above on one comparison's paired differences.
Verdict judge(const std::vector<double>& deltas, std::optional<double> min,
              std::optional<double> max);
// The claim's verdict from its comparisons' verdicts.
Verdict combine(const std::vector<Verdict>& parts);

struct Comparison {
  std::string net, dataset, part;  // part: the `each` entry ("" without)
  std::vector<std::int64_t> seeds;
  std::vector<double> a, b;  // the two sides per paired seed, same order (shown units)
  // Seeds left out on either side because the filter selected several cells there (shown, so
  // a filter too loose to pair is never silent).
  std::size_t ambiguous = 0;
  Verdict verdict = Verdict::no_cells;

  // a − b per paired seed: what the verdict judges.
  std::vector<double> deltas() const;
};

struct ClaimResult {
  ClaimTest test;  // a copy: results outlive the parsed tests they came from
  std::vector<Comparison> comparisons;
  Verdict verdict = Verdict::no_cells;
};

// The tests of one claims file's "tests" array; `origin` prefixes every problem. Throws
// qb::Errors naming every problem's key path.
std::vector<ClaimTest> parse_claim_tests(const nlohmann::json& tests, const std::string& method,
                                         const std::string& origin);
// Every test of every *.json in `dir`, files in name order.
std::vector<ClaimTest> load_claim_tests(const std::string& dir);

std::vector<ClaimResult> evaluate(const std::vector<ClaimTest>& tests, const Results& results);

// One row per comparison: claim, theirs, ours, Δ per seed, the relation, both verdicts.
Grid verdicts_table(const std::vector<ClaimResult>& results);

// The same results as one shorter table per paper (claims file, in load order), for the
// README: claim, theirs, ours, the two sides' means, Δ per seed, the comparison's verdict.
std::vector<Grid> verdicts_by_paper(const std::vector<ClaimResult>& results);

// The rows of several merged files as one set (each file one sweep: say LeNet-5, ResNet-20 and
// MobileNet-tiny), so claims are judged on every network at once. Throws qb::Error naming the
// second file when a cell key appears in two.
Results combine_results(const std::vector<Results>& files);

}  // namespace qb::analysis
