#include "engine/loss.h"

#include "engine/check.h"

#include <algorithm>
#include <cmath>

namespace qb {

float SoftmaxCrossEntropy::forward(const Tensor& logits, const std::vector<std::int32_t>& labels) {
  QB_CHECK_EQ(logits.dimension(), 2u);
  const std::size_t N = logits.shape()[0], K = logits.shape()[1];
  QB_CHECK_EQ(labels.size(), N);
  ensure_shape(grad_, {N, K});
  const float* z = logits.data();
  float* g = grad_.data();
  double total = 0.0;
  correct_ = 0;
  const float invN = 1.0f / float(N);
  for (std::size_t n = 0; n < N; ++n) {
    const float* zn = z + n * K;
    float* gn = g + n * K;
    const std::int32_t y = labels[n];
    QB_CHECK(y >= 0 && std::size_t(y) < K);
    const std::size_t arg = std::size_t(std::max_element(zn, zn + K) - zn);
    const float zmax = zn[arg];
    double denom = 0.0;
    for (std::size_t k = 0; k < K; ++k) denom += std::exp(double(zn[k] - zmax));
    const double log_denom = std::log(denom);
    total += log_denom - double(zn[y] - zmax);
    for (std::size_t k = 0; k < K; ++k)
      gn[k] = float(std::exp(double(zn[k] - zmax) - log_denom)) * invN;
    gn[y] -= invN;
    if (arg == std::size_t(y)) ++correct_;
  }
  return float(total / double(N));
}

}  // namespace qb
