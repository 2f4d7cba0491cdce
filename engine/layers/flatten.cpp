#include "engine/layers/flatten.h"

#include "engine/check.h"

#include <algorithm>

namespace qb {

Flatten::Flatten(std::string name) : Layer(LayerInfo{}) {
  info_.name = std::move(name);
  info_.kind = LayerKind::flatten;
}

Shape Flatten::output_shape(const Shape& in) const {
  if (in.empty()) throw error(name(), ": cannot flatten a scalar");
  return {in[0], numel(in) / std::max<std::size_t>(in[0], 1)};
}

const Tensor& Flatten::forward(const Tensor& x, bool) {
  xs_ = shape_of(x);
  ensure_shape(y_, output_shape(xs_));
  std::copy(x.data(), x.data() + x.size(), y_.data());
  return y_;
}

const Tensor& Flatten::backward(const Tensor& dy) {
  QB_CHECK_EQ(dy.size(), numel(xs_));
  ensure_shape(dx_, xs_);
  std::copy(dy.data(), dy.data() + dy.size(), dx_.data());
  return dx_;
}

}  // namespace qb
