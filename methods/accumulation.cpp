#include "methods/accumulation.h"

#include "engine/acc16_counts.h"
#include "engine/check.h"

#include <algorithm>
#include <cstdlib>

namespace qb::acc {
namespace {

std::int64_t sat16(std::int64_t v) { return std::clamp<std::int64_t>(v, -32768, 32767); }

}  // namespace

std::int64_t wrap_to(std::int64_t s, int bits) {
  // Two's complement: (s + 2^(bits−1)) mod 2^bits, shifted back down; no division.
  const std::uint64_t m = std::uint64_t(1) << bits, half = m / 2;
  return std::int64_t((std::uint64_t(s) + half) & (m - 1)) - std::int64_t(half);
}

// Addition modulo 2^16 does not care about order or grouping: each sum below is formed exactly
// and wrapped once, which equals wrapping after every add (the models' definition).
std::int64_t pair_wrap_sum(const std::int32_t* x, const std::int32_t* w, std::size_t K) {
  std::int64_t acc = 0;
  for (std::size_t k = 0; k < K; k += 2) {
    const std::int64_t second = k + 1 < K ? std::int64_t(x[k + 1]) * w[k + 1] : 0;
    acc += sat16(std::int64_t(x[k]) * w[k] + second);
  }
  return wrap_to(acc, 16);
}

std::int64_t lanes_sum(const std::int32_t* x, const std::int32_t* w, std::size_t K) {
  std::array<std::int64_t, 8> lane{};
  for (std::size_t k = 0; k < K; ++k) lane[(k % 16) / 2] += std::int64_t(x[k]) * w[k];
  std::int64_t s = 0;
  for (std::int64_t l : lane) s += wrap_to(l, 16);
  return s;
}

void Counts::add(const Counts& o) {
  dot_products += o.dot_products;
  exceeds += o.exceeds;
  for (std::size_t m = 0; m < kModelCount; ++m) wrong[m] += o.wrong[m];
  max_abs = std::max(max_abs, o.max_abs);
}

Geometry geometry(const LayerInfo& layer, const Shape& xs) {
  Geometry g;
  const Shape& ws = layer.weight_shape;
  if (layer.kind == LayerKind::linear) {
    if (xs.size() != 2 || ws.size() != 2 || xs[1] != ws[1])
      throw key_error("x", "expected [B, ", ws.size() == 2 ? ws[1] : 0, "] for weights ",
                      to_string(ws), ", got ", to_string(xs));
    g.N = xs[0];
    g.C = xs[1];
    g.H = g.W = 1;
    g.O = ws[0];
    return g;
  }
  if (layer.kind != LayerKind::conv)
    throw key_error("layer.kind", "integer dot products need a conv or linear layer");
  g.conv = true;
  g.groups = std::max<std::size_t>(layer.groups, 1);
  if (xs.size() != 4 || ws.size() != 4 || xs[1] != ws[1] * g.groups || ws[0] % g.groups != 0)
    throw key_error("x", "input ", to_string(xs), " does not fit conv weights ", to_string(ws),
                    " in ", g.groups, " groups");
  g.N = xs[0];
  g.C = xs[1];
  g.H = xs[2];
  g.W = xs[3];
  g.O = ws[0];
  g.kh = ws[2];
  g.kw = ws[3];
  g.stride = std::max<std::size_t>(layer.stride, 1);
  g.padding = layer.padding;
  if (g.H + 2 * g.padding < g.kh || g.W + 2 * g.padding < g.kw)
    throw key_error("x", "input ", to_string(xs), " smaller than the kernel");
  return g;
}

namespace {

// One dot product's exact sum s into the counts (the models' results tallied by the caller).
void tally_exact(Counts& c, std::int64_t s, std::int64_t limit, int acc_bits) {
  ++c.dot_products;
  c.exceeds += std::llabs(s) > limit;
  c.max_abs = std::max<std::int64_t>(c.max_abs, std::llabs(s));
  c.wrong[std::size_t(Model::wrap)] += wrap_to(s, acc_bits) != s;
}

// The patch of output (n, grp, oy, ox) in (ky, kx, ci) order, zero codes in the padding.
template <class T>
void gather_patch(const Geometry& g, const std::int32_t* x, std::size_t n, std::size_t grp,
                  std::size_t oy, std::size_t ox, T* patch) {
  const std::size_t cg = g.C / g.groups;
  std::size_t k = 0;
  for (std::size_t ky = 0; ky < g.kh; ++ky)
    for (std::size_t kx = 0; kx < g.kw; ++kx) {
      const auto iy = std::ptrdiff_t(oy * g.stride + ky) - std::ptrdiff_t(g.padding);
      const auto ix = std::ptrdiff_t(ox * g.stride + kx) - std::ptrdiff_t(g.padding);
      const bool inside =
          iy >= 0 && ix >= 0 && iy < std::ptrdiff_t(g.H) && ix < std::ptrdiff_t(g.W);
      for (std::size_t ci = 0; ci < cg; ++ci)
        patch[k++] = T(
            inside ? x[((n * g.C + grp * cg + ci) * g.H + std::size_t(iy)) * g.W + std::size_t(ix)]
                   : 0);
    }
}

bool in_range(const std::int32_t* v, std::size_t n, std::int32_t lo, std::int32_t hi) {
  return std::all_of(v, v + n, [&](std::int32_t c) { return c >= lo && c <= hi; });
}

// Codes that fit u8 activations and s8 weights (8-bit OAQ and A2Q after a ReLU): the patches
// as im2col rows, one pass of engine/acc16_counts.h's kernel per group. The same counts
// as the scalar loop below, whose definitions it computes (tests/test_oaq.cpp).
Counts count_bytes(const Geometry& g, const std::int32_t* x, const std::vector<std::int32_t>& wr,
                   std::int64_t limit, int acc_bits) {
  const std::size_t K = g.K(), og = g.O / g.groups, rows = g.N * g.Ho() * g.Wo();
  thread_local std::vector<std::uint8_t> cols;
  thread_local std::vector<std::int8_t> w8;
  thread_local std::vector<std::int32_t> exact, pair, lanes;
  cols.resize(rows * K);
  w8.assign(wr.begin(), wr.end());
  exact.resize(rows * og);
  pair.resize(rows * og);
  lanes.resize(rows * og);
  Counts c;
  for (std::size_t grp = 0; grp < g.groups; ++grp) {
    std::uint8_t* row = cols.data();
    for (std::size_t n = 0; n < g.N; ++n)
      for (std::size_t oy = 0; oy < g.Ho(); ++oy)
        for (std::size_t ox = 0; ox < g.Wo(); ++ox, row += K)
          gather_patch(g, x, n, grp, oy, ox, row);
    exact_pair_lanes(int(rows), int(og), int(K), cols.data(), w8.data() + grp * og * K,
                     exact.data(), pair.data(), lanes.data());
    for (std::size_t i = 0; i < rows * og; ++i) {
      tally_exact(c, exact[i], limit, acc_bits);
      c.wrong[std::size_t(Model::pair_wrap)] += pair[i] != exact[i];
      c.wrong[std::size_t(Model::lanes)] += lanes[i] != exact[i];
    }
  }
  return c;
}

}  // namespace

Counts count(const Geometry& g, const std::int32_t* x, const std::int32_t* w, int acc_bits) {
  QB_CHECK(acc_bits >= 2 && acc_bits <= 32);
  const std::int64_t limit = (std::int64_t(1) << (acc_bits - 1)) - 1;
  const std::size_t K = g.K(), Ho = g.Ho(), Wo = g.Wo(), cg = g.C / g.groups;
  const std::size_t og = g.O / g.groups;
  // Reused from count to count (OAQ counts every few training steps): no allocation per step.
  thread_local std::vector<std::int32_t> patch, wr;
  patch.resize(K);
  wr.resize(g.O * K);
  // The weights in the same (ky, kx, ci) order, once.
  for (std::size_t o = 0, k = 0; o < g.O; ++o)
    for (std::size_t ky = 0; ky < g.kh; ++ky)
      for (std::size_t kx = 0; kx < g.kw; ++kx)
        for (std::size_t ci = 0; ci < cg; ++ci)
          wr[k++] = w[((o * cg + ci) * g.kh + ky) * g.kw + kx];
  if (in_range(x, g.N * g.C * g.H * g.W, 0, 255) && in_range(wr.data(), wr.size(), -128, 127) &&
      K <= 65536)  // exact int32 sums (engine/int8/reference.h)
    return count_bytes(g, x, wr, limit, acc_bits);
  Counts c;
  for (std::size_t n = 0; n < g.N; ++n)
    for (std::size_t grp = 0; grp < g.groups; ++grp)
      for (std::size_t oy = 0; oy < Ho; ++oy)
        for (std::size_t ox = 0; ox < Wo; ++ox) {
          gather_patch(g, x, n, grp, oy, ox, patch.data());
          for (std::size_t o = grp * og; o < (grp + 1) * og; ++o) {
            const std::int32_t* wrow = wr.data() + o * K;
            std::int64_t s = 0;
            for (std::size_t i = 0; i < K; ++i) s += std::int64_t(patch[i]) * wrow[i];
            tally_exact(c, s, limit, acc_bits);
            c.wrong[std::size_t(Model::pair_wrap)] += pair_wrap_sum(patch.data(), wrow, K) != s;
            c.wrong[std::size_t(Model::lanes)] += lanes_sum(patch.data(), wrow, K) != s;
          }
        }
  return c;
}

}  // namespace qb::acc
