// 2-D convolution, NCHW, with groups (depthwise included) and optional bias.
//
//   x [N, C, H, W]  *  W [O, C/g, kh, kw]  ->  y [N, O, Ho, Wo],
//   Ho = (H + 2p - kh) / s + 1,  Wo likewise.
//
// The arithmetic (im2col + GEMM, the depthwise loop, threads) lives in conv2d_kernels.h; the
// layer holds the parameters, the hook slots and the shapes. Each GEMM (y, dx, dW) whose two
// operands come from hooks reporting fixed point of at most 16 bits runs on the integer kernels
// of conv2d_fixed.h instead (depthwise convolutions excepted).
#pragma once

#include "engine/layer.h"
#include "engine/layers/conv2d_fixed.h"
#include "engine/layers/conv2d_kernels.h"
#include "engine/layers/hooks.h"

namespace qb {

struct Conv2dSpec {
  std::size_t in_channels, out_channels, kernel = 3, stride = 1, padding = 0, groups = 1;
  bool bias = false;
};

class Conv2d final : public Layer {
 public:
  Conv2d(std::string name, const Conv2dSpec& spec);

  const Tensor& forward(const Tensor& x, bool training) override;
  const Tensor& backward(const Tensor& dy) override;
  Shape output_shape(const Shape& in) const override;
  void collect_params(std::vector<Param*>& out) override;
  bool has_hooks() const override { return true; }
  void set_hook(HookSlot slot, std::shared_ptr<TensorHook> hook) override;
  TensorHook* hook(HookSlot slot) const override { return hooks_.get(slot); }

  // The bare convolution y = x ⊛ w with an explicit weight — no hooks, no bias — and its
  // adjoint (dx overwritten, skipped when null; dw accumulated). For layers that compose
  // convolutions of one geometry, such as FoldedConvBn's batch-statistics pass. The adjoint's x,
  // when it is a buffer a convolve() read, must not have changed since (as for backward: the
  // oneDNN path reuses its blocked copy of x; ConvInput in conv2d_onednn.h).
  void convolve(const Tensor& x, const Tensor& w, Tensor& y);
  void convolve_backward(const Tensor& dy, const Tensor& x, const Tensor& w, Tensor* dx,
                         Tensor& dw);

  Param& weight() { return weight_; }
  // GEMMs run per path (integer or float), counting y, dx and dW separately.
  const GemmCounts& gemm_counts() const { return gemm_counts_; }
  Param* bias() { return has_bias_ ? &bias_ : nullptr; }
  bool depthwise() const;

 private:
  Conv2dSpec spec_;
  bool has_bias_;
  Param weight_, bias_;
  HookSlots hooks_;

  const Tensor* x_ = nullptr;   // the (possibly hooked) input of the last forward
  bool float_forward_ = false;  // the last forward ran conv2d_forward (not a fixed-point path)
  const Tensor* w_ = nullptr;   // the (possibly hooked) weight of the last forward
  Tensor y_, dx_, dw_hooked_;
  GemmCounts gemm_counts_;
  std::vector<float> dw_discarded_;  // dW of a float pass run only for its dx
  Conv2dScratch scratch_;
  Conv2dFixedScratch fixed_;
};

}  // namespace qb
