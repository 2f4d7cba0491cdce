#include "engine/layers/conv2d_fixed.h"

#include "engine/check.h"
#include "engine/parallel.h"

#include <algorithm>
#include <cmath>

namespace qb {
namespace {

// dst[pix·sp + kk·sk] = the code of x[c, oh·s − p + i, ow·s − p + j] (0 outside the image),
// kk = (c·k + i)·k + j, pix = oh·Wo + ow: im2col (sp = 1, sk = HWo) or im2row (sp = K, sk = 1)
// of one image's group x (Cg, H, W), converted on the way (exact: x is on its grid).
template <class T>
void gather_codes(const float* x, const Conv2dGeometry& q, int shift, T* dst, std::size_t sp,
                  std::size_t sk) {
  const float inv = std::ldexp(1.0f, -shift);
  for (std::size_t c = 0; c < q.Cg; ++c)
    for (std::size_t i = 0; i < q.k; ++i)
      for (std::size_t j = 0; j < q.k; ++j) {
        const std::size_t kk = (c * q.k + i) * q.k + j;
        for (std::size_t oh = 0; oh < q.Ho; ++oh) {
          const std::ptrdiff_t ih = std::ptrdiff_t(oh * q.s + i) - std::ptrdiff_t(q.p);
          const bool row_in = ih >= 0 && ih < std::ptrdiff_t(q.H);
          const float* xr = x + (c * q.H + std::size_t(row_in ? ih : 0)) * q.W;
          for (std::size_t ow = 0; ow < q.Wo; ++ow) {
            const std::ptrdiff_t iw = std::ptrdiff_t(ow * q.s + j) - std::ptrdiff_t(q.p);
            const bool in = row_in && iw >= 0 && iw < std::ptrdiff_t(q.W);
            dst[(oh * q.Wo + ow) * sp + kk * sk] = in ? T(xr[iw] * inv) : T(0);
          }
        }
      }
}

void gather(CodeMatrix& m, FixedPath path, int shift, const float* x, const Conv2dGeometry& q,
            bool rows_are_pixels) {
  const int rows = int(rows_are_pixels ? q.HWo : q.K), cols = int(rows_are_pixels ? q.K : q.HWo);
  void* codes = m.reset(path, shift, rows, cols);
  const std::size_t sp = rows_are_pixels ? q.K : 1, sk = rows_are_pixels ? 1 : q.HWo;
  if (path == FixedPath::int8)
    gather_codes(x, q, shift, static_cast<std::int8_t*>(codes), sp, sk);
  else
    gather_codes(x, q, shift, static_cast<std::int16_t*>(codes), sp, sk);
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

int prepare_threads(Conv2dFixedScratch& s) {
  const int T = num_threads();
  if (s.threads.size() < std::size_t(T)) s.threads.resize(std::size_t(T));
  return T;
}

}  // namespace

void conv2d_forward_fixed(float* y, const float* x, FixedPoint fx, const float* w, FixedPoint fw,
                          FixedPath path, const Conv2dGeometry& q, Conv2dFixedScratch& s) {
  QB_CHECK(path != FixedPath::none && !q.depthwise());
  load_weights(s, path, fw.shift, w, q, false);
  const double step = pow2(fx.shift + fw.shift);
  const int T = prepare_threads(s);
  parallel_split(std::int64_t(q.N), T, [&](int t, std::int64_t n0, std::int64_t n1) {
    FixedGemmScratch& f = s.threads[std::size_t(t)];
    for (std::size_t n = std::size_t(n0); n < std::size_t(n1); ++n)
      for (std::size_t g = 0; g < q.g; ++g) {
        gather(f.a, path, fx.shift, x + (n * q.C + g * q.Cg) * q.H * q.W, q, true);
        multiply_exact(f.a, s.weights[g], f.c32, f.p);  // (HWo × Og)
        float* yg = y + (n * q.O + g * q.Og) * q.HWo;
        for (std::size_t o = 0; o < q.Og; ++o)
          for (std::size_t pix = 0; pix < q.HWo; ++pix)
            yg[o * q.HWo + pix] = float(double(f.p[pix * q.Og + o]) * step);
      }
  });
}

void conv2d_data_grad_fixed(float* dx, const float* dy, FixedPoint fdy, const float* w,
                            FixedPoint fw, FixedPath path, const Conv2dGeometry& q,
                            Conv2dFixedScratch& s) {
  QB_CHECK(path != FixedPath::none && !q.depthwise());
  load_weights(s, path, fw.shift, w, q, true);
  const double step = pow2(fdy.shift + fw.shift);
  const int T = prepare_threads(s);
  parallel_split(std::int64_t(q.N), T, [&](int t, std::int64_t n0, std::int64_t n1) {
    FixedGemmScratch& f = s.threads[std::size_t(t)];
    for (std::size_t n = std::size_t(n0); n < std::size_t(n1); ++n)
      for (std::size_t g = 0; g < q.g; ++g) {
        const float* dyg = dy + (n * q.O + g * q.Og) * q.HWo;
        f.a.load(path, fdy.shift, dyg, int(q.HWo), int(q.Og), int(q.HWo), true);
        multiply_exact(f.a, s.weights[g], f.c32, f.p);  // (HWo × K)
        // col2im's order: per column row (c, i, j), its pixels in order.
        float* dxg = dx + (n * q.C + g * q.Cg) * q.H * q.W;
        std::fill(dxg, dxg + q.Cg * q.H * q.W, 0.0f);
        for (std::size_t c = 0; c < q.Cg; ++c)
          for (std::size_t i = 0; i < q.k; ++i)
            for (std::size_t j = 0; j < q.k; ++j) {
              const std::size_t kk = (c * q.k + i) * q.k + j;
              for (std::size_t oh = 0; oh < q.Ho; ++oh) {
                const std::ptrdiff_t ih = std::ptrdiff_t(oh * q.s + i) - std::ptrdiff_t(q.p);
                if (ih < 0 || ih >= std::ptrdiff_t(q.H)) continue;
                float* out = dxg + (c * q.H + std::size_t(ih)) * q.W;
                for (std::size_t ow = 0; ow < q.Wo; ++ow) {
                  const std::ptrdiff_t iw = std::ptrdiff_t(ow * q.s + j) - std::ptrdiff_t(q.p);
                  if (iw < 0 || iw >= std::ptrdiff_t(q.W)) continue;
                  out[iw] += float(double(f.p[(oh * q.Wo + ow) * q.K + kk]) * step);
                }
              }
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
  parallel_split(std::int64_t(q.N), T, [&](int t, std::int64_t n0, std::int64_t n1) {
    FixedGemmScratch& f = s.threads[std::size_t(t)];
    std::int64_t* part = s.dw_parts[std::size_t(t)].data();
    for (std::size_t n = std::size_t(n0); n < std::size_t(n1); ++n)
      for (std::size_t g = 0; g < q.g; ++g) {
        gather(f.a, path, fx.shift, x + (n * q.C + g * q.Cg) * q.H * q.W, q, false);
        const float* dyg = dy + (n * q.O + g * q.Og) * q.HWo;
        f.b.load(path, fdy.shift, dyg, int(q.Og), int(q.HWo), int(q.HWo), false);
        f.b.pack_as_right();
        multiply_exact(f.a, f.b, f.c32, f.p);  // (K × Og)
        std::int64_t* pg = part + g * q.Og * q.K;
        for (std::size_t kk = 0; kk < q.K; ++kk)
          for (std::size_t o = 0; o < q.Og; ++o) pg[o * q.K + kk] += f.p[kk * q.Og + o];
      }
  });
  for (std::size_t i = 0; i < wsize; ++i) {
    std::int64_t sum = 0;
    for (int t = 0; t < T; ++t) sum += s.dw_parts[std::size_t(t)][i];
    dw[i] += float(double(sum) * step);
  }
}

}  // namespace qb
