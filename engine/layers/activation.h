// Elementwise activations. Backward masks dy with the derivative, read off the output:
//   ReLU  y = max(x, 0)      dy·[y > 0]
//   ReLU6 y = min(max(x,0),6) dy·[0 < y < 6]
#pragma once

#include "engine/layer.h"

namespace qb {

class Activation final : public Layer {
 public:
  Activation(std::string name, LayerKind kind);  // kind: relu or relu6

  const Tensor& forward(const Tensor& x, bool training) override;
  const Tensor& backward(const Tensor& dy) override;
  Shape output_shape(const Shape& in) const override { return in; }

  // For a layer that applies this activation in its own pass (Layer::forward_activated): the
  // function, and the output tensor that backward reads, for that layer to shape and write.
  Clip clip() const { return {0.0f, upper_}; }
  Tensor& fused_output() { return y_; }

 private:
  float upper_;  // clipping level: +inf for ReLU, 6 for ReLU6
  Tensor y_, dx_;
};

}  // namespace qb
