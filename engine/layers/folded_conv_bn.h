// A convolution with its BatchNorm folded into the weights, trained as quantized hardware
// will run it (Jacob et al. 2018 §3.2; Krishnamoorthi 2018 §3.2; Jain et al. 2019 §3.4 and
// Graffitist's `fold_batch_norms(is_training=True)`).
//
// With σ = √(running_var + ε) the moving standard deviation (a constant in each step):
//
//   W_fold = W · γ/σ                (per output channel o; the weight hook quantizes W_fold)
//   u      = x̂ ⊛ hook_w(W_fold)     (x̂ = hook_in(x))
//
// Training before BN freezes: a second, unquantized convolution y₀ = x̂ ⊛ W gives the batch
// statistics μ_B, σ_B = √(var_B + ε) (and updates the running ones), and
//
//   z = (σ/σ_B) · u + (β − γ·μ_B/σ_B)
//
// — the correction factor σ/σ_B makes z equal BN's training output when nothing is quantized,
// while the weights that get quantized are always the ones inference will use (folded with the
// moving statistics). Gradients flow through μ_B and σ_B exactly (into W and x̂ via y₀).
//
// Frozen (after `set_frozen(true)`, and always in evaluation): no batch statistics,
//
//   z = u + (β − γ·μ/σ)             (μ = running_mean)
//
// which is exactly the integer-inference graph. The layer keeps the conv's name, LayerInfo and
// hook slots and the BN's parameters and buffers under their own names, so checkpoints of the
// unfolded network load into the folded one and back.
#pragma once

#include "engine/layers/batchnorm.h"
#include "engine/layers/conv2d.h"

#include <memory>

namespace qb {

class FoldedConvBn final : public Layer {
 public:
  FoldedConvBn(std::unique_ptr<Conv2d> conv, std::unique_ptr<BatchNorm2d> bn);

  const Tensor& forward(const Tensor& x, bool training) override;
  const Tensor& backward(const Tensor& dy) override;
  Shape output_shape(const Shape& in) const override { return conv_->output_shape(in); }
  void collect_params(std::vector<Param*>& out) override;
  void collect_buffers(std::vector<Buffer*>& out) override;
  bool has_hooks() const override { return true; }
  void set_hook(HookSlot slot, std::shared_ptr<TensorHook> hook) override;
  TensorHook* hook(HookSlot slot) const override { return conv_->hook(slot); }

  // Frozen: running statistics replace batch statistics in training too (no correction).
  void set_frozen(bool frozen) { frozen_ = frozen; }
  bool frozen() const { return frozen_; }

  Conv2d& conv() { return *conv_; }
  // W·γ/σ as the last forward folded it (the weight hook's input); empty before a forward.
  const Tensor& folded_weight() const { return w_fold_; }
  BatchNorm2d& bn() { return *bn_; }

 private:
  std::unique_ptr<Conv2d> conv_;
  std::unique_ptr<BatchNorm2d> bn_;
  bool frozen_ = false;

  // The last forward, kept for backward.
  bool batch_stats_ = false;   // the correction path (training, not frozen) ran
  const Tensor* x_ = nullptr;  // x̂, the hooked input
  const Tensor* w_ = nullptr;  // hook_w(W_fold)
  Tensor w_fold_, u_, y0_, z_, du_, dy0_, dx_, dx2_, dw_hat_;
  std::vector<float> sigma_, mean_b_, sigma_b_;  // per channel: σ, μ_B, σ_B (frozen: μ, σ)
};

}  // namespace qb
