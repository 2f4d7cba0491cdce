#include "integer/network.h"

#include "engine/check.h"

#include <algorithm>
#include <cmath>

namespace qb::integer {

void quantize_image(const ImageInput& in, const float* image, int N, int C, int H, int W,
                    std::vector<std::uint8_t>& codes, std::vector<float>& as_float) {
  const std::size_t total = std::size_t(N) * C * H * W;
  // NCHW → NHWC: element (n, c, y, x) goes to ((n·H + y)·W + x)·C + c.
  auto nhwc = [&](std::size_t i) {
    const std::size_t x = i % W, y = (i / W) % H, c = (i / (std::size_t(W) * H)) % C,
                      n = i / (std::size_t(W) * H * C);
    return ((n * H + y) * W + x) * C + c;
  };
  if (in.kind == ImageInput::Kind::floating) {
    as_float.resize(total);
    for (std::size_t i = 0; i < total; ++i) as_float[nhwc(i)] = image[i];
    return;
  }
  codes.resize(total);
  for (std::size_t i = 0; i < total; ++i) {
    double q;
    if (in.kind == ImageInput::Kind::grid)  // as the quantizer does: rint(x / s), then clamp
      q = std::clamp<double>(std::nearbyint(image[i] / float(in.scale)), in.lo, in.hi) + in.offset;
    else  // pixels: x · 255σ + 255μ is the pixel up to float error far below ½
      q = std::clamp(std::nearbyint(double(image[i]) / in.scale + in.zero_point), 0.0, 255.0);
    codes[nhwc(i)] = std::uint8_t(q);
  }
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
