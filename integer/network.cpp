#include "integer/network.h"

#include "engine/check.h"

#include <algorithm>
#include <cmath>

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

void float_conv(const Layer& l, const float* x, int N, float* y) {
  const auto& g = l.geometry;
  for (int n = 0; n < N; ++n)
    for (int oy = 0; oy < l.Ho; ++oy)
      for (int ox = 0; ox < l.Wo; ++ox)
        for (int co = 0; co < l.C_out; ++co) {
          float s = 0.0f;
          for (int ky = 0; ky < g.kh; ++ky)
            for (int kx = 0; kx < g.kw; ++kx) {
              const int iy = oy * g.stride_h + ky - g.pad_top;
              const int ix = ox * g.stride_w + kx - g.pad_left;
              if (iy < 0 || iy >= l.H || ix < 0 || ix >= l.W) continue;  // zero padding
              const float* xp = x + ((std::size_t(n) * l.H + iy) * l.W + ix) * l.C_in;
              const float* wp =
                  l.float_weight.data() + ((std::size_t(co) * g.kh + ky) * g.kw + kx) * l.C_in;
              for (int ci = 0; ci < l.C_in; ++ci) s += xp[ci] * wp[ci];
            }
          y[((std::size_t(n) * l.Ho + oy) * l.Wo + ox) * l.C_out + co] = s + l.float_bias[co];
        }
}

std::uint8_t quantize_real(const Requant& r, float y) {
  const double q = std::nearbyint(double(y) / r.scale) + r.zero_point;
  return std::uint8_t(std::clamp<double>(q, r.lo, r.hi));
}

}  // namespace qb::integer
