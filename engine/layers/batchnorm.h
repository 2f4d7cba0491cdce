// Batch normalisation over [N, C, H, W], per channel.
//
// Training: batch mean and biased variance normalise; running statistics are updated as
//   running = (1 − momentum)·running + momentum·batch   (variance unbiased, as PyTorch does).
// Evaluation: running statistics normalise, and backward is then the affine map it is.
// Backward in training (m = N·H·W elements per channel, x̂ normalised input, σ = √(var + ε)):
//   dx = γ/(m·σ) · (m·dy − Σdy − x̂·Σ(dy·x̂)),  dγ = Σ dy·x̂,  dβ = Σ dy.
#pragma once

#include "engine/layer.h"

namespace qb {

class BatchNorm2d final : public Layer {
 public:
  BatchNorm2d(std::string name, std::size_t channels, float momentum = 0.1f, float eps = 1e-5f);

  const Tensor& forward(const Tensor& x, bool training) override;
  const Tensor& backward(const Tensor& dy) override;

  // Writes act(γ·x̂ + β) (Layer::forward_activated).
  const Tensor* forward_activated(const Tensor& x, bool training, Clip act, Tensor& out) override;

  Shape output_shape(const Shape& in) const override;
  void collect_params(std::vector<Param*>& out) override;
  void collect_buffers(std::vector<Buffer*>& out) override;

  Param& gamma() { return gamma_; }
  Param& beta() { return beta_; }
  Buffer& running_mean() { return running_mean_; }
  Buffer& running_var() { return running_var_; }
  float eps() const { return eps_; }
  float momentum() const { return momentum_; }

 private:
  std::size_t channels_;
  float momentum_, eps_;
  Param gamma_, beta_;
  Buffer running_mean_, running_var_;
  // Writes act(γ·x̂ + β) into y, shaped here, for x̂ = (x − mean)·inv_std. x̂ is not stored:
  // backward recomputes it from x, which the layer contract keeps alive and unchanged until
  // then, with the same two operations (a tensor-sized write fewer per forward).
  void normalise(const Tensor& x, bool training, Clip act, Tensor& y);

  bool last_training_ = true;
  const Tensor* x_ = nullptr;  // the last forward's input
  Tensor y_, dx_;
  std::vector<float> mean_, inv_std_;  // per channel, as the last forward normalised
};

}  // namespace qb
