#include "engine/layers/conv2d_direct.h"

#include "engine/layers/conv2d_tile.h"
#include "engine/parallel.h"

#include <algorithm>
#include <cstdint>

namespace qb {
namespace {

constexpr std::size_t kR = kTileRows, kC = kTileCols;
constexpr std::size_t kMaxKernel = 11;

// Pixels of a dL/dW chunk: the gathered rows of K (a multiple of 8 pixels each) and the
// chunk's dy, ≤ 2 KB per row, stay in L2 while every 4-channel × 3-entry tile reads them.
constexpr std::size_t kPixelChunk = 256;

std::size_t ceil_div(std::size_t a, std::size_t b) { return (a + b - 1) / b; }

// Splits the output pixels [p0, p0 + count) of the batch, numbered (n, oh, ow) row-major, into
// runs within one output row; returns how many.
std::size_t pixel_runs(const Conv2dGeometry& q, std::size_t p0, std::size_t count,
                       Conv2dPixelRun* runs) {
  std::size_t nr = 0;
  for (std::size_t col = 0; col < count;) {
    const std::size_t p = p0 + col, n = p / q.HWo, pix = p % q.HWo;
    const std::size_t oh = pix / q.Wo, ow = pix % q.Wo;
    const std::size_t len = std::min(q.Wo - ow, count - col);
    runs[nr++] = {col, len, n, oh, ow};
    col += len;
  }
  return nr;
}

// dst[r·row_stride + col·kColStride] = column-matrix entry (kidx0 + r, the pixel at col) for
// r < rows and every column the runs cover: x[n, c, oh·s − p + i, ow·s − p + j] for
// kidx = (c·k + i)·k + j, or 0 in the padding. The forward panel is (K, 24): kColStride = 1,
// and a run of a row is a contiguous (stride 1) or strided copy from one input row; dL/dW's is
// (pixels, 24): kColStride = 24. No division in the loops: a profile showed the first version
// spending more time on kidx → (c, i, j) and on memmove calls for 8-float runs than the tile
// spent multiplying.
template <std::size_t kColStride>
void gather_columns(const float* __restrict x, const Conv2dGeometry& q, const Conv2dPixelRun* runs,
                    std::size_t nruns, std::size_t kidx0, std::size_t rows, float* __restrict dst,
                    std::size_t row_stride) {
  // Output columns [ow_lo[j], ow_hi[j]) read inside the image at kernel column j.
  std::size_t ow_lo[kMaxKernel], ow_hi[kMaxKernel];
  for (std::size_t j = 0; j < q.k; ++j) {
    ow_lo[j] = j >= q.p ? 0 : (q.p - j + q.s - 1) / q.s;
    ow_hi[j] = q.W + q.p > j ? std::min(q.Wo, (q.W + q.p - j + q.s - 1) / q.s) : 0;
    ow_hi[j] = std::max(ow_hi[j], ow_lo[j]);
  }
  const std::size_t HW = q.H * q.W;
  std::size_t c = kidx0 / (q.k * q.k), i = kidx0 / q.k % q.k, j = kidx0 % q.k;
  for (std::size_t r = 0; r < rows; ++r) {
    float* d = dst + r * row_stride;
    for (std::size_t u = 0; u < nruns; ++u) {
      const Conv2dPixelRun& run = runs[u];
      float* out = d + run.col * kColStride;
      const std::size_t ih = run.oh * q.s + i;  // + p: unsigned, checked against [p, H + p)
      const std::size_t end = run.ow + run.len;
      std::size_t lo = std::clamp(ow_lo[j], run.ow, end), hi = std::clamp(ow_hi[j], lo, end);
      if (ih < q.p || ih >= q.H + q.p) lo = hi = end;  // the whole run reads padding rows
      for (std::size_t ow = run.ow; ow < lo; ++ow) out[(ow - run.ow) * kColStride] = 0.0f;
      if (lo < hi) {  // src[t·s]: input row ih − p, column (lo + t)·s − p + j
        const float* src = x + (run.n * q.C + c) * HW + (ih - q.p) * q.W + lo * q.s + j - q.p;
        float* o = out + (lo - run.ow) * kColStride;
        if (q.s == 1) {
          for (std::size_t t = 0; t < hi - lo; ++t) o[t * kColStride] = src[t];
        } else {
          for (std::size_t t = 0; t < hi - lo; ++t) o[t * kColStride] = src[t * q.s];
        }
      }
      for (std::size_t ow = hi; ow < end; ++ow) out[(ow - run.ow) * kColStride] = 0.0f;
    }
    if (++j == q.k) {
      j = 0;
      if (++i == q.k) i = 0, ++c;
    }
  }
}

// packed[(b·K + kidx)·4 + r] = w[(4b + r)·K + kidx], zero for channels past O.
void pack_weights(const float* w, const Conv2dGeometry& q, std::vector<float>& packed) {
  const std::size_t blocks = ceil_div(q.O, kR);
  packed.resize(blocks * q.K * kR);
  for (std::size_t b = 0; b < blocks; ++b)
    for (std::size_t kidx = 0; kidx < q.K; ++kidx)
      for (std::size_t r = 0; r < kR; ++r) {
        const std::size_t o = b * kR + r;
        packed[(b * q.K + kidx) * kR + r] = o < q.O ? w[o * q.K + kidx] : 0.0f;
      }
}

// Forward tiles sum K in chunks of at most 256 (equal sizes): a chunk of the pixel panel, ≤ 24 KB,
// stays in L1 while every channel block reads it. The order of each sum is k = 0, 1, … still.
std::size_t forward_k_chunk(std::size_t K) { return ceil_div(K, ceil_div(K, 256)); }

// Multiplies the packed panel B (K, 24) by every channel block of the packed weights into
// out (⌈O/4⌉·4, 24), summing K in chunks that stay in L1.
void multiply_panel(TileKernel kernel, const float* A, const float* B, float* out,
                    const Conv2dGeometry& q) {
  const std::size_t K = q.K, blocks = ceil_div(q.O, kR), kc_max = forward_k_chunk(K);
  for (std::size_t k0 = 0; k0 < K; k0 += kc_max) {
    const std::size_t kc = std::min(kc_max, K - k0);
    for (std::size_t ob = 0; ob < blocks; ++ob)
      kernel(kc, A + (ob * K + k0) * kR, B + k0 * kC, out + ob * kR * kC, kC, k0 > 0);
  }
}

}  // namespace

bool conv2d_direct_supported(const Conv2dGeometry& q) { return q.g == 1 && q.k <= kMaxKernel; }

void conv2d_forward_direct(float* y, const float* x, const float* w, const Conv2dGeometry& q,
                           Conv2dDirectScratch& scratch) {
  const TileKernel kernel = best_tile_kernel();
  const std::size_t K = q.K, blocks = ceil_div(q.O, kR);
  const std::size_t P = q.N * q.HWo;
  pack_weights(w, q, scratch.packed_weights);
  const float* A = scratch.packed_weights.data();
  const int T = num_threads();
  scratch.threads.resize(std::size_t(T));
  parallel_split(std::int64_t(ceil_div(P, kC)), T, [&](int t, std::int64_t b0, std::int64_t b1) {
    auto& s = scratch.threads[std::size_t(t)];
    s.floats.resize(K * kC + blocks * kR * kC);
    s.runs.resize(kC);
    float* B = s.floats.data();  // (K, 24): the panel's columns
    float* out = B + K * kC;     // (⌈O/4⌉·4, 24): its outputs
    for (std::size_t b = std::size_t(b0); b < std::size_t(b1); ++b) {
      const std::size_t p0 = b * kC, cols = std::min(kC, P - p0);
      const std::size_t nr = pixel_runs(q, p0, cols, s.runs.data());
      if (cols < kC)  // the batch's last panel: its missing pixels multiply as zeros
        for (std::size_t kidx = 0; kidx < K; ++kidx)
          std::fill(B + kidx * kC + cols, B + (kidx + 1) * kC, 0.0f);
      gather_columns<1>(x, q, s.runs.data(), nr, 0, K, B, kC);
      multiply_panel(kernel, A, B, out, q);
      for (std::size_t u = 0; u < nr; ++u) {
        const Conv2dPixelRun& run = s.runs[u];
        float* yr = y + run.n * q.O * q.HWo + run.oh * q.Wo + run.ow;
        for (std::size_t o = 0; o < q.O; ++o) {
          const float* src = out + o * kC + run.col;
          float* dst = yr + o * q.HWo;
          for (std::size_t t = 0; t < run.len; ++t) dst[t] = src[t];
        }
      }
    }
  });
}

void conv2d_weight_grad_direct(float* dw, const float* dy, const float* x, const Conv2dGeometry& q,
                               Conv2dDirectScratch& scratch) {
  constexpr std::size_t kO = kGradTileRows, kK = kGradTileCols, kL = kGradLanes;
  const GradTileKernel kernel = best_grad_tile_kernel();
  const std::size_t K = q.K, Op = ceil_div(q.O, kO) * kO, triples = ceil_div(K, kK);
  const std::size_t Kp = triples * kK, P = q.N * q.HWo;
  // part[(o·Kp + kidx)·8 + l]: lane l of dL/dW[o, kidx], summed over the pixels ≡ l mod 8
  scratch.weight_grad_tiles.assign(Op * Kp * kL, 0.0f);
  float* part = scratch.weight_grad_tiles.data();
  const int T = num_threads();
  scratch.threads.resize(std::size_t(T));
  parallel_split(std::int64_t(triples), T, [&](int t, std::int64_t t0, std::int64_t t1) {
    const std::size_t k0 = std::size_t(t0) * kK, rows = (std::size_t(t1) - std::size_t(t0)) * kK;
    const std::size_t valid = std::min(K, k0 + rows) - k0;  // rows past K stay zero
    auto& s = scratch.threads[std::size_t(t)];
    s.floats.assign((rows + Op) * kPixelChunk, 0.0f);
    s.runs.resize(kPixelChunk);
    float* cols = s.floats.data();           // (rows, pixels): this thread's rows of K
    float* dyc = cols + rows * kPixelChunk;  // (Op, pixels): the chunk's dy
    for (std::size_t p0 = 0; p0 < P; p0 += kPixelChunk) {
      const std::size_t len = std::min(kPixelChunk, P - p0), n8 = ceil_div(len, kL);
      const std::size_t nr = pixel_runs(q, p0, len, s.runs.data());
      if (len < kPixelChunk)  // the batch's last chunk: lanes past its end add zeros
        for (std::size_t r = 0; r < rows + Op; ++r)
          std::fill(cols + r * kPixelChunk + len, cols + (r + 1) * kPixelChunk, 0.0f);
      gather_columns<1>(x, q, s.runs.data(), nr, k0, valid, cols, kPixelChunk);
      for (std::size_t o = 0; o < q.O; ++o)
        for (std::size_t u = 0; u < nr; ++u) {
          const Conv2dPixelRun& run = s.runs[u];
          const float* src = dy + (run.n * q.O + o) * q.HWo + run.oh * q.Wo + run.ow;
          float* dst = dyc + o * kPixelChunk + run.col;
          for (std::size_t i = 0; i < run.len; ++i) dst[i] = src[i];
        }
      for (std::size_t ob = 0; ob < Op; ob += kO)
        for (std::size_t r = 0; r < rows; r += kK)
          kernel(n8, dyc + ob * kPixelChunk, kPixelChunk, cols + r * kPixelChunk, kPixelChunk,
                 part + (ob * Kp + k0 + r) * kL, Kp * kL);
    }
    // dw += the lanes, added pairwise in one fixed order.
    for (std::size_t o = 0; o < q.O; ++o)
      for (std::size_t kidx = k0; kidx < k0 + valid; ++kidx) {
        const float* l = part + (o * Kp + kidx) * kL;
        dw[o * K + kidx] += ((l[0] + l[1]) + (l[2] + l[3])) + ((l[4] + l[5]) + (l[6] + l[7]));
      }
  });
}

}  // namespace qb
