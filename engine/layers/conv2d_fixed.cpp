#include "engine/layers/conv2d_fixed.h"

#include "engine/check.h"
#include "engine/layers/code_layout.h"
#include "engine/parallel.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <type_traits>

namespace qb {
namespace {

// One image's group x (Cg, H, W) as codes in a zero-padded (Cg, H + 2p, W + 2p) image of the
// GEMM's type T (exact: x is on its grid and its codes fit T): the gathers below then copy
// without bounds checks or conversions.
template <class T>
void pad_codes(const float* x, const Conv2dGeometry& q, int shift, std::vector<T>& pad) {
  const std::size_t Hp = q.H + 2 * q.p, Wp = q.W + 2 * q.p;
  pad.assign(q.Cg * Hp * Wp, 0);
  const float inv = std::ldexp(1.0f, -shift);
  for (std::size_t c = 0; c < q.Cg; ++c)
    for (std::size_t h = 0; h < q.H; ++h) {
      const float* xr = x + (c * q.H + h) * q.W;
      T* pr = pad.data() + (c * Hp + h + q.p) * Wp + q.p;
      for (std::size_t w = 0; w < q.W; ++w) pr[w] = T(xr[w] * inv);
    }
}

// The thread's padded image of type T.
template <class T>
std::vector<T>& pad_of(Conv2dFixedScratch::Thread& f) {
  if constexpr (sizeof(T) == 1)
    return f.codes8;
  else
    return f.codes;
}

// The same codes channel-last: a zero-padded (H + 2p, W + 2p, C) image, so that a patch row of
// im2row_hwc is k runs of k·C codes.
void pad_codes_hwc(const float* x, const Conv2dGeometry& q, int shift,
                   std::vector<std::int16_t>& pad) {
  const std::size_t Wp = q.W + 2 * q.p;
  pad.assign((q.H + 2 * q.p) * Wp * q.C, 0);
  const float inv = std::ldexp(1.0f, -shift);
  for (std::size_t c = 0; c < q.C; ++c)
    for (std::size_t h = 0; h < q.H; ++h) {
      const float* xr = x + (c * q.H + h) * q.W;
      std::int16_t* pr = pad.data() + ((h + q.p) * Wp + q.p) * q.C + c;
      for (std::size_t w = 0; w < q.W; ++w) pr[w * q.C] = std::int16_t(xr[w] * inv);
    }
}

// im2row of a channel-last padded image: dst[pix][(i·k + j)·C + c]. The general im2row's
// (c, i, j) order copies runs of k codes; this one copies k runs of k·C (ResNet-20's 16-bit
// dx: 48 to 192 codes; im2row was a fifth of its APT step).
void im2row_hwc(const std::int16_t* pad, const Conv2dGeometry& q, std::int16_t* dst) {
  const std::size_t Wp = q.W + 2 * q.p, run = q.k * q.C;
  for (std::size_t oh = 0; oh < q.Ho; ++oh)
    for (std::size_t ow = 0; ow < q.Wo; ++ow) {
      std::int16_t* row = dst + (oh * q.Wo + ow) * q.K;
      for (std::size_t i = 0; i < q.k; ++i)
        std::copy_n(pad + ((oh * q.s + i) * Wp + ow * q.s) * q.C, run, row + i * run);
    }
}

// im2row: dst[pix][kk] (HWo × K), pix = oh·Wo + ow, kk = (c·k + i)·k + j.
template <class T>
void im2row(const T* pad, const Conv2dGeometry& q, T* dst) {
  const std::size_t Hp = q.H + 2 * q.p, Wp = q.W + 2 * q.p;
  for (std::size_t oh = 0; oh < q.Ho; ++oh)
    for (std::size_t ow = 0; ow < q.Wo; ++ow) {
      T* row = dst + (oh * q.Wo + ow) * q.K;
      for (std::size_t c = 0; c < q.Cg; ++c)
        for (std::size_t i = 0; i < q.k; ++i)
          std::copy_n(pad + (c * Hp + oh * q.s + i) * Wp + ow * q.s, q.k,
                      row + (c * q.k + i) * q.k);
    }
}

// dst[0..n) = src[0..n) for n bytes, two buffers: im2col's runs of Wo codes (28, 14 and 7 in
// ResNet-20 on Fashion-MNIST). Runs of 4 to 64 bytes are two fixed-size moves that overlap in
// the middle, each one vector load and store, where a memcpy of a run-time length is a call
// (the int8 dW path's gather spent most of its time in those calls).
inline void copy_run(const void* src, std::size_t n, void* dst) {
  const auto* s = static_cast<const unsigned char*>(src);
  auto* d = static_cast<unsigned char*>(dst);
  const auto two = [&](auto width) {
    constexpr std::size_t w = decltype(width)::value;
    std::memcpy(d, s, w);
    std::memcpy(d + n - w, s + n - w, w);
  };
  if (n >= 32 && n <= 64)
    two(std::integral_constant<std::size_t, 32>{});
  else if (n >= 16 && n < 32)
    two(std::integral_constant<std::size_t, 16>{});
  else if (n >= 8 && n < 16)
    two(std::integral_constant<std::size_t, 8>{});
  else if (n >= 4 && n < 8)
    two(std::integral_constant<std::size_t, 4>{});
  else
    std::memcpy(d, s, n);
}

// im2col: dst[kk][ld·kk + pix] (K rows of HWo, row stride ld ≥ HWo). Stride 1 copies runs of
// Wo codes; otherwise one code in s.
template <class T>
void im2col(const T* pad, const Conv2dGeometry& q, T* dst, std::size_t ld) {
  const std::size_t Hp = q.H + 2 * q.p, Wp = q.W + 2 * q.p;
  for (std::size_t c = 0; c < q.Cg; ++c)
    for (std::size_t i = 0; i < q.k; ++i)
      for (std::size_t j = 0; j < q.k; ++j) {
        T* row = dst + ((c * q.k + i) * q.k + j) * ld;
        for (std::size_t oh = 0; oh < q.Ho; ++oh) {
          const T* src = pad + (c * Hp + oh * q.s + i) * Wp + j;
          T* out = row + oh * q.Wo;
          if (q.s == 1)
            copy_run(src, q.Wo * sizeof(T), out);
          else
            for (std::size_t ow = 0; ow < q.Wo; ++ow) out[ow] = src[ow * q.s];
        }
      }
}

// The codes of x's group as im2row (rows are pixels) in m.
template <class T>
void gather_rows(CodeMatrix& m, Conv2dFixedScratch::Thread& f, FixedPath path, int shift,
                 const float* x, const Conv2dGeometry& q) {
  std::vector<T>& pad = pad_of<T>(f);
  pad_codes(x, q, shift, pad);
  im2row(pad.data(), q, static_cast<T*>(m.reset(path, shift, int(q.HWo), int(q.K))));
}

// Image j of a dW chunk: its codes as im2col into columns [j·HWo, (j + 1)·HWo) of a (K × ld).
template <class T>
void gather_columns(void* a, std::size_t ld, std::size_t j, Conv2dFixedScratch::Thread& f,
                    int shift, const float* x, const Conv2dGeometry& q) {
  std::vector<T>& pad = pad_of<T>(f);
  pad_codes(x, q, shift, pad);
  im2col(pad.data(), q, static_cast<T*>(a) + j * q.HWo, ld);
}

// Per-group codes of w (O, Cg·k·k): W_g (Og × K) or, transposed, W_gᵀ (K × Og); packed.
void load_weights(Conv2dFixedScratch& s, FixedPath path, int shift, const float* w,
                  const Conv2dGeometry& q, bool transposed) {
  s.weights.resize(q.g);
  for (std::size_t g = 0; g < q.g; ++g) {
    const float* wg = w + g * q.Og * q.K;
    if (transposed)
      s.weights[g].load(path, shift, wg, int(q.K), int(q.Og), int(q.K), true);
    else
      s.weights[g].load(path, shift, wg, int(q.Og), int(q.K), int(q.K), false);
    s.weights[g].pack_as_right();
  }
}

// The int8 forward's weights: w (O, C, k, k) as codes in Conv2dInt8's [O][k][k][C] order,
// packed, and the correction of the +128 its input carries.
void load_conv_weights(Conv2dFixedScratch& s, int shift, const float* w, const Conv2dGeometry& q) {
  const std::size_t kk = q.k * q.k;
  std::vector<std::int8_t> codes(q.O * q.K);
  const float inv = std::ldexp(1.0f, -shift);
  for (std::size_t o = 0; o < q.O; ++o)
    for (std::size_t c = 0; c < q.C; ++c)
      for (std::size_t t = 0; t < kk; ++t)
        codes[(o * kk + t) * q.C + c] = std::int8_t(w[(o * q.C + c) * kk + t] * inv);
  const int k = int(q.k);
  s.conv = int8::Conv2dInt8(codes.data(), int(q.C), int(q.O),
                            int8::ConvGeometry::square(k, int(q.s), int(q.p)));
  s.conv_bias = s.conv.zero_point_bias(128);
}

// dx of an ungrouped stride-1 convolution (p < k): the transposed convolution is the
// convolution of dy, padded k − 1 − p, with the filters flipped and their channels swapped,
// w'[c][k−1−i][k−1−j][o] = w[o][c][i][j]. Its output is H × W, and its exact sums are the
// col2im sums of the general path: the same dx, bit for bit, with no int64 image to scatter
// into and a GEMM whose K is O·k·k rather than O (APT's 16-bit gradients: 16 for ResNet-20's
// first stage, where the int16 GEMM's tiles spent as long widening sums as multiplying).
bool dx_as_conv(const Conv2dGeometry& q) { return q.g == 1 && q.s == 1 && q.p < q.k; }

// The convolution dx_as_conv runs: dy (O, Ho, Wo) padded k − 1 − p, output C × H × W.
Conv2dGeometry dx_geometry(const Conv2dGeometry& q) {
  return conv2d_geometry(1, q.O, q.Ho, q.Wo, q.C, q.k, 1, q.k - 1 - q.p, 1);
}

// Calls put(c, o, t, code) for each code of w, t = (k−1−i)·k + (k−1−j) the tap it takes in the
// flipped filter w'[c][k−1−i][k−1−j][o] = w[o][c][i][j] (dx_as_conv); the two loaders below
// differ only in where they put it.
template <class Put>
void for_each_flipped_code(const float* w, int shift, const Conv2dGeometry& q, Put put) {
  const std::size_t k = q.k;
  const float inv = std::ldexp(1.0f, -shift);
  for (std::size_t o = 0; o < q.O; ++o)
    for (std::size_t c = 0; c < q.C; ++c)
      for (std::size_t i = 0; i < k; ++i)
        for (std::size_t j = 0; j < k; ++j)
          put(c, o, (k - 1 - i) * k + (k - 1 - j), w[((o * q.C + c) * k + i) * k + j] * inv);
}

// The int16 path's w' (C × O·k·k, columns in im2row_hwc's (i'·k + j')·O + o order), packed.
void load_flipped_weights_s16(Conv2dFixedScratch& s, int shift, const float* w,
                              const Conv2dGeometry& q) {
  const std::size_t K = q.O * q.k * q.k;
  s.weights.resize(1);
  auto* codes =
      static_cast<std::int16_t*>(s.weights[0].reset(FixedPath::int16, shift, int(q.C), int(K)));
  for_each_flipped_code(w, shift, q, [&](std::size_t c, std::size_t o, std::size_t t, float v) {
    codes[c * K + t * q.O + o] = std::int16_t(v);
  });
  s.weights[0].pack_as_right();
}

// The int8 path's w' as Conv2dInt8's [c][k'][k'][o], packed with its correction.
void load_flipped_weights(Conv2dFixedScratch& s, int shift, const float* w,
                          const Conv2dGeometry& q) {
  const std::size_t kk = q.k * q.k;
  std::vector<std::int8_t> codes(q.O * q.K);
  for_each_flipped_code(w, shift, q, [&](std::size_t c, std::size_t o, std::size_t t, float v) {
    codes[(c * kk + t) * q.O + o] = std::int8_t(v);
  });
  s.conv = int8::Conv2dInt8(codes.data(), int(q.O), int(q.C),
                            int8::ConvGeometry::square(int(q.k), 1, int(q.k - 1 - q.p)));
  s.conv_bias = s.conv.zero_point_bias(128);
}

// out (N, Co, HWo) = float(step · Σ) of s.conv over in (N, Ci, Hi, Wi), its codes at `shift`:
// Conv2dInt8's kernel reads patches from each image; images split over T threads.
void conv_int8_patches(float* out, const float* in, int shift, double step, std::size_t N,
                       std::size_t Ci, std::size_t Hi, std::size_t Wi, std::size_t Co,
                       std::size_t HWo, Conv2dFixedScratch& s, int T) {
  parallel_split(std::int64_t(N), T, [&](int t, std::int64_t n0, std::int64_t n1) {
    Conv2dFixedScratch::Thread& f = s.threads[std::size_t(t)];
    f.image.resize(Ci * Hi * Wi);
    f.gemm.c32.resize(HWo * Co);
    const std::int32_t* c32 = f.gemm.c32.data();
    const std::int32_t* bias = s.conv_bias.data();
    for (std::size_t n = std::size_t(n0); n < std::size_t(n1); ++n) {
      codes_to_nhwc_u8(in + n * Ci * Hi * Wi, Ci, Hi * Wi, shift, f.image.data());
      s.conv.forward_rows(f.image.data(), 1, int(Hi), int(Wi), 128, 0, std::int64_t(HWo),
                          f.gemm.c32.data(), f.columns);  // (HWo × Co)
      store_planes_i32(c32, bias, HWo, Co, step, out + n * Co * HWo);
    }
  });
}

int prepare_threads(Conv2dFixedScratch& s) {
  const int T = num_threads();
  if (s.threads.size() < std::size_t(T)) s.threads.resize(std::size_t(T));
  return T;
}

}  // namespace

void conv2d_forward_fixed(float* y, const float* x, FixedPoint fx, const float* w, FixedPoint fw,
                          FixedPath path, const Conv2dGeometry& q, Conv2dFixedScratch& s) {
  QB_CHECK(path != FixedPath::none && !q.depthwise());
  const double step = pow2(fx.shift + fw.shift);
  const int T = prepare_threads(s);
  if (path == FixedPath::int8 && q.g == 1) {
    load_conv_weights(s, fw.shift, w, q);
    conv_int8_patches(y, x, fx.shift, step, q.N, q.C, q.H, q.W, q.O, q.HWo, s, T);
    return;
  }
  load_weights(s, path, fw.shift, w, q, false);
  parallel_split(std::int64_t(q.N), T, [&](int t, std::int64_t n0, std::int64_t n1) {
    Conv2dFixedScratch::Thread& f = s.threads[std::size_t(t)];
    for (std::size_t n = std::size_t(n0); n < std::size_t(n1); ++n)
      for (std::size_t g = 0; g < q.g; ++g) {
        const float* xg = x + (n * q.C + g * q.Cg) * q.H * q.W;
        if (path == FixedPath::int8)
          gather_rows<std::int8_t>(f.gemm.a, f, path, fx.shift, xg, q);
        else
          gather_rows<std::int16_t>(f.gemm.a, f, path, fx.shift, xg, q);
        multiply_exact(f.gemm.a, s.weights[g], f.gemm.c32, f.gemm.p);  // (HWo × Og)
        store_planes_i64(f.gemm.p.data(), q.HWo, q.Og, step, y + (n * q.O + g * q.Og) * q.HWo);
      }
  });
}

void conv2d_data_grad_fixed(float* dx, const float* dy, FixedPoint fdy, const float* w,
                            FixedPoint fw, FixedPath path, const Conv2dGeometry& q,
                            Conv2dFixedScratch& s) {
  QB_CHECK(path != FixedPath::none && !q.depthwise());
  const double step = pow2(fdy.shift + fw.shift);
  const int T = prepare_threads(s);
  if (path == FixedPath::int8 && dx_as_conv(q)) {
    load_flipped_weights(s, fw.shift, w, q);
    conv_int8_patches(dx, dy, fdy.shift, step, q.N, q.O, q.Ho, q.Wo, q.C, q.H * q.W, s, T);
    return;
  }
  // int16 only where the transposed convolution reads no more than the forward (p ≥ (k−1)/2;
  // LeNet-5's conv2, 5×5 with p = 0, would pad dy by 4: 5× the col2im path's products) and its
  // C output columns fill the GEMM's 16-wide panels (LeNet-5's conv1, whose dx APT's input hook
  // asks for, has C = 1: its epoch took 1.5× as long).
  if (path == FixedPath::int16 && dx_as_conv(q) && 2 * q.p + 1 >= q.k &&
      q.C >= std::size_t(int8::PackedS16::kPanel)) {
    load_flipped_weights_s16(s, fw.shift, w, q);
    const Conv2dGeometry t = dx_geometry(q);
    const std::size_t HW = q.H * q.W;
    parallel_split(std::int64_t(q.N), T, [&](int th, std::int64_t n0, std::int64_t n1) {
      Conv2dFixedScratch::Thread& f = s.threads[std::size_t(th)];
      for (std::size_t n = std::size_t(n0); n < std::size_t(n1); ++n) {
        pad_codes_hwc(dy + n * q.O * q.HWo, t, fdy.shift, f.codes);
        im2row_hwc(f.codes.data(), t,
                   static_cast<std::int16_t*>(f.gemm.a.reset(path, fdy.shift, int(HW), int(t.K))));
        multiply_exact(f.gemm.a, s.weights[0], f.gemm.c32, f.gemm.p);  // (HW × C)
        store_planes_i64(f.gemm.p.data(), HW, q.C, step, dx + n * q.C * HW);
      }
    });
    return;
  }
  load_weights(s, path, fw.shift, w, q, true);
  parallel_split(std::int64_t(q.N), T, [&](int t, std::int64_t n0, std::int64_t n1) {
    Conv2dFixedScratch::Thread& f = s.threads[std::size_t(t)];
    for (std::size_t n = std::size_t(n0); n < std::size_t(n1); ++n)
      for (std::size_t g = 0; g < q.g; ++g) {
        const float* dyg = dy + (n * q.O + g * q.Og) * q.HWo;
        f.gemm.a.load(path, fdy.shift, dyg, int(q.HWo), int(q.Og), int(q.HWo), true);
        multiply_exact(f.gemm.a, s.weights[g], f.gemm.c32, f.gemm.p);  // (HWo × K)
        // col2im on exact sums: each pixel's row added into a zero-padded int64 image, whose
        // inside is then scaled once.
        const std::size_t Hp = q.H + 2 * q.p, Wp = q.W + 2 * q.p;
        f.sums.assign(q.Cg * Hp * Wp, 0);
        for (std::size_t oh = 0; oh < q.Ho; ++oh)
          for (std::size_t ow = 0; ow < q.Wo; ++ow) {
            const std::int64_t* row = f.gemm.p.data() + (oh * q.Wo + ow) * q.K;
            for (std::size_t c = 0; c < q.Cg; ++c)
              for (std::size_t i = 0; i < q.k; ++i) {
                std::int64_t* d = f.sums.data() + (c * Hp + oh * q.s + i) * Wp + ow * q.s;
                const std::int64_t* r = row + (c * q.k + i) * q.k;
                for (std::size_t j = 0; j < q.k; ++j) d[j] += r[j];
              }
          }
        float* dxg = dx + (n * q.C + g * q.Cg) * q.H * q.W;
        for (std::size_t c = 0; c < q.Cg; ++c)
          for (std::size_t h = 0; h < q.H; ++h) {
            const std::int64_t* sr = f.sums.data() + (c * Hp + h + q.p) * Wp + q.p;
            float* out = dxg + (c * q.H + h) * q.W;
            for (std::size_t w = 0; w < q.W; ++w) out[w] = float(double(sr[w]) * step);
          }
      }
  });
}

void conv2d_weight_grad_fixed(float* dw, const float* dy, FixedPoint fdy, const float* x,
                              FixedPoint fx, FixedPath path, const Conv2dGeometry& q,
                              Conv2dFixedScratch& s) {
  QB_CHECK(path != FixedPath::none && !q.depthwise());
  const double step = pow2(fdy.shift + fx.shift);
  const int T = prepare_threads(s);
  const std::size_t wsize = q.O * q.K;
  s.dw_parts.resize(std::size_t(T));
  for (auto& part : s.dw_parts) part.assign(wsize, 0);
  // Images per GEMM: Σ_n dy_n · col(x_n)ᵀ is one product of the images side by side along the
  // reduction, [col(x_n0) … col(x_n1)] (K × m·HWo) times [dy_n0 … dy_n1] (Og × m·HWo), so the
  // packing and the (K × Og) result are paid per chunk rather than per image (ResNet-20's stage
  // 3 has HWo = 64: per image they cost about what its products did).
  const std::size_t per = std::max<std::size_t>(1, s.dw_columns / q.HWo);
  parallel_split(std::int64_t(q.N), T, [&](int t, std::int64_t n0, std::int64_t n1) {
    Conv2dFixedScratch::Thread& f = s.threads[std::size_t(t)];
    std::int64_t* part = s.dw_parts[std::size_t(t)].data();
    for (std::size_t n = std::size_t(n0); n < std::size_t(n1); n += per) {
      const std::size_t m = std::min(per, std::size_t(n1) - n), R = m * q.HWo;
      for (std::size_t g = 0; g < q.g; ++g) {
        void* a = f.gemm.a.reset(path, fx.shift, int(q.K), int(R));
        f.gemm.b.reset(path, fdy.shift, int(q.Og), int(R));
        for (std::size_t j = 0; j < m; ++j) {
          const float* xg = x + ((n + j) * q.C + g * q.Cg) * q.H * q.W;
          if (path == FixedPath::int8)
            gather_columns<std::int8_t>(a, R, j, f, fx.shift, xg, q);
          else
            gather_columns<std::int16_t>(a, R, j, f, fx.shift, xg, q);
          const float* dyg = dy + ((n + j) * q.O + g * q.Og) * q.HWo;
          f.gemm.b.load_columns(dyg, int(q.HWo), int(q.HWo), int(j * q.HWo));
        }
        f.gemm.b.pack_as_right();
        multiply_exact(f.gemm.a, f.gemm.b, f.gemm.c32, f.gemm.p);  // (K × Og)
        const std::int64_t* p = f.gemm.p.data();
        std::int64_t* pg = part + g * q.Og * q.K;
        for (std::size_t kk = 0; kk < q.K; ++kk)
          for (std::size_t o = 0; o < q.Og; ++o) pg[o * q.K + kk] += p[kk * q.Og + o];
      }
    }
  });
  for (std::size_t i = 0; i < wsize; ++i) {
    std::int64_t sum = 0;
    for (int t = 0; t < T; ++t) sum += s.dw_parts[std::size_t(t)][i];
    dw[i] += float(double(sum) * step);
  }
}

}  // namespace qb
