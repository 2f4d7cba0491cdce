// SAT (Jin, Yang, Liao 2019, "Towards Efficient Training for Neural Network Quantization",
// arXiv:1912.10207): scale-adjusted training of DoReFa weights, with CG-PACT activations.
//
// Weights, k bits: Q = DoReFa(W) (methods/dorefa.h), then
//   Q* = Q / √(n_out · Var(Q))         Var: unbiased, over the whole tensor
// so the quantized weights keep the variance (1/n_out) that keeps a layer's effective learning
// rate right. The factor is a statistic of the whole tensor, recomputed every forward and
// treated as a constant in backward: dL/dQ = g / √(n_out·Var(Q)). n_out = layer.fan_out when
// known, else C_out·kh·kw (conv) or out_features (linear).
// Evaluation: the factor stands for its absorption into the following BatchNorm and stays;
// the final FC layer, which has no BN, drops it (it scales every logit alike, so predictions do
// not change) — `eval_scale: false`, also a bare probe's behaviour.
// Activations: PACT with the calibrated α gradient (CG-PACT, methods/pact.h).
#pragma once

#include "methods/dorefa.h"

namespace qb {

class SatWeightQuantizer final : public DorefaWeightQuantizer {
 public:
  explicit SatWeightQuantizer(QuantizerSpec spec);
  const Tensor& forward(const Tensor& x, bool training) override;
  const Tensor& backward(const Tensor& dy) override;
  Grid grid() const override;
  nlohmann::json stats() const override;

 private:
  std::size_t n_out(const Tensor& w) const;
  bool scale_adjust_, eval_scale_;
  float var_q_ = 0.0f, factor_ = 1.0f, applied_ = 1.0f;  // applied_: factor of the last forward
  Tensor scaled_, dq_;
};

}  // namespace qb
