// Google Benchmark JSON (`--benchmark_out=FILE --benchmark_out_format=json`) as a table of
// ratios against peer rows measured in the same run.
//
// `peer` is a regular expression (ECMAScript, searched in the name): the rows it matches are
// the peers. Every other row is paired with the peer whose arguments — the name's trailing
// segments that are numbers or `name:value` (65536, threads:2, real_time) — are the same;
// when there is exactly one peer it pairs with every row. The ratio is peer time / row time:
// above 1, the row is faster than its peer. When the file holds repetitions' aggregates, the
// "mean" aggregates are used, else the plain iterations.
//
//   qbench report --bench quant.json --peer '^copy/'              # fake-quant vs memcpy
//   qbench report --bench quant.json --peer '^lenet5_step/none/'  # QAT step vs FP32 step
//
// The int8 GEMM study (scripts/bench-int8) has its own tables, scripts/int8_ratios.py: one
// file per ISA process, ratios paired pass by pass, several peers per row; its header says why.
#pragma once

#include "analysis/render.h"

#include <string>

namespace qb::analysis {

Grid bench_ratios(const std::string& path, const std::string& peer);

}  // namespace qb::analysis
