// PACT (Choi et al. 2018): activations clipped at a learned level α, then k-bit uniform.
//
//   y = α·rint((2^k − 1)·clip(x, 0, α)/α)/(2^k − 1),   dx = dy·[0 < x < α]
//   PACT:     dα = Σ g·[x ≥ α]
//   CG-PACT:  dα = Σ g·([x ≥ α] + [0 < x < α]·(q − x/α)),  q = rint((2^k − 1)·x/α)/(2^k − 1)
//             (Jin et al. 2019, SAT: the gradient of the quantized output w.r.t. α, which
//             plain PACT drops; `calibrated_gradient` selects it).
// α starts at 8 for conv inputs and 10 for linear inputs (SAT §A.3); never weight-decayed.
// Its domain is α > 0: after each optimizer step α is projected back to at least 1e-3, as PACT
// implementations clamp it (a large step could otherwise leave it negative, every activation
// clipped to nothing, and the layer dead).
//
// PACT assumes BatchNorm before each clip (every network of the paper has it). Without it,
// DoReFa's weights (normalised per tensor to |w| ≤ 1, whatever the scale of the float weights)
// give pre-activations ~√fan_in larger than the float network's, every unit saturates at the
// initial α of 8–10, and the loss starts near 20; the only scale the optimizer can still reduce
// is α, and the last hidden layer's α falls to its floor (before the clamp: to −36), so LeNet-5
// W8A8 trained from scratch at lr 0.05 stays at chance. Measured (1 epoch, Fashion-MNIST): the
// same PACT activations over float weights reach 85%; PACT's own L2 regulariser on α only
// pulls α down sooner. qbench keeps the paper's method and lets the run say so (the trainer's
// chance warning); SAT is the published fix (its weight scale adjustment), and fine-tuning from
// FP32 at a small rate (the sweeps) is not affected.
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
