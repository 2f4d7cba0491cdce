#include "engine/layers/conv2d_stem.h"

#include "engine/layers/conv2d_tile.h"
#include "engine/parallel.h"

#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <cstring>

#define QB_AVX2_FMA __attribute__((target("avx2,fma")))

namespace qb {
namespace {

constexpr int kLanes = 8;
constexpr int kRowVectors = 4;  // forward: vectors of one output row per tile

// One image zero-bordered: channel c's pixel (r, col) at [(c·hp + r + p)·wp + col + p]. Rows are
// ⌈Wo/8⌉ vectors plus k − 1 wide, so the last vector's shifted loads stay inside its row.
struct Tile {
  std::size_t hp, wp, size;
};

Tile tile_of(const Conv2dGeometry& q) {
  const std::size_t vectors = (q.Wo + kLanes - 1) / kLanes;
  const std::size_t hp = q.H + 2 * q.p, wp = vectors * kLanes + q.k - 1;
  return {hp, wp, q.C * hp * wp};
}

// One zeroed tile per thread, kept while the image shape stays: only interiors are written, so
// the borders stay zero (another shape's interior may cover this one's border: zeroed anew).
void prepare_tiles(Conv2dStemScratch& s, const Conv2dGeometry& q, const Tile& t, int T) {
  const std::array<std::size_t, 5> shape{q.C, q.H, q.W, q.p, t.wp};
  if (s.padded_shape != shape) {
    s.padded.clear();
    s.padded_shape = shape;
  }
  s.padded.resize(std::size_t(T));
  for (auto& tile : s.padded)
    if (tile.size() != t.size) tile.assign(t.size, 0.0f);
}

void pad_image(const float* x, const Conv2dGeometry& q, const Tile& t, float* tile) {
  for (std::size_t c = 0; c < q.C; ++c)
    for (std::size_t r = 0; r < q.H; ++r)
      std::memcpy(tile + (c * t.hp + r + q.p) * t.wp + q.p, x + (c * q.H + r) * q.W,
                  q.W * sizeof(float));
}

// ---- forward ----
//
// Outputs of channels b < OB and vectors v < V of one output row: `in` is the tile at that row
// and the first vector's column, w the first channel's weights, out its output row at that
// column. `valid` of the last vector's 8 columns exist.

void forward_tile_scalar(int OB, int V, const float* in, const Conv2dGeometry& q, const Tile& t,
                         const float* w, float* out, int valid) {
  for (int b = 0; b < OB; ++b)
    for (int v = 0; v < V; ++v)
      for (int l = 0; l < (v == V - 1 ? valid : kLanes); ++l) {
        float acc = 0.0f;
        std::size_t tap = 0;
        for (std::size_t c = 0; c < q.C; ++c)
          for (std::size_t i = 0; i < q.k; ++i)
            for (std::size_t j = 0; j < q.k; ++j, ++tap)
              acc = std::fma(w[b * q.K + tap], in[(c * t.hp + i) * t.wp + kLanes * v + j + l], acc);
        out[b * q.HWo + kLanes * v + l] = acc;
      }
}

QB_AVX2_FMA inline __m256i first_lanes(int n) {
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

template <int OB, int V, int KW>
QB_AVX2_FMA void forward_tile_avx2(const float* in, const Conv2dGeometry& q, const Tile& t,
                                   const float* w, float* out, int valid) {
  __m256 acc[OB][V];
#pragma GCC unroll 8
  for (int b = 0; b < OB; ++b)
#pragma GCC unroll 8
    for (int v = 0; v < V; ++v) acc[b][v] = _mm256_setzero_ps();
  for (std::size_t c = 0; c < q.C; ++c)
#pragma GCC unroll 8
    for (int i = 0; i < KW; ++i) {
      const float* row = in + (c * t.hp + std::size_t(i)) * t.wp;
      const float* wt = w + (c * KW + std::size_t(i)) * KW;
#pragma GCC unroll 8
      for (int j = 0; j < KW; ++j) {
        __m256 wb[OB];
#pragma GCC unroll 8
        for (int b = 0; b < OB; ++b) wb[b] = _mm256_broadcast_ss(wt + b * q.K + j);
#pragma GCC unroll 8
        for (int v = 0; v < V; ++v) {
          const __m256 xv = _mm256_loadu_ps(row + kLanes * v + j);
#pragma GCC unroll 8
          for (int b = 0; b < OB; ++b) acc[b][v] = _mm256_fmadd_ps(wb[b], xv, acc[b][v]);
        }
      }
    }
  const __m256i last = first_lanes(valid);
#pragma GCC unroll 8
  for (int b = 0; b < OB; ++b)
#pragma GCC unroll 8
    for (int v = 0; v < V; ++v) {
      float* o = out + b * q.HWo + kLanes * v;
      if (v == V - 1 && valid < kLanes)
        _mm256_maskstore_ps(o, last, acc[b][v]);
      else
        _mm256_storeu_ps(o, acc[b][v]);
    }
}

using ForwardTile = void (*)(const float*, const Conv2dGeometry&, const Tile&, const float*, float*,
                             int);
template <int KW>
constexpr ForwardTile kForwardTiles[2][kRowVectors] = {
    {forward_tile_avx2<1, 1, KW>, forward_tile_avx2<1, 2, KW>, forward_tile_avx2<1, 3, KW>,
     forward_tile_avx2<1, 4, KW>},
    {forward_tile_avx2<2, 1, KW>, forward_tile_avx2<2, 2, KW>, forward_tile_avx2<2, 3, KW>,
     forward_tile_avx2<2, 4, KW>}};

// The tiles for kernel width k, unrolled over the k × k taps of a channel.
ForwardTile forward_tile(std::size_t k, int ob, int nv) {
  switch (k) {
    case 3:
      return kForwardTiles<3>[ob - 1][nv - 1];
    case 5:
      return kForwardTiles<5>[ob - 1][nv - 1];
    default:
      return kForwardTiles<7>[ob - 1][nv - 1];
  }
}

// ---- dL/dW ----
//
// The lanes of the taps j < KW of one (c, i) for channels b < OB, over one image: `in` is the
// tile at channel c's row i, dy the first channel's output gradient of the image, part the
// lanes of its tap (c, i, 0). The image's rows in order, each row's vectors in order.

void grad_taps_scalar(int OB, int KW, const float* in, const Conv2dGeometry& q, const Tile& t,
                      const float* dy, float* part) {
  const std::size_t vectors = (q.Wo + kLanes - 1) / kLanes;
  for (int b = 0; b < OB; ++b)
    for (int j = 0; j < KW; ++j)
      for (int l = 0; l < kLanes; ++l) {
        float& acc = part[(b * q.K + std::size_t(j)) * kLanes + std::size_t(l)];
        for (std::size_t h = 0; h < q.Ho; ++h)
          for (std::size_t v = 0; v < vectors; ++v) {
            const std::size_t col = kLanes * v + std::size_t(l);
            const float g = col < q.Wo ? dy[b * q.HWo + h * q.Wo + col] : 0.0f;
            acc = std::fma(g, in[h * t.wp + col + std::size_t(j)], acc);
          }
      }
}

template <int OB, int KW>
QB_AVX2_FMA void grad_taps_avx2(const float* in, const Conv2dGeometry& q, const Tile& t,
                                const float* dy, float* part) {
  __m256 acc[OB][KW];
#pragma GCC unroll 8
  for (int b = 0; b < OB; ++b)
#pragma GCC unroll 8
    for (int j = 0; j < KW; ++j) acc[b][j] = _mm256_loadu_ps(part + (b * q.K + j) * kLanes);
  const std::size_t full = q.Wo / kLanes;
  const int rest = int(q.Wo % kLanes);
  const __m256i tail = first_lanes(rest);
  for (std::size_t h = 0; h < q.Ho; ++h) {
    const float* row = in + h * t.wp;
    const float* g = dy + h * q.Wo;
    for (std::size_t v = 0; v <= full; ++v) {
      if (v == full && rest == 0) break;
      __m256 gv[OB];
#pragma GCC unroll 8
      for (int b = 0; b < OB; ++b)
        gv[b] = v < full ? _mm256_loadu_ps(g + b * q.HWo + kLanes * v)
                         : _mm256_maskload_ps(g + b * q.HWo + kLanes * v, tail);
#pragma GCC unroll 8
      for (int j = 0; j < KW; ++j) {
        const __m256 xv = _mm256_loadu_ps(row + kLanes * v + j);
#pragma GCC unroll 8
        for (int b = 0; b < OB; ++b) acc[b][j] = _mm256_fmadd_ps(gv[b], xv, acc[b][j]);
      }
    }
  }
#pragma GCC unroll 8
  for (int b = 0; b < OB; ++b)
#pragma GCC unroll 8
    for (int j = 0; j < KW; ++j) _mm256_storeu_ps(part + (b * q.K + j) * kLanes, acc[b][j]);
}

using GradTaps = void (*)(const float*, const Conv2dGeometry&, const Tile&, const float*, float*);
// Indexed by [OB − 1][k / 2 − 1] for k = 3, 5, 7. With k = 7 two channels would need 14
// accumulators, two dy vectors and the tile's: one more than AVX2's 16 registers.
constexpr GradTaps kGradTaps[2][3] = {
    {grad_taps_avx2<1, 3>, grad_taps_avx2<1, 5>, grad_taps_avx2<1, 7>},
    {grad_taps_avx2<2, 3>, grad_taps_avx2<2, 5>, nullptr}};

int grad_channel_block(std::size_t k) { return k <= 5 ? 2 : 1; }

bool use_avx2(StemKernel kernel) { return kernel == StemKernel::best && cpu_has_avx2_fma(); }

}  // namespace

bool conv2d_stem_supported(const Conv2dGeometry& q) {
  return q.g == 1 && q.s == 1 && q.C <= 4 && (q.k == 3 || q.k == 5 || q.k == 7);
}

void conv2d_forward_stem(float* y, const float* x, const float* w, const Conv2dGeometry& q,
                         Conv2dStemScratch& scratch, StemKernel kernel) {
  const Tile t = tile_of(q);
  const int T = num_threads();
  prepare_tiles(scratch, q, t, T);
  const bool vector = use_avx2(kernel);
  const std::size_t vectors = (q.Wo + kLanes - 1) / kLanes;
  const int last_valid = int(q.Wo - kLanes * (vectors - 1));
  // Each output is one thread's one chain: the split changes no value.
  parallel_split(std::int64_t(q.N), T, [&](int th, std::int64_t first, std::int64_t last) {
    float* tile = scratch.padded[std::size_t(th)].data();
    for (std::size_t n = std::size_t(first); n < std::size_t(last); ++n) {
      pad_image(x + n * q.C * q.H * q.W, q, t, tile);
      for (std::size_t o0 = 0; o0 < q.O; o0 += 2) {
        const int ob = int(std::min<std::size_t>(2, q.O - o0));
        for (std::size_t h = 0; h < q.Ho; ++h)
          for (std::size_t v0 = 0; v0 < vectors; v0 += kRowVectors) {
            const int nv = int(std::min<std::size_t>(kRowVectors, vectors - v0));
            const int valid = v0 + std::size_t(nv) == vectors ? last_valid : kLanes;
            const float* in = tile + h * t.wp + kLanes * v0;
            float* out = y + ((n * q.O + o0) * q.Ho + h) * q.Wo + kLanes * v0;
            if (vector)
              forward_tile(q.k, ob, nv)(in, q, t, w + o0 * q.K, out, valid);
            else
              forward_tile_scalar(ob, nv, in, q, t, w + o0 * q.K, out, valid);
          }
      }
    }
  });
}

void conv2d_weight_grad_stem(float* dw, const float* dy, const float* x, const Conv2dGeometry& q,
                             Conv2dStemScratch& scratch, StemKernel kernel) {
  if (!dw) return;
  const Tile t = tile_of(q);
  const int T = num_threads();
  prepare_tiles(scratch, q, t, T);
  scratch.lanes.resize(std::size_t(T));
  for (auto& part : scratch.lanes) part.assign(q.O * q.K * kLanes, 0.0f);
  const bool vector = use_avx2(kernel);
  const int block = grad_channel_block(q.k);
  parallel_split(std::int64_t(q.N), T, [&](int th, std::int64_t first, std::int64_t last) {
    float* tile = scratch.padded[std::size_t(th)].data();
    float* lanes = scratch.lanes[std::size_t(th)].data();
    for (std::size_t n = std::size_t(first); n < std::size_t(last); ++n) {
      pad_image(x + n * q.C * q.H * q.W, q, t, tile);
      for (std::size_t o0 = 0; o0 < q.O; o0 += std::size_t(block)) {
        const int ob = int(std::min<std::size_t>(std::size_t(block), q.O - o0));
        const float* g = dy + (n * q.O + o0) * q.HWo;
        for (std::size_t c = 0; c < q.C; ++c)
          for (std::size_t i = 0; i < q.k; ++i) {
            const float* in = tile + (c * t.hp + i) * t.wp;
            float* part = lanes + (o0 * q.K + (c * q.k + i) * q.k) * kLanes;
            if (vector)
              kGradTaps[ob - 1][q.k / 2 - 1](in, q, t, g, part);
            else
              grad_taps_scalar(ob, int(q.k), in, q, t, g, part);
          }
      }
    }
  });
  // dw += Σ over threads, then lanes, in that fixed order.
  for (std::size_t idx = 0; idx < q.O * q.K; ++idx) {
    float sum = 0.0f;
    for (const auto& part : scratch.lanes)
      for (int l = 0; l < kLanes; ++l) sum += part[idx * kLanes + std::size_t(l)];
    dw[idx] += sum;
  }
}

}  // namespace qb
