#include "engine/layers/activation.h"

#include "engine/check.h"

#include <limits>

namespace qb {

Activation::Activation(std::string name, LayerKind kind) : Layer(LayerInfo{}) {
  QB_CHECK(kind == LayerKind::relu || kind == LayerKind::relu6);
  info_.name = std::move(name);
  info_.kind = kind;
  upper_ = kind == LayerKind::relu6 ? 6.0f : std::numeric_limits<float>::infinity();
}

const Tensor& Activation::forward(const Tensor& x, bool) {
  ensure_shape(y_, shape_of(x));
  const float* xp = x.data();
  float* yp = y_.data();
  const std::size_t n = x.size();
  const Clip act = clip();
#pragma omp parallel for simd schedule(static)
  for (std::size_t i = 0; i < n; ++i) yp[i] = act(xp[i]);
  return y_;
}

const Tensor& Activation::backward(const Tensor& dy) {
  QB_CHECK(dy.size() == y_.size());
  ensure_shape(dx_, shape_of(y_));
  const float* yp = y_.data();
  const float* d = dy.data();
  float* dxp = dx_.data();
  const std::size_t n = dy.size();
  const float hi = upper_;
#pragma omp parallel for simd schedule(static)
  for (std::size_t i = 0; i < n; ++i) dxp[i] = (yp[i] > 0.0f && yp[i] < hi) ? d[i] : 0.0f;
  return dx_;
}

}  // namespace qb
