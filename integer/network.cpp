#include "integer/network.h"

#include "engine/check.h"

#include <algorithm>
#include <cmath>
#include <utility>
#include <vector>

namespace qb::integer {

void quantize_image(const ImageInput& in, const float* image, int N, int C, int H, int W,
                    std::vector<std::uint8_t>& codes, std::vector<float>& as_float) {
  const std::size_t total = std::size_t(N) * C * H * W, plane = std::size_t(H) * W;
  // NCHW → NHWC: element (n, c, p) goes to (n·H·W + p)·C + c, p = y·W + x. Plain nested
  // loops: this runs on every image the engine infers.
  auto to_nhwc = [&](auto&& out, auto&& convert) {
    for (std::size_t n = 0; n < std::size_t(N); ++n)
      for (std::size_t c = 0; c < std::size_t(C); ++c) {
        const float* src = image + (n * C + c) * plane;
        auto* dst = out.data() + n * plane * C + c;
        for (std::size_t p = 0; p < plane; ++p) dst[p * C] = convert(src[p]);
      }
  };
  if (in.kind == ImageInput::Kind::floating) {
    as_float.resize(total);
    to_nhwc(as_float, [](float v) { return v; });
    return;
  }
  codes.resize(total);
  if (in.kind == ImageInput::Kind::grid)  // as the quantizer does: rint(x / s), then clamp
    to_nhwc(codes, [&](float v) {
      return std::uint8_t(std::clamp<double>(std::nearbyint(v / float(in.scale)), in.lo, in.hi) +
                          in.offset);
    });
  else  // pixels: x · 255σ + 255μ is the pixel up to float error far below ½
    to_nhwc(codes, [&](float v) {
      return std::uint8_t(
          std::clamp(std::nearbyint(double(v) / in.scale + in.zero_point), 0.0, 255.0));
    });
}

namespace {

// The output pixels ox of a row whose tap kx reads inside the image: ix = ox·stride + kx − pad
// in [0, W), as [lo, hi).
std::pair<int, int> inside(int kx, int stride, int pad, int W, int Wo) {
  const int first = pad - kx;         // ox·stride ≥ first
  const int last = W - 1 + pad - kx;  // ox·stride ≤ last
  if (last < 0) return {0, 0};
  const int lo = first > 0 ? (first + stride - 1) / stride : 0;
  return {std::min(lo, Wo), std::min(Wo, last / stride + 1)};
}

}  // namespace

// Two loop orders, chosen by shape, each adding every output's products in (ky, kx, ci) order
// and skipping the padding taps — the same floats as one output at a time (which took a LeNet-5
// stem, C_in = 1, 0.4 ms an image): along a row of pixels for layers with few output channels
// (stems), along the output channels otherwise. std::fma, not `s += x * w`: GCC contracted the
// scalar loop and not every lane of the vector one, and the two orders parted in the last bit.
void float_conv(const Layer& l, const float* x, int N, float* y) {
  const auto& g = l.geometry;
  const std::size_t C_in = std::size_t(l.C_in), C_out = std::size_t(l.C_out);
  const std::size_t taps = std::size_t(g.kh) * std::size_t(g.kw) * C_in;
  const float* w = l.float_weight.data();  // [co][ky][kx][ci]
  if (C_out < 8) {
    std::vector<float> s(std::size_t(l.Wo));
    for (int n = 0; n < N; ++n)
      for (int oy = 0; oy < l.Ho; ++oy)
        for (std::size_t co = 0; co < C_out; ++co) {
          std::fill(s.begin(), s.end(), 0.0f);
          for (int ky = 0; ky < g.kh; ++ky) {
            const int iy = oy * g.stride_h + ky - g.pad_top;
            if (iy < 0 || iy >= l.H) continue;  // zero padding
            for (int kx = 0; kx < g.kw; ++kx) {
              const auto [lo, hi] = inside(kx, g.stride_w, g.pad_left, l.W, l.Wo);
              for (std::size_t ci = 0; ci < C_in; ++ci) {
                const float wv = w[co * taps + (std::size_t(ky) * g.kw + kx) * C_in + ci];
                const float* xr = x + (std::size_t(n) * l.H + iy) * l.W * C_in + ci;
                for (int ox = lo; ox < hi; ++ox)
                  s[ox] = std::fma(xr[std::size_t(ox * g.stride_w + kx - g.pad_left) * C_in], wv,
                                   s[ox]);
              }
            }
          }
          float* yr = y + (std::size_t(n) * l.Ho + oy) * l.Wo * C_out + co;
          for (int ox = 0; ox < l.Wo; ++ox) yr[std::size_t(ox) * C_out] = s[ox] + l.float_bias[co];
        }
    return;
  }
  std::vector<float> wt(taps * C_out), s(C_out);  // [ky][kx][ci][co]
  for (std::size_t co = 0; co < C_out; ++co)
    for (std::size_t t = 0; t < taps; ++t) wt[t * C_out + co] = w[co * taps + t];
  for (int n = 0; n < N; ++n)
    for (int oy = 0; oy < l.Ho; ++oy)
      for (int ox = 0; ox < l.Wo; ++ox) {
        std::fill(s.begin(), s.end(), 0.0f);
        for (int ky = 0; ky < g.kh; ++ky)
          for (int kx = 0; kx < g.kw; ++kx) {
            const int iy = oy * g.stride_h + ky - g.pad_top;
            const int ix = ox * g.stride_w + kx - g.pad_left;
            if (iy < 0 || iy >= l.H || ix < 0 || ix >= l.W) continue;  // zero padding
            const float* xp = x + ((std::size_t(n) * l.H + iy) * l.W + ix) * C_in;
            const float* wk = wt.data() + (std::size_t(ky) * g.kw + kx) * C_in * C_out;
            for (std::size_t ci = 0; ci < C_in; ++ci) {
              const float xv = xp[ci];
              const float* wc = wk + ci * C_out;
              for (std::size_t co = 0; co < C_out; ++co) s[co] = std::fma(xv, wc[co], s[co]);
            }
          }
        float* yp = y + ((std::size_t(n) * l.Ho + oy) * l.Wo + ox) * C_out;
        for (std::size_t co = 0; co < C_out; ++co) yp[co] = s[co] + l.float_bias[co];
      }
}

std::uint8_t quantize_real(const Requant& r, float y) {
  const double q = std::nearbyint(double(y) / r.scale) + r.zero_point;
  return std::uint8_t(std::clamp<double>(q, r.lo, r.hi));
}

}  // namespace qb::integer
