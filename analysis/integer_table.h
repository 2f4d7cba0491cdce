// `qbench report RESULTS.h5 --integer`: the integer-inference tables of a merged results file,
// read from each cell's /integer group (docs/results-format.md), two per network and dataset:
//
//  * accuracy: one row per cell (method, bits, seed), the fake-quant top-1 and, per
//    accumulator model, the integer top-1 with its top-1 agreement with fake-quant and the
//    images whose integer logits differ from the exact simulation (0 is the proof); a cell
//    whose export was refused shows the reason;
//  * overflows: per cell the largest exact |Σ q·w| of each int8 layer, then per 16-bit model
//    each layer's wrong dot products (the accumulator's result differs from the exact sum),
//    as a count and a fraction of the layer's dot products.
//
// Per-cell aggregates (int_acc_<model>, int_wrong_<model>, ...) are also summary columns, so a
// table spec can show them like test_acc (analysis/spec.h).
#pragma once

#include "analysis/render.h"

#include <string>
#include <vector>

namespace qb::analysis {

// Throws qb::Error naming the file when it is not a merged results file or holds no integer
// results at all.
std::vector<Grid> integer_tables(const std::string& results_path);

}  // namespace qb::analysis
