// One layer's integer dot products, Σ_k x_k·w_k over integer codes, and what narrow
// accumulators make of them: the counts OAQ's controller steers by and A2Q's bound rules out.
//
// Operands: activation codes x [N,C,H,W] (conv) or [B,K] (linear) and weight codes w
// [O,C/groups,kh,kw] or [O,K]. A conv's dot product runs over its patch in the order
// (ky, kx, ci) — the im2col row order of integer/'s engine, which fixes the pairings below —
// with zero codes in the padding. Bias is outside every test (it is added in int32 after the
// accumulator, as in integer/ and MNN).
//
// Per dot product, with s the exact sum (int64) and P the accumulator's width:
//   exceeds     |s| > 2^(P−1) − 1                       PROBE.md's overflow_count (so −2^(P−1),
//                                                        which fits, counts: research note C.4.1)
//   wrap        every add modulo 2^P: wrong iff s ∉ [−2^(P−1), 2^(P−1) − 1]   (ARM smlal on int16
//               lanes summing the whole product; MNN's training counter; integer/ `wrap`)
//   pair-wrap   adjacent products (k = 2i, 2i+1) summed saturating to int16, the pairs added
//               modulo 2^16 (x86 vpmaddubsw then vpaddw; integer/ `pair-wrap`, gemm_acc16)
//   lanes       MNN's ARM kernel (…_16x4_Unit_FAST): in each block of 16 consecutive k, lane j
//               (0..7) adds products 2j and 2j+1 modulo 2^16; the 8 lanes are widened and summed
//               in int32 at the end (note C.3, E.10)
// A model is "wrong" on a dot product when its result differs from s. pair-wrap and lanes are
// 16-bit models (P = 16 for them whatever acc_bits says).
#pragma once

#include "engine/layer.h"
#include "engine/names.h"

#include <array>
#include <cstdint>
#include <vector>

namespace qb::acc {

enum class Model { wrap, pair_wrap, lanes };
inline constexpr Named<Model> kModelRows[] = {
    {"wrap", Model::wrap}, {"pair-wrap", Model::pair_wrap}, {"lanes", Model::lanes}};
inline constexpr NameTable<Named<Model>> kModels{"accumulation model", kModelRows};
inline constexpr std::size_t kModelCount = std::size(kModelRows);

// The geometry of one layer's dot products. Linear: K = in, one "pixel".
struct Geometry {
  bool conv = false;
  std::size_t N = 0, C = 0, H = 0, W = 0;  // input (linear: N = batch, C = K, H = W = 1)
  std::size_t O = 0, kh = 1, kw = 1, stride = 1, padding = 0, groups = 1;
  std::size_t Ho() const { return conv ? (H + 2 * padding - kh) / stride + 1 : 1; }
  std::size_t Wo() const { return conv ? (W + 2 * padding - kw) / stride + 1 : 1; }
  std::size_t K() const { return C / groups * kh * kw; }
};

// From a layer's description and its input's shape ([N,C,H,W] or [B,K]); throws qb::Error when
// the shapes do not fit the layer.
Geometry geometry(const LayerInfo& layer, const Shape& x_shape);

struct Counts {
  std::int64_t dot_products = 0;
  std::int64_t exceeds = 0;                       // |s| > 2^(P−1) − 1
  std::array<std::int64_t, kModelCount> wrong{};  // by Model
  std::int64_t max_abs = 0;                       // largest exact |s|
  std::int64_t wrong_under(Model m) const { return wrong[std::size_t(m)]; }
  void add(const Counts& o);
};

// Every dot product of the layer, exactly and under every model, for a P-bit accumulator
// (2 ≤ P ≤ 32; the 16-bit models ignore P). x and w hold integer codes (|code| < 2^15).
Counts count(const Geometry& g, const std::int32_t* x, const std::int32_t* w, int acc_bits);

// The single dot products the models compute (exposed for tests against engine/int8).
std::int64_t pair_wrap_sum(const std::int32_t* x, const std::int32_t* w, std::size_t K);
std::int64_t lanes_sum(const std::int32_t* x, const std::int32_t* w, std::size_t K);
// s mod 2^bits, as a signed bits-wide value.
std::int64_t wrap_to(std::int64_t s, int bits);

}  // namespace qb::acc
