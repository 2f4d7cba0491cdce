#include "engine/int8/conv.h"

#include "engine/check.h"
#include "engine/int8/conv_kernels.h"
#include "engine/int8/im2col.h"
#include "engine/int8/kernels.h"
#include "engine/int8/reference.h"
#include "engine/parallel.h"

#include <omp.h>

#include <algorithm>
#include <climits>
#include <cstring>

namespace qb::int8 {

ConvGeometry ConvGeometry::square(int k, int stride, int pad) {
  return {k, k, stride, stride, pad, pad, pad, pad};
}

namespace {

void check_geometry(const ConvGeometry& g) {
  if (g.kh < 1 || g.kw < 1 || g.stride_h < 1 || g.stride_w < 1 || g.pad_top < 0 || g.pad_left < 0 ||
      g.pad_bottom < 0 || g.pad_right < 0)
    throw error("int8 conv: invalid geometry (kernel ", g.kh, "x", g.kw, ", stride ", g.stride_h,
                "x", g.stride_w, ", padding top/left/bottom/right ", g.pad_top, "/", g.pad_left,
                "/", g.pad_bottom, "/", g.pad_right, ")");
}

int out_size(int in, int k, int stride, int pad0, int pad1, const char* what) {
  QB_CHECK_GE(in, 1);
  const std::int64_t padded = std::int64_t(in) + pad0 + pad1;
  if (padded < k)
    throw error("int8 conv: the padded input ", what, " ", padded, " is smaller than the kernel (",
                k, ")");
  return int((padded - k) / stride + 1);
}

// The thread count for `work` independent units of about `unit_cost` bytes: at least 32 KiB
// of work a thread.
int threads_for(std::int64_t work, std::int64_t unit_cost) {
  const std::int64_t by_size = std::max<std::int64_t>(1, work * unit_cost / 32768);
  return int(std::min<std::int64_t>({omp_get_max_threads(), by_size, work}));
}

// A 1×1, stride-1, unpadded convolution: the input already is the M×K patch matrix.
bool is_direct(const ConvGeometry& g) {
  return g.kh == 1 && g.kw == 1 && g.stride_h == 1 && g.stride_w == 1 && !g.padded();
}

// Whether forward_rows writes the padding of its rows' images out before the GEMM. When the
// kernel reads the patches in place (no im2col at all), it must. When a padded window's rows
// are short runs (kw·C_in ≤ 16 codes: LeNet-5's first conv, 5; a 3-channel image's 3×3, 9),
// building its patch rows tap by tap, with the padding decided per row and tap, costs more
// than the multiplications; written out once, the padding makes every patch row kh plain
// copies.
bool pads_images(const ConvGeometry& g, int C_in, const detail::GemmKernel& kernel) {
  if (!g.padded()) return false;
  if (kernel.u8_in_place && detail::patches_in_place(g, C_in, kernel.layout.group)) return true;
  return std::int64_t(g.kw) * C_in <= 16;
}

// Images [n0, n1) of p's input with their padding (p.z) written out, into `buffer`: the same
// patch matrix, rows of image n0 first, with no padded taps left to decide.
Patches padded_images(const Patches& p, std::int64_t n0, std::int64_t n1,
                      std::vector<std::uint8_t>& buffer) {
  const ConvGeometry& g = p.g;
  const int Hp = p.H + g.pad_top + g.pad_bottom, Wp = p.W + g.pad_left + g.pad_right;
  const std::size_t row = std::size_t(p.W) * p.C, padded_row = std::size_t(Wp) * p.C;
  buffer.assign(std::size_t(n1 - n0) * Hp * padded_row, p.z);
  for (std::int64_t n = n0; n < n1; ++n)
    for (int iy = 0; iy < p.H; ++iy)
      std::memcpy(buffer.data() + (std::size_t(n - n0) * Hp + iy + g.pad_top) * padded_row +
                      std::size_t(g.pad_left) * p.C,
                  p.x + (std::size_t(n) * p.H + iy) * row, row);
  ConvGeometry unpadded = g;
  unpadded.pad_top = unpadded.pad_left = unpadded.pad_bottom = unpadded.pad_right = 0;
  return {buffer.data(), Hp, Wp, p.C, p.z, unpadded, p.Ho, p.Wo};
}

}  // namespace

int ConvGeometry::out_h(int H) const {
  check_geometry(*this);
  return out_size(H, kh, stride_h, pad_top, pad_bottom, "height");
}
int ConvGeometry::out_w(int W) const {
  check_geometry(*this);
  return out_size(W, kw, stride_w, pad_left, pad_right, "width");
}

void conv2d_ref(const std::uint8_t* x, int N, int H, int W, int C_in, std::uint8_t x_zero_point,
                const std::int8_t* w, int C_out, int groups, const ConvGeometry& g,
                std::int32_t* y) {
  QB_CHECK_GE(N, 0);
  QB_CHECK_GE(groups, 1);
  QB_CHECK_EQ(C_in % groups, 0);
  QB_CHECK_EQ(C_out % groups, 0);
  const int Ho = g.out_h(H), Wo = g.out_w(W);
  const int Cgi = C_in / groups, Cgo = C_out / groups;
  QB_CHECK_LE(std::int64_t(g.kh) * g.kw * Cgi, kMaxK);  // int32 sums stay exact
  for (int n = 0; n < N; ++n)
    for (int oy = 0; oy < Ho; ++oy)
      for (int ox = 0; ox < Wo; ++ox)
        for (int co = 0; co < C_out; ++co) {
          const int grp = co / Cgo;
          std::int32_t acc = 0;
          for (int ky = 0; ky < g.kh; ++ky)
            for (int kx = 0; kx < g.kw; ++kx)
              for (int ci = 0; ci < Cgi; ++ci) {
                const int iy = oy * g.stride_h + ky - g.pad_top;
                const int ix = ox * g.stride_w + kx - g.pad_left;
                const bool inside = iy >= 0 && iy < H && ix >= 0 && ix < W;
                const std::int32_t xv =
                    inside ? x[((std::int64_t(n) * H + iy) * W + ix) * C_in + grp * Cgi + ci]
                           : x_zero_point;
                acc += xv * w[((std::int64_t(co) * g.kh + ky) * g.kw + kx) * Cgi + ci];
              }
          y[((std::int64_t(n) * Ho + oy) * Wo + ox) * C_out + co] = acc;
        }
}

Conv2dInt8::Conv2dInt8(const std::int8_t* w, int C_in, int C_out, const ConvGeometry& g, Isa isa,
                       Activations act, Accumulator acc)
    : g_(g), C_in_(C_in), C_out_(C_out), isa_(isa) {
  check_geometry(g);
  QB_CHECK_GT(C_in, 0);
  QB_CHECK_GT(C_out, 0);
  const std::int64_t K = std::int64_t(g.kh) * g.kw * C_in;
  if (K > kMaxK)
    throw error("int8 conv: K = kh·kw·C_in = ", K, " exceeds ", kMaxK,
                " (int32 sums would no longer be exact)");
  // Throws when the CPU lacks isa.
  packed_ = PackedWeights(w, C_out, int(K), int(K), isa, acc, act);
  wsum_.assign(C_out, 0);
  for (int co = 0; co < C_out; ++co)
    for (std::int64_t k = 0; k < K; ++k) wsum_[co] += w[co * K + k];
}

Conv2dInt8 Conv2dInt8::depthwise(const std::int8_t* w, int C, const ConvGeometry& g, Isa isa) {
  check_geometry(g);
  QB_CHECK_GT(C, 0);
  if (!cpu_has(isa)) throw error("int8 conv: this CPU cannot run the ", isa_name(isa), " kernels");
  const std::int64_t taps = std::int64_t(g.kh) * g.kw;
  if (taps > kMaxK)
    throw error("int8 conv: a ", g.kh, "x", g.kw, " window exceeds ", kMaxK, " taps");
  Conv2dInt8 c;
  c.g_ = g;
  c.C_in_ = c.C_out_ = C;
  c.depthwise_ = true;
  c.isa_ = isa;
  c.dw_weights_.assign(w, w + taps * C);
  c.wsum_.assign(C, 0);
  for (std::int64_t t = 0; t < taps; ++t)
    for (int ch = 0; ch < C; ++ch) c.wsum_[ch] += w[t * C + ch];
  return c;
}

std::vector<std::int32_t> Conv2dInt8::zero_point_bias(std::uint8_t x_zero_point) const {
  std::vector<std::int32_t> b(wsum_.size());
  for (std::size_t i = 0; i < b.size(); ++i) b[i] = -std::int32_t(x_zero_point) * wsum_[i];
  return b;
}

void Conv2dInt8::forward(const std::uint8_t* x, int N, int H, int W, std::uint8_t x_zero_point,
                         std::int32_t* y) {
  QB_CHECK(C_out_ > 0);  // a default-constructed object
  QB_CHECK_GE(N, 0);
  // The padding holds the zero point, so it is an activation like the others.
  if (!depthwise_ && packed_.activations() == Activations::u7 && x_zero_point > 127)
    throw error("int8 conv: zero point ", int(x_zero_point),
                " breaks the u7 promise (activations <= 127) the weights were packed for");
  if (depthwise_)
    forward_depthwise(x, N, H, W, x_zero_point, y);
  else
    forward_gemm(x, N, H, W, x_zero_point, y);
}

void Conv2dInt8::forward_gemm(const std::uint8_t* x, int N, int H, int W, std::uint8_t z,
                              std::int32_t* y) {
  const int Ho = g_.out_h(H), Wo = g_.out_w(W);
  const std::int64_t M = std::int64_t(N) * Ho * Wo;
  const int K = packed_.K();
  if (M == 0) return;
  if (columns_.empty()) columns_.resize(1);
  // The input already is the M×K matrix: the GEMM splits its rows across threads.
  if (is_direct(g_)) return forward_rows(x, N, H, W, z, 0, M, y, columns_[0]);
  // One parallel region: each thread takes a contiguous range of output pixels (forward_rows).
  // One region rather than one per block for im2col and one inside each GEMM: every region
  // ends in a barrier, and on a machine shared with other jobs each barrier can wait a whole
  // time slice.
  const int T = threads_for(M, K);
  if (int(columns_.size()) < T) columns_.resize(T);
  parallel_split(M, T, [&](int t, std::int64_t a, std::int64_t b) {
    forward_rows(x, N, H, W, z, a, b, y + a * C_out_, columns_[t]);
  });
}

void Conv2dInt8::forward_rows(const std::uint8_t* x, int N, int H, int W, std::uint8_t z,
                              std::int64_t r0, std::int64_t r1, std::int32_t* y,
                              std::vector<std::uint8_t>& columns) const {
  QB_CHECK(!depthwise_ && C_out_ > 0);
  const int Ho = g_.out_h(H), Wo = g_.out_w(W), K = packed_.K();
  QB_CHECK(0 <= r0 && r0 <= r1 && r1 <= std::int64_t(N) * Ho * Wo);
  if (packed_.activations() == Activations::u7 && z > 127)
    throw error("int8 conv: zero point ", int(z),
                " breaks the u7 promise (activations <= 127) the weights were packed for");
  if (is_direct(g_)) {  // the input already is the M×K matrix
    for (std::int64_t b0 = r0; b0 < r1; b0 += INT_MAX / 2) {
      const std::int64_t rows = std::min<std::int64_t>(INT_MAX / 2, r1 - b0);
      multiply(x + b0 * C_in_, C_in_, int(rows), y + (b0 - r0) * C_out_);
    }
    return;
  }
  // Above scalar, the GEMM kernel builds each tile of patch rows itself (kernels.h, Patches):
  // no patch matrix is written to memory and read back to be converted. A kernel reading u8 as
  // it is takes the rows in place from the padded images, with no im2col at all
  // (GemmKernel::u8_in_place).
  if (packed_.isa() != Isa::scalar) {
    Patches p{x, H, W, C_in_, z, g_, Ho, Wo};
    std::int64_t first = r0;
    if (r1 > r0 && pads_images(g_, C_in_, *packed_.kernel())) {
      const std::int64_t plane = std::int64_t(Ho) * Wo, n0 = r0 / plane;
      p = padded_images(p, n0, (r1 - 1) / plane + 1, columns);
      first = r0 - n0 * plane;
    }
    for (std::int64_t b0 = r0; b0 < r1; b0 += INT_MAX / 2) {
      const std::int64_t rows = std::min<std::int64_t>(INT_MAX / 2, r1 - b0);
      detail::gemm_patches(p, first + (b0 - r0), int(rows), packed_, y + (b0 - r0) * C_out_,
                           C_out_);
    }
    return;
  }
  // Block by block (about 512 KiB of patches, so they are still in L2 when multiplied).
  const std::int64_t block = std::max<std::int64_t>(64, (512 << 10) / K);
  columns.resize(std::size_t(std::min(block, r1 - r0)) * K);
  for (std::int64_t b0 = r0; b0 < r1; b0 += block) {
    const std::int64_t rows = std::min(block, r1 - b0);
    im2col({x, H, W, C_in_, z, g_, Ho, Wo}, b0, b0 + rows, columns.data(), K);
    multiply(columns.data(), K, int(rows), y + (b0 - r0) * C_out_);
  }
}

void Conv2dInt8::multiply(const std::uint8_t* A, int lda, int M, std::int32_t* y) const {
  if (packed_.accumulator() == Accumulator::int16)
    gemm_acc16(A, lda, M, packed_, y, C_out_);
  else
    gemm(A, lda, M, packed_, y, C_out_);
}

void Conv2dInt8::forward_depthwise(const std::uint8_t* x, int N, int H, int W, std::uint8_t z,
                                   std::int32_t* y) const {
  const int Ho = g_.out_h(H), Wo = g_.out_w(W), C = C_out_;
  std::vector<std::int32_t> base(C);
  for (int c = 0; c < C; ++c) base[c] = std::int32_t(z) * wsum_[c];
  const detail::DepthwiseArgs args{x, H, W, C, z, dw_weights_.data(), base.data(), g_, Ho, Wo, y};
  const detail::DepthwiseKernel kernel =
      isa_ == Isa::scalar ? detail::depthwise_rows_scalar : detail::depthwise_rows_avx2;
  const std::int64_t rows = std::int64_t(N) * Ho;
  // A row's cost: Wo pixels × taps × C multiply-adds.
  const std::int64_t cost = std::int64_t(Wo) * g_.kh * g_.kw * C;
  parallel_split(rows, threads_for(rows, cost),
                 [&](int, std::int64_t a, std::int64_t b) { kernel(args, int(a), int(b)); });
}

namespace detail {

void depthwise_rows_scalar(const DepthwiseArgs& a, int r0, int r1) {
  const ConvGeometry& g = a.g;
  const int C = a.C;
  for (int r = r0; r < r1; ++r) {
    const int n = r / a.Ho, oy = r % a.Ho;
    const std::uint8_t* img = a.x + std::int64_t(n) * a.H * a.W * C;
    int ky0, ky1;
    valid_taps(oy * g.stride_h - g.pad_top, g.kh, a.H, ky0, ky1);
    for (int ox = 0; ox < a.Wo; ++ox) {
      const int ix0 = ox * g.stride_w - g.pad_left;
      int kx0, kx1;
      valid_taps(ix0, g.kw, a.W, kx0, kx1);
      std::int32_t* yp = a.y + (std::int64_t(r) * a.Wo + ox) * C;
      for (int c = 0; c < C; ++c) {
        std::int32_t acc = a.base[c];
        for (int ky = ky0; ky < ky1; ++ky) {
          const int iy = oy * g.stride_h - g.pad_top + ky;
          for (int kx = kx0; kx < kx1; ++kx)
            acc += (std::int32_t(img[(std::int64_t(iy) * a.W + ix0 + kx) * C + c]) - a.z) *
                   a.w[(ky * g.kw + kx) * C + c];
        }
        yp[c] = acc;
      }
    }
  }
}

}  // namespace detail

}  // namespace qb::int8
