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
