// PACT (Choi et al. 2018): activations clipped at a learned level α, then k-bit uniform.
//
//   y = α·rint((2^k − 1)·clip(x, 0, α)/α)/(2^k − 1),   dx = dy·[0 < x < α]
//   PACT:     dα = Σ g·[x ≥ α]
//   CG-PACT:  dα = Σ g·([x ≥ α] + [0 < x < α]·(q − x/α)),  q = rint((2^k − 1)·x/α)/(2^k − 1)
//             (Jin et al. 2019, SAT: the gradient of the quantized output w.r.t. α, which
//             plain PACT drops; `calibrated_gradient` selects it).
// Its domain is α > 0: after each optimizer step α is projected back to at least 1e-3, as PACT
// implementations clamp it (a large step could otherwise leave it negative, every activation
// clipped to nothing, and the layer dead).
//
// The method `pact` follows Choi et al. 2018 (§3): α per layer, trained with the weights'
// optimizer and rate, L2-regularised (λ_α·α²/2, option
// `alpha_decay`, applied by the optimizer so the probe's dα stays the formula above); weights by
// DoReFa (dorefa.h) with their per-tensor scale kept (Q·max|tanh W|, option `weight_scale`).
// Why the scale: DoReFa's levels span [−1, 1] whatever the float weights' scale, which the
// paper's networks absorb in the BatchNorm after every quantized layer (a positive per-tensor
// factor before BN changes nothing). Without BN (LeNet-5) the unit range makes pre-activations
// ~√fan_in larger than the float network's: every unit saturates at α = 10, the loss starts
// near 20, α is the only scale the optimizer can still reduce, and the last hidden layer's α
// fell to its floor (−36 before the clamp): W8A8 from scratch at lr 0.05 stayed at chance.
// With the scale kept, the initial α is the loose clip the paper intends. α starts at 8 for conv
// and 10 for linear inputs (SAT §A.3; the paper's 10 everywhere, but PROBE.md, normative for
// both methods, fixes 8 for conv). SAT (sat.h) reuses this quantizer with the calibrated
// gradient.
#pragma once

#include "methods/quantizer.h"

namespace qb {

class PactQuantizer final : public Quantizer {
 public:
  PactQuantizer(QuantizerSpec spec, bool calibrated_gradient);
  const Tensor& forward(const Tensor& x, bool training) override;
  const Tensor& backward(const Tensor& dy) override;
  Grid grid() const override;
  nlohmann::json stats() const override;

 private:
  float alpha() const;
  bool calibrated_;
  Param* alpha_;
  const Tensor* x_ = nullptr;
  Tensor y_, dx_;
};

}  // namespace qb
