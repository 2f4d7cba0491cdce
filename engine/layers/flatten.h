// [N, C, H, W] -> [N, C·H·W]; backward restores the shape. Copies (cheap next to any GEMM)
// so that every layer owns its output.
#pragma once

#include "engine/layer.h"

namespace qb {

class Flatten final : public Layer {
 public:
  explicit Flatten(std::string name);
  const Tensor& forward(const Tensor& x, bool training) override;
  const Tensor& backward(const Tensor& dy) override;
  Shape output_shape(const Shape& in) const override;

 private:
  Shape xs_;
  Tensor y_, dx_;
};

}  // namespace qb
