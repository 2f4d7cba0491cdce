#include "methods/fake_quant.h"

#include <algorithm>
#include <cmath>

namespace qb {

void fake_quant(const float* x, float* y, std::size_t n, float s, float lo, float hi) {
#pragma omp simd
  for (std::size_t i = 0; i < n; ++i) y[i] = std::min(std::max(std::rint(x[i] / s), lo), hi) * s;
}

void fake_quant_per_channel(const float* x, float* y, std::size_t channels, std::size_t per_channel,
                            const float* s, float lo, float hi) {
  for (std::size_t c = 0; c < channels; ++c)
    fake_quant(x + c * per_channel, y + c * per_channel, per_channel, s[c], lo, hi);
}

float max_abs(const float* x, std::size_t n) {
  float m = 0.0f;
#pragma omp simd reduction(max : m)
  for (std::size_t i = 0; i < n; ++i) m = std::max(m, std::abs(x[i]));
  return m;
}

}  // namespace qb
