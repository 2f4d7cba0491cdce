// Pooling over [N, C, H, W] without padding.
//   MaxPool2d:  y = max over each k×k window (stride s); dy goes to the first maximum.
//   AvgPool2d:  y = mean over each window; dy/k² to every element of it.
//   GlobalAvgPool: [N, C, H, W] -> [N, C], mean over H·W.
#pragma once

#include "engine/layer.h"

#include <cstdint>

namespace qb {

class Pool2d final : public Layer {
 public:
  Pool2d(std::string name, LayerKind kind, std::size_t kernel, std::size_t stride);

  const Tensor& forward(const Tensor& x, bool training) override;
  const Tensor& backward(const Tensor& dy) override;
  Shape output_shape(const Shape& in) const override;

 private:
  std::size_t k_, s_;
  Shape xs_;
  Tensor y_, dx_;
  std::vector<std::uint32_t> argmax_;  // max pooling: flat input index of each output's maximum
};

class GlobalAvgPool final : public Layer {
 public:
  explicit GlobalAvgPool(std::string name);

  const Tensor& forward(const Tensor& x, bool training) override;
  const Tensor& backward(const Tensor& dy) override;
  Shape output_shape(const Shape& in) const override;

 private:
  Shape xs_;
  Tensor y_, dx_;
};

}  // namespace qb
