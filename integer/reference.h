// The exact simulation of an integer network: the definitions of integer/network.h and
// integer/accumulator.h written out as plain loops, for clarity and not for speed — no
// kernels, no im2col, no packing; sums in int64, each accumulator model simulated product by
// product; requantisation by its definition (one rounding, half to even, of (x·m0 + B) / 2^(31−e)).
// The integer engine must equal it bit for bit, every layer, every model, every ISA. Float
// layers (`--first-last fp32`) and the image's quantisation are float code, shared with the
// engine (integer/network.h) rather than written twice.
#pragma once

#include "integer/accumulator.h"
#include "integer/engine.h"
#include "integer/network.h"

#include <vector>

namespace qb::integer {

// As Engine::forward; `stats` (one entry per conv layer) accumulates when given.
void reference_forward(const Network& net, AccModel model, const float* images, int N,
                       std::vector<double>& logits, Trace* trace = nullptr,
                       std::vector<OverflowStats>* stats = nullptr);

// rhe(p / 2^s), s ≥ 0: p divided by 2^s, rounded once, half to even.
std::int64_t rounded_shift(std::int64_t p, int s);

}  // namespace qb::integer
