// The exact simulation of an integer network: the definitions of integer/network.h and
// integer/accumulator.h written out as plain loops, for clarity more than speed — no kernels,
// no packing, no SIMD (an output position's input patch is gathered once, in (ky, kx, ci)
// order, for all its channels); sums in int64, each accumulator model simulated product by
// product; requantisation by its definition (one rounding, half to even, of (x·m0 + B) / 2^(31−e)).
// The integer engine must equal it bit for bit, every layer, every model, every ISA. Float
// layers (`--first-last fp32`) and the image's quantisation are float code, shared with the
// engine (integer/network.h) rather than written twice.
#pragma once

#include "integer/accumulator.h"
#include "integer/engine.h"
#include "integer/network.h"

#include <span>
#include <vector>

namespace qb::integer {

// One accumulator model's results: as Engine::forward gives them; `stats` (one entry per
// conv layer) accumulates over calls.
struct ReferenceRun {
  std::vector<double> logits;
  Trace trace;
  std::vector<OverflowStats> stats;
};

// Several models' networks in one pass, runs[m] for models[m] (`runs` resized to fit; stats
// accumulate). Where the codes entering a layer are equal for several models — everywhere
// until a model's accumulator has changed a code — each dot product's products are formed
// once and every model accumulates them its own way: the same results as one call per model.
void reference_forward(const Network& net, std::span<const AccModel> models, const float* images,
                       int N, std::vector<ReferenceRun>& runs);

// One model; `stats` (one entry per conv layer) accumulates when given.
void reference_forward(const Network& net, AccModel model, const float* images, int N,
                       std::vector<double>& logits, Trace* trace = nullptr,
                       std::vector<OverflowStats>* stats = nullptr);

// rhe(p / 2^s), s ≥ 0: p divided by 2^s, rounded once, half to even.
std::int64_t rounded_shift(std::int64_t p, int s);

}  // namespace qb::integer
