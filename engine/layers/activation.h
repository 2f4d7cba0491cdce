// Elementwise activations. Backward masks dy with the derivative, read off the output:
//   ReLU  y = max(x, 0)      dy·[y > 0]
//   ReLU6 y = min(max(x,0),6) dy·[0 < y < 6]
#pragma once

#include "engine/layer.h"

#include <algorithm>

namespace qb {

class Activation final : public Layer {
 public:
  Activation(std::string name, LayerKind kind);  // kind: relu or relu6

  const Tensor& forward(const Tensor& x, bool training) override;
  const Tensor& backward(const Tensor& dy) override;
  Shape output_shape(const Shape& in) const override { return in; }

  // The function, for a layer that fuses this one into its own pass (Layer::forward_activated):
  // the same arithmetic, so the same bits. (Static, the clipping level passed in: hot loops
  // keep it in a register.)
  float upper() const { return upper_; }
  static float apply(float x, float upper) { return std::min(std::max(x, 0.0f), upper); }
  // The output buffer, shaped, for such a layer to write; backward reads it as its own.
  Tensor& output_buffer(const Shape& shape);

 private:
  float upper_;  // clipping level: +inf for ReLU, 6 for ReLU6
  Tensor y_, dx_;
};

}  // namespace qb
