#include "engine/layers/conv2d_kernels.h"

#include "engine/gemm.h"
#include "engine/names.h"
#include "engine/parallel.h"
#include "engine/reduce.h"

#include <algorithm>
#include <array>
#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <cstring>

namespace qb {
namespace {

// Range of output positions o whose input position o*s - p + i lies inside [0, n).
inline void valid_range(std::size_t n, std::size_t no, std::size_t s, std::size_t p, std::size_t i,
                        std::size_t& lo, std::size_t& hi) {
  // o*s + i >= p  and  o*s + i - p < n
  lo = i >= p ? 0 : (p - i + s - 1) / s;
  hi = n + p > i ? std::min(no, (n + p - i + s - 1) / s) : 0;
  if (hi < lo) hi = lo;
}

// col[(c·k + i)·k + j, oh·Wo + ow] = x[c, oh·s − p + i, ow·s − p + j] (0 outside the image).
// x is one image's group, (Cg,H,W); col is (K, ld). Rows are `ld` apart, so the columns of
// several images can sit side by side in one matrix.
void im2col(const float* __restrict x, const Conv2dGeometry& q, float* __restrict col,
            std::size_t ld) {
  for (std::size_t c = 0; c < q.Cg; ++c) {
    const float* xc = x + c * q.H * q.W;
    for (std::size_t i = 0; i < q.k; ++i) {
      std::size_t oh_lo, oh_hi;
      valid_range(q.H, q.Ho, q.s, q.p, i, oh_lo, oh_hi);
      for (std::size_t j = 0; j < q.k; ++j) {
        std::size_t ow_lo, ow_hi;
        valid_range(q.W, q.Wo, q.s, q.p, j, ow_lo, ow_hi);
        float* row = col + ((c * q.k + i) * q.k + j) * ld;
        std::fill(row, row + oh_lo * q.Wo, 0.0f);
        for (std::size_t oh = oh_lo; oh < oh_hi; ++oh) {
          float* out = row + oh * q.Wo;
          const float* in = xc + (oh * q.s + i - q.p) * q.W;
          std::fill(out, out + ow_lo, 0.0f);
          if (q.s == 1) {  // a plain loop: rows are short (10-32 floats), a memcpy call costs more
            for (std::size_t ow = ow_lo; ow < ow_hi; ++ow) out[ow] = in[ow + j - q.p];
          } else {
            for (std::size_t ow = ow_lo; ow < ow_hi; ++ow) out[ow] = in[ow * q.s + j - q.p];
          }
          std::fill(out + ow_hi, out + q.Wo, 0.0f);
        }
        std::fill(row + oh_hi * q.Wo, row + q.HWo, 0.0f);
      }
    }
  }
}

// The adjoint of im2col: dx[c, ih, iw] = Σ of the column entries that read it.
void col2im(const float* __restrict col, const Conv2dGeometry& q, float* __restrict dx,
            std::size_t ld) {
  std::fill(dx, dx + q.Cg * q.H * q.W, 0.0f);
  for (std::size_t c = 0; c < q.Cg; ++c) {
    float* dxc = dx + c * q.H * q.W;
    for (std::size_t i = 0; i < q.k; ++i) {
      std::size_t oh_lo, oh_hi;
      valid_range(q.H, q.Ho, q.s, q.p, i, oh_lo, oh_hi);
      for (std::size_t j = 0; j < q.k; ++j) {
        std::size_t ow_lo, ow_hi;
        valid_range(q.W, q.Wo, q.s, q.p, j, ow_lo, ow_hi);
        const float* row = col + ((c * q.k + i) * q.k + j) * ld;
        for (std::size_t oh = oh_lo; oh < oh_hi; ++oh) {
          const float* in = row + oh * q.Wo;
          float* out = dxc + (oh * q.s + i - q.p) * q.W;
          if (q.s == 1) {  // unit stride: a contiguous add the compiler vectorises
            for (std::size_t ow = ow_lo; ow < ow_hi; ++ow) out[ow + j - q.p] += in[ow];
          } else {
            for (std::size_t ow = ow_lo; ow < ow_hi; ++ow) out[ow * q.s + j - q.p] += in[ow];
          }
        }
      }
    }
  }
}

// Images per GEMM: enough that one call sees up to ~1024 columns (a 100-column GEMM spends
// much of its time packing), few enough that the scratch of one chunk — `floats_per_column`
// per column — stays within ~512 KB of L2.
inline std::size_t images_per_gemm(const Conv2dGeometry& q, std::size_t floats_per_column) {
  const std::size_t by_width = 1024 / q.HWo;
  const std::size_t by_cache = (128u << 10) / (floats_per_column * q.HWo);
  return std::max<std::size_t>(1, std::min(by_width, by_cache));
}

// With several threads, each sums its images' weight gradients into its own zeroed part
// (every part is zeroed, including those of threads parallel_split leaves without images, so
// the thread-order sum below adds exactly T parts); one thread adds straight into dw.
float* weight_grad_target(Conv2dScratch& scratch, int T, int t, float* dw) {
  return T > 1 ? scratch.dw_parts[std::size_t(t)].data() : dw;
}

void zero_weight_grad_parts(Conv2dScratch& scratch, int T, std::size_t wsize) {
  if (T <= 1) return;
  scratch.dw_parts.resize(std::size_t(T));
  for (auto& part : scratch.dw_parts) part.assign(wsize, 0.0f);
}

// dw[i] += Σ_t parts[t][i], summed in thread order.
void add_weight_grad_parts(const Conv2dScratch& scratch, int T, float* dw, std::size_t wsize) {
  if (T <= 1) return;
  const auto& parts = scratch.dw_parts;
#pragma omp parallel for schedule(static)
  for (std::size_t i = 0; i < wsize; ++i) {
    float acc = 0.0f;
    for (int t = 0; t < T; ++t) acc += parts[std::size_t(t)][i];
    dw[i] += acc;
  }
}

// With stride 1, dL/dx is itself a convolution: of dy, padded by k−1−p, with the weights
// flipped in space and with input and output channels swapped within each group,
//   dx[c, h, w] = Σ_{o,i,j} dy[o, h + p − i, w + p − j] · W[o, c, i, j].
// Run through the forward path, its GEMM writes (C/g, H·W) per image instead of the
// (C/g·k·k, Ho·Wo) columns that col2im folds: 9× fewer stores for a 3×3 kernel and no
// scatter-add (ResNet-20's stage-1 backward: −15% time). Its GEMM has only C/g rows, though:
// below 8 (a 3-channel stem: 2× slower than col2im) the column GEMM's C/g·k·k rows win. Stride
// > 1 would need a dilated dy: those convolutions keep col2im.
bool data_grad_is_a_convolution(const Conv2dGeometry& q) {
  return q.s == 1 && q.p < q.k && q.Cg >= 8;
}

void data_grad_by_convolution(float* dx, const float* dy, const float* w, const Conv2dGeometry& q,
                              Conv2dScratch& scratch) {
  // flipped[g·Cg + c][o][i][j] = w[g·Og + o][c][k−1−i][k−1−j]
  const std::size_t kk = q.k * q.k;
  scratch.flipped_weights.resize(q.O * q.K);
  float* flipped = scratch.flipped_weights.data();
  for (std::size_t g = 0; g < q.g; ++g)
    for (std::size_t o = 0; o < q.Og; ++o)
      for (std::size_t c = 0; c < q.Cg; ++c) {
        const float* src = w + ((g * q.Og + o) * q.Cg + c) * kk;
        float* dst = flipped + ((g * q.Cg + c) * q.Og + o) * kk;
        for (std::size_t t = 0; t < kk; ++t) dst[t] = src[kk - 1 - t];
      }
  const Conv2dGeometry t = conv2d_geometry(q.N, q.O, q.Ho, q.Wo, q.C, q.k, 1, q.k - 1 - q.p, q.g);
  conv2d_forward(dx, dy, flipped, t, scratch);
}

enum class Pass { forward, weight_grad };

// Where the direct kernels (conv2d_direct.h) beat im2col + OpenBLAS. CPU ms per call, 1 thread,
// batch 128, `bench_engine --benchmark_filter=conv_` with QB_CONV_PATH=gemm|direct interleaved
// on one binary (AMD EPYC Zen 3, AVX2, 2 cores shared with other builds: load average 10-13,
// so only ratios of neighbouring runs mean anything; gemm → direct):
//
//   forward  stride 1   32×32: stem 3.6 → 2.8, 16 ch 15.3 → 11.0   28×28: stem 1.4 → 1.0,
//                       16 ch 12.1 → 8.4;  16×16 32 ch 13.9 → 10.2;  14×14 32 ch 11.6 → 8.3;
//                       8×8 64 ch 13.2 → 11.5;  7×7 64 ch 11.2 → 8.9
//   forward  stride 2   16→32 ch at 32×32 8.7 → 9.3, at 28×28 6.1 → 7.9; 32→64 ch at 16×16
//                       6.2 → 7.5, at 14×14 5.1 → 5.9: the strided gather loses to im2col
//   dL/dW    backward (dW and dx) with dx direct at stride 1, GEMM dW → direct dW, min of 3:
//            stride 1   16 ch 32×32 36.3 → 34.9, 32 ch 16×16 29.1 → 28.4, 64 ch 8×8 25.0 →
//                       24.4, stem 8.6 → 8.8 (within the noise)
//            stride 2   16→32 ch 17.3 → 20.5, 32→64 ch 12.3 → 14.8
//
// Yet in a whole ResNet-20 step (`bench_engine --benchmark_filter=train_step/resnet20/threads:1
// --benchmark_min_time=3`, pairs interleaved, CPU ms) the GEMM path stayed ahead: 852, 897, 850
// against 972, 927, 971 with the direct forward and dW at stride 1, and 884, 865 against 919,
// 900 with the direct forward alone. A profile of the step puts the direct path's time in its
// gather (24%) more than in its tile (20%). So the table holds no row until a quiet machine
// shows a step that is faster: add {Pass::forward, 1} and {Pass::weight_grad, 1} then.
// Quiet re-measurement (2026-12-06, nothing else running; `QB_CONV_PATH=gemm|direct
// build/bench_engine --benchmark_filter=train_step/resnet20/ --benchmark_min_time=2`, two
// interleaved rounds, wall ms): 1 thread gemm 853, 828 vs direct 1035, 880; 2 threads gemm 497,
// 417 vs direct 503, 481. The table stays empty.
//
// dL/dx at stride 1 is a forward convolution (data_grad_by_convolution) and follows the
// forward row of its own geometry; at stride 2 it is im2col's adjoint, on the GEMM path.
struct DirectWinsRow {
  Pass pass;
  std::size_t stride;
};
constexpr std::array<DirectWinsRow, 0> kDirectWins{};

bool direct_wins(const Conv2dGeometry& q, Pass pass) {
  if (!conv2d_direct_supported(q)) return false;
  switch (conv_path()) {
    case ConvPath::gemm:
    case ConvPath::onednn:
    case ConvPath::stem:
      return false;
    case ConvPath::direct:
      return true;
    case ConvPath::automatic:
      break;
  }
  for (const DirectWinsRow& row : kDirectWins)
    if (row.pass == pass && row.stride == q.s) return true;
  return false;
}

// oneDNN's blocked AVX2 kernels against ours, per ResNet-20 layer on 28×28 images, batch 128,
// forward + both gradients, best of 7 (a probe timing both on the same buffers, quiet machine,
// AMD EPYC Zen 3; ours → oneDNN with its reorders, ms, 1 thread | 2 threads):
//   stem C=1          4.4 →  8.9 |  2.3 →  5.5   (too few channels to fill its 8-wide blocks)
//   16 ch 28×28      36.7 → 23.5 | 21.3 → 14.7
//   16→32 stride 2   19.4 → 13.3 | 12.6 →  8.3
//   32 ch 14×14      37.0 → 21.1 | 19.5 → 11.6
//   32→64 stride 2   16.1 → 12.6 |  7.5 →  5.8
//   64 ch 7×7        34.0 → 18.5 | 15.9 →  9.4
// LeNet-5's 5×5 convolutions, batch 128 (`bench_engine --benchmark_filter='conv_.*/lenet'`
// under QB_CONV_PATH=gemm|onednn, 3 interleaved rounds, quiet AMD EPYC Zen 4, ms, 1 | 2 threads,
// forward / backward):
//   conv1 C=1, 28×28   0.80 / 1.59 → 1.08 / 12.3 | 0.43 / 0.87 → 0.55 / 5.9
//   conv2 C=6, 14×14   1.62 / 3.07 → 0.57 /  2.5 | 0.83 / 1.56 → 0.30 / 1.3
// So oneDNN takes ungrouped convolutions of at least 6 input channels (a LeNet-5 step then runs
// ~18% faster); depthwise and grouped ones, and stems of 1 or 3 channels, stay ours.
bool onednn_wins(const Conv2dGeometry& q) {
  if (!conv2d_onednn_supported(q)) return false;
  switch (conv_path()) {
    case ConvPath::onednn:
      return true;
    case ConvPath::automatic:
      return q.Cg >= 6;
    case ConvPath::gemm:
    case ConvPath::direct:
    case ConvPath::stem:
      return false;
  }
  return false;
}

// The stem kernels (conv2d_stem.h) against im2col + OpenBLAS: `bench_engine
// --benchmark_filter='conv_.*/(lenet_c1|stem).*threads:1'` under QB_CONV_PATH=gemm|stem, three
// interleaved rounds, batch 128, AMD EPYC Zen 3 (AVX2), sweeps paused, ms, gemm → stem; the
// backward rows are dL/dW alone, as a first layer's:
//   LeNet-5 conv1 1→6 5×5, 28×28       forward 3.27 3.19 2.92 → 1.25 1.32 1.47
//                                      dL/dW   4.16 3.70 3.98 → 1.11 1.02 0.91
//   ResNet-20 stem 1→16 3×3, 28×28     forward 2.45 2.43 2.21 → 2.17 2.30 1.91
//                                      dL/dW   3.03 2.91 2.83 → 1.92 1.85 2.14
//   ResNet-20 stem 3→16 3×3, 32×32     forward 6.92 5.95 5.78 → 4.28 3.99 4.23
//                                      dL/dW   7.32 7.45 6.97 → 5.85 5.96 5.91
// and, two rounds with a fine-tune running on the other core:
//   MobileNet-tiny stem 3→32, 32×32    forward 9.09 9.15 → 7.67 8.82, dL/dW 12.8 10.2 → 8.72 10.5
//   VGG-small stem 3→128, 32×32        forward 29.7 33.0 → 35.1 30.5, dL/dW 26.0 29.4 → 38.2 34.6
// With 128 output channels OpenBLAS's GEMM has rows enough to reuse each column it packs, and
// the stem kernels, which reread a tile for every pair of channels, lose. So they take stems
// of at most 32 output channels.
bool stem_wins(const Conv2dGeometry& q) {
  if (!conv2d_stem_supported(q)) return false;
  switch (conv_path()) {
    case ConvPath::automatic:
      return q.O <= 32;
    case ConvPath::stem:
      return true;
    case ConvPath::gemm:
    case ConvPath::direct:
    case ConvPath::onednn:
      return false;
  }
  return false;
}

}  // namespace

Conv2dGeometry conv2d_geometry(std::size_t N, std::size_t C, std::size_t H, std::size_t W,
                               std::size_t O, std::size_t k, std::size_t s, std::size_t p,
                               std::size_t g) {
  Conv2dGeometry q{};
  q.N = N;
  q.C = C;
  q.H = H;
  q.W = W;
  q.O = O;
  q.k = k;
  q.s = s;
  q.p = p;
  q.g = g;
  q.Ho = (H + 2 * p - k) / s + 1;
  q.Wo = (W + 2 * p - k) / s + 1;
  q.Cg = C / g;
  q.Og = O / g;
  q.K = q.Cg * k * k;
  q.HWo = q.Ho * q.Wo;
  return q;
}

namespace {
struct ConvPathRow {
  const char* name;
  ConvPath value;
};
constexpr ConvPathRow kConvPathRows[] = {{"auto", ConvPath::automatic},
                                         {"gemm", ConvPath::gemm},
                                         {"direct", ConvPath::direct},
                                         {"onednn", ConvPath::onednn},
                                         {"stem", ConvPath::stem}};
constexpr NameTable<ConvPathRow> kConvPaths{"convolution path", kConvPathRows};
}  // namespace

ConvPath conv_path_setting() {
  const char* env = std::getenv("QB_CONV_PATH");
  return env && *env ? kConvPaths.parse(env, "QB_CONV_PATH").value : ConvPath::automatic;
}

namespace {
std::atomic<int> g_conv_path{-1};  // -1: not read from the environment yet
}  // namespace

ConvPath conv_path() {
  int path = g_conv_path.load(std::memory_order_relaxed);
  if (path < 0) {
    path = int(conv_path_setting());
    g_conv_path.store(path, std::memory_order_relaxed);
  }
  return ConvPath(path);
}

void set_conv_path(ConvPath path) { g_conv_path.store(int(path), std::memory_order_relaxed); }

void conv2d_forward(float* y, const float* x, const float* w, const Conv2dGeometry& q,
                    Conv2dScratch& scratch) {
  if (onednn_wins(q)) {
    conv2d_forward_onednn(y, x, w, q, scratch.onednn);
    return;
  }
  conv2d_onednn_forget_input(scratch.onednn);  // only when the path was switched in between
  if (q.depthwise())
    conv2d_forward_depthwise(y, x, w, q);
  else if (stem_wins(q))
    conv2d_forward_stem(y, x, w, q, scratch.stem);
  else if (direct_wins(q, Pass::forward))
    conv2d_forward_direct(y, x, w, q, scratch.direct);
  else
    conv2d_forward_gemm(y, x, w, q, scratch);
}

void conv2d_backward(float* dx, float* dw, const float* dy, const float* x, const float* w,
                     const Conv2dGeometry& q, Conv2dScratch& scratch, ConvInput input) {
  if (onednn_wins(q)) {
    conv2d_backward_onednn(dx, dw, dy, x, w, q, scratch.onednn, input);
  } else if (q.depthwise()) {
    conv2d_backward_depthwise(dx, dw, dy, x, w, q, scratch);
  } else if (stem_wins(q)) {
    conv2d_weight_grad_stem(dw, dy, x, q, scratch.stem);
    if (dx) conv2d_backward_gemm(dx, nullptr, dy, x, w, q, scratch);
  } else if (direct_wins(q, Pass::weight_grad)) {
    conv2d_weight_grad_direct(dw, dy, x, q, scratch.direct);
    if (dx && data_grad_is_a_convolution(q))
      data_grad_by_convolution(dx, dy, w, q, scratch);
    else if (dx)
      conv2d_backward_gemm(dx, nullptr, dy, x, w, q, scratch);
  } else {
    conv2d_backward_gemm(dx, dw, dy, x, w, q, scratch);
  }
}

void conv2d_forward_gemm(float* y, const float* x, const float* w, const Conv2dGeometry& q,
                         Conv2dScratch& scratch) {
  const bool direct = q.k == 1 && q.s == 1 && q.p == 0;       // input already is the column matrix
  const std::size_t nb_max = images_per_gemm(q, q.K + q.Og);  // columns, output
  const int T = num_threads();
  scratch.columns.resize(std::size_t(T));
  parallel_split(std::int64_t(q.N), T, [&](int t, std::int64_t first, std::int64_t last) {
    const std::size_t n0 = std::size_t(first), n1 = std::size_t(last);
    auto& buf = scratch.columns[std::size_t(t)];
    const std::size_t cols_max = nb_max * q.HWo;
    if (buf.size() < (q.K + q.Og) * cols_max) buf.resize((q.K + q.Og) * cols_max);
    float* col = buf.data();
    float* out = buf.data() + q.K * cols_max;  // (Og, nb·HWo) before scattering to NCHW
    for (std::size_t n = n0; n < n1; n += nb_max) {
      const std::size_t nb = std::min(nb_max, n1 - n), cols = nb * q.HWo;
      for (std::size_t g = 0; g < q.g; ++g) {
        const float* wg = w + g * q.Og * q.K;
        float* yg = y + (n * q.O + g * q.Og) * q.HWo;
        if (nb == 1) {  // one image: read its columns in place (1×1) and write y directly
          const float* xg = x + (n * q.C + g * q.Cg) * q.H * q.W;
          if (!direct) im2col(xg, q, col, q.HWo);
          sgemm(false, false, int(q.Og), int(q.HWo), int(q.K), 1.0f, wg, int(q.K),
                direct ? xg : col, int(q.HWo), 0.0f, yg, int(q.HWo));
          continue;
        }
        for (std::size_t j = 0; j < nb; ++j)
          im2col(x + ((n + j) * q.C + g * q.Cg) * q.H * q.W, q, col + j * q.HWo, cols);
        sgemm(false, false, int(q.Og), int(cols), int(q.K), 1.0f, wg, int(q.K), col, int(cols),
              0.0f, out, int(cols));
        for (std::size_t j = 0; j < nb; ++j)
          for (std::size_t o = 0; o < q.Og; ++o)
            std::memcpy(yg + (j * q.O + o) * q.HWo, out + o * cols + j * q.HWo,
                        q.HWo * sizeof(float));
      }
    }
  });
}

void conv2d_backward_gemm(float* dx, float* dw, const float* dy, const float* x, const float* w,
                          const Conv2dGeometry& q, Conv2dScratch& scratch) {
  if (dx && data_grad_is_a_convolution(q)) {
    if (dw) conv2d_backward_gemm(nullptr, dw, dy, x, w, q, scratch);  // dW alone, by columns
    data_grad_by_convolution(dx, dy, w, q, scratch);
    return;
  }
  if (!dx && !dw) return;
  const bool direct = q.k == 1 && q.s == 1 && q.p == 0;
  // columns, their gradient (only when dx is wanted), the gathered output gradient
  const std::size_t nb_max = images_per_gemm(q, (dx ? 2 * q.K : q.K) + q.Og);
  const int T = num_threads();
  const std::size_t wsize = q.O * q.K;
  scratch.columns.resize(std::size_t(T));
  if (dw) zero_weight_grad_parts(scratch, T, wsize);
  parallel_split(std::int64_t(q.N), T, [&](int t, std::int64_t first, std::int64_t last) {
    const std::size_t n0 = std::size_t(first), n1 = std::size_t(last);
    auto& buf = scratch.columns[std::size_t(t)];
    const std::size_t cols_max = nb_max * q.HWo;
    if (buf.size() < (2 * q.K + q.Og) * cols_max) buf.resize((2 * q.K + q.Og) * cols_max);
    float* col = buf.data();
    float* dcol = col + q.K * cols_max;
    float* dyc = dcol + q.K * cols_max;  // (Og, nb·HWo): the chunk's dy gathered from NCHW
    float* dwt = dw ? weight_grad_target(scratch, T, t, dw) : nullptr;
    for (std::size_t n = n0; n < n1; n += nb_max) {
      const std::size_t nb = std::min(nb_max, n1 - n), cols = nb * q.HWo;
      for (std::size_t g = 0; g < q.g; ++g) {
        const float* wg = w + g * q.Og * q.K;
        const float* xg = x + (n * q.C + g * q.Cg) * q.H * q.W;
        float* dxg = dx ? dx + (n * q.C + g * q.Cg) * q.H * q.W : nullptr;
        const float* dyg = dy + (n * q.O + g * q.Og) * q.HWo;
        const float* cm = direct && nb == 1 ? xg : col;
        if (nb == 1) {
          if (!direct) im2col(xg, q, col, q.HWo);
        } else {
          for (std::size_t j = 0; j < nb; ++j) {
            im2col(xg + j * q.C * q.H * q.W, q, col + j * q.HWo, cols);
            for (std::size_t o = 0; o < q.Og; ++o)
              std::memcpy(dyc + o * cols + j * q.HWo, dyg + (j * q.O + o) * q.HWo,
                          q.HWo * sizeof(float));
          }
          dyg = dyc;
        }
        // dW_g += dy_g · colᵀ
        if (dw)
          sgemm(false, true, int(q.Og), int(q.K), int(cols), 1.0f, dyg, int(cols), cm, int(cols),
                1.0f, dwt + g * q.Og * q.K, int(q.K));
        if (!dxg) continue;
        // dcol = W_gᵀ · dy_g, then scattered back to image positions
        if (direct && nb == 1) {
          sgemm(true, false, int(q.K), int(q.HWo), int(q.Og), 1.0f, wg, int(q.K), dyg, int(q.HWo),
                0.0f, dxg, int(q.HWo));
          continue;
        }
        sgemm(true, false, int(q.K), int(cols), int(q.Og), 1.0f, wg, int(q.K), dyg, int(cols), 0.0f,
              dcol, int(cols));
        for (std::size_t j = 0; j < nb; ++j)
          col2im(dcol + j * q.HWo, q, dxg + j * q.C * q.H * q.W, cols);
      }
    }
  });
  if (dw) add_weight_grad_parts(scratch, T, dw, wsize);
}

void conv2d_forward_depthwise(float* y, const float* x, const float* w, const Conv2dGeometry& q) {
  // Every output is computed by one thread alone, so the split never changes a value.
#pragma omp parallel for schedule(static) collapse(2)
  for (std::size_t n = 0; n < q.N; ++n) {
    for (std::size_t c = 0; c < q.C; ++c) {
      const float* xc = x + (n * q.C + c) * q.H * q.W;
      const float* wc = w + c * q.k * q.k;
      float* yc = y + (n * q.C + c) * q.HWo;
      std::fill(yc, yc + q.HWo, 0.0f);
      for (std::size_t i = 0; i < q.k; ++i) {
        std::size_t oh_lo, oh_hi;
        valid_range(q.H, q.Ho, q.s, q.p, i, oh_lo, oh_hi);
        for (std::size_t j = 0; j < q.k; ++j) {
          std::size_t ow_lo, ow_hi;
          valid_range(q.W, q.Wo, q.s, q.p, j, ow_lo, ow_hi);
          const float wij = wc[i * q.k + j];
          for (std::size_t oh = oh_lo; oh < oh_hi; ++oh) {
            const float* in = xc + (oh * q.s + i - q.p) * q.W;
            float* out = yc + oh * q.Wo;
            for (std::size_t ow = ow_lo; ow < ow_hi; ++ow) out[ow] += wij * in[ow * q.s + j - q.p];
          }
        }
      }
    }
  }
}

void conv2d_backward_depthwise(float* dx, float* dw, const float* dy, const float* x,
                               const float* w, const Conv2dGeometry& q, Conv2dScratch& scratch) {
  if (!dx) {
    scratch.depthwise_dx.resize(q.N * q.C * q.H * q.W);
    dx = scratch.depthwise_dx.data();
  }
  const int T = num_threads();
  const std::size_t wsize = q.C * q.k * q.k;
  zero_weight_grad_parts(scratch, T, wsize);
  parallel_split(std::int64_t(q.N), T, [&](int t, std::int64_t first, std::int64_t last) {
    float* dwt = weight_grad_target(scratch, T, t, dw);
    for (std::size_t n = std::size_t(first); n < std::size_t(last); ++n) {
      for (std::size_t c = 0; c < q.C; ++c) {
        const float* xc = x + (n * q.C + c) * q.H * q.W;
        const float* dyc = dy + (n * q.C + c) * q.HWo;
        const float* wc = w + c * q.k * q.k;
        float* dxc = dx + (n * q.C + c) * q.H * q.W;
        float* dwc = dwt + c * q.k * q.k;
        std::fill(dxc, dxc + q.H * q.W, 0.0f);
        for (std::size_t i = 0; i < q.k; ++i) {
          std::size_t oh_lo, oh_hi;
          valid_range(q.H, q.Ho, q.s, q.p, i, oh_lo, oh_hi);
          for (std::size_t j = 0; j < q.k; ++j) {
            std::size_t ow_lo, ow_hi;
            valid_range(q.W, q.Wo, q.s, q.p, j, ow_lo, ow_hi);
            const float wij = wc[i * q.k + j];
            float acc = 0.0f;
            for (std::size_t oh = oh_lo; oh < oh_hi; ++oh) {
              const std::size_t row = (oh * q.s + i - q.p) * q.W;
              const float* in = xc + row;
              float* din = dxc + row;
              const float* g = dyc + oh * q.Wo;
              for (std::size_t ow = ow_lo; ow < ow_hi; ++ow) {
                const std::size_t iw = ow * q.s + j - q.p;
                acc += g[ow] * in[iw];
                din[iw] += g[ow] * wij;
              }
            }
            dwc[i * q.k + j] += acc;
          }
        }
      }
    }
  });
  add_weight_grad_parts(scratch, T, dw, wsize);
}

void add_channel_bias(float* y, const float* b, std::size_t N, std::size_t O, std::size_t HW) {
#pragma omp parallel for schedule(static) collapse(2)
  for (std::size_t n = 0; n < N; ++n)
    for (std::size_t o = 0; o < O; ++o) {
      float* yo = y + (n * O + o) * HW;
      for (std::size_t i = 0; i < HW; ++i) yo[i] += b[o];
    }
}

void accumulate_channel_bias_grad(float* db, const float* dy, std::size_t N, std::size_t O,
                                  std::size_t HW) {
  // One thread per channel sums its images in order: the split never changes a value.
#pragma omp parallel for schedule(static)
  for (std::size_t o = 0; o < O; ++o) {
    float acc = 0.0f;
    for (std::size_t n = 0; n < N; ++n) acc += sum(dy + (n * O + o) * HW, HW);
    db[o] += acc;
  }
}

}  // namespace qb
