// Fully connected layer: x [N, in] -> y [N, out] = x·Wᵀ + b, W [out, in].
//
// Each of its three GEMMs (y = x·Wᵀ, dW += dyᵀ·x, dx = dy·W) runs on the integer kernels when
// both of its operands come from hooks that report fixed point (engine/fixed_point.h) of at
// most 16 bits, and on the float GEMM otherwise.
#pragma once

#include "engine/fixed_point_gemm.h"
#include "engine/layer.h"
#include "engine/layers/hooks.h"

namespace qb {

class Linear final : public Layer {
 public:
  Linear(std::string name, std::size_t in_features, std::size_t out_features, bool bias = true);

  const Tensor& forward(const Tensor& x, bool training) override;
  const Tensor& backward(const Tensor& dy) override;
  Shape output_shape(const Shape& in) const override;
  void collect_params(std::vector<Param*>& out) override;
  bool has_hooks() const override { return true; }
  void set_hook(HookSlot slot, std::shared_ptr<TensorHook> hook) override;
  TensorHook* hook(HookSlot slot) const override { return hooks_.get(slot); }

  Param& weight() { return weight_; }
  // GEMMs run per path (integer or float), counting y, dx and dW separately.
  const GemmCounts& gemm_counts() const { return gemm_counts_; }
  Param* bias() { return has_bias_ ? &bias_ : nullptr; }

 private:
  std::size_t in_, out_;
  bool has_bias_;
  Param weight_, bias_;
  HookSlots hooks_;
  const Tensor* x_ = nullptr;
  const Tensor* w_ = nullptr;
  Tensor y_, dx_, dw_hooked_;
  GemmCounts gemm_counts_;
  FixedGemmScratch fixed_;
};

}  // namespace qb
