// ALT (Jain, Gural, Wu, Dick 2019, "Trained Quantization Thresholds for Accurate and
// Efficient Fixed-Point Inference of Deep Neural Networks", arXiv:1903.08066; Graffitist):
// uniform symmetric quantization with a per-tensor power-of-2 scale, whose clipping threshold
// t is trained in the log domain with its exact gradient.
//
// Forward, with b bits and σ = 1 signed, 0 unsigned:
//   s = 2^⌈log2 t⌉ / 2^(b−σ)
//   n = −2^(b−1), p = 2^(b−1) − 1 (signed);  n = 0, p = 2^b − 1 (unsigned)
//   q = clamp(rint(x/s), n, p) · s                    rint: half to even
// Backward (the rounding and ⌈·⌉ straight-through, everything else exact):
//   dL/dx      = g · [n ≤ rint(x/s) ≤ p]               (tested on the rounded value)
//   dL/dlog2t  = s·ln2 · Σ g · ∂q/∂s,   ∂q/∂s = rint(x/s) − x/s inside, n below, p above
// summed over every element of the tensor (never averaged).
//
// The learned parameter is `log2_t`, one per tensor. Initialisation (`calibrate`): weights by
// 3SD (|mean| + 3·std) when the quantizer will be trained, by MAX for static quantization;
// activations by the KL-J threshold (methods/calibration.h); gradients by MAX. The option
// `calibration` (max | 3sd | klj | mse) overrides the rule. In training (make_layer) the image
// is calibrated by MAX and, below 4 bits, the other activations by MSE on the power-of-2 grid
// (KL-J collapses there: alt.cpp); the probe keeps the rule above (PROBE.md).
#pragma once

#include "methods/quantizer.h"

#include <cstdint>

namespace qb {

class AltQuantizer final : public Quantizer {
 public:
  explicit AltQuantizer(QuantizerSpec spec);

  const Tensor& forward(const Tensor& x, bool training) override;
  const Tensor& backward(const Tensor& dy) override;
  void calibrate(const Tensor& x) override;
  Grid grid() const override;
  nlohmann::json stats() const override;
  nlohmann::json state() const override { return {{"calibrated", calibrated_}}; }
  void load(const nlohmann::json& s) override { calibrated_ = s.at("calibrated").get<bool>(); }

  bool is_signed() const { return signed_; }
  // The power-of-2 exponent of the scale: s = 2^exponent = 2^(⌈log2 t⌉ − b + σ).
  int exponent() const;

 private:
  float lo() const;  // n
  float hi() const;  // p

  bool signed_;
  bool calibrated_ = false;
  Param* log2_t_;
  const Tensor* x_ = nullptr;
  float s_ = 1.0f;                        // the scale of the last forward
  std::uint64_t clipped_ = 0, seen_ = 0;  // elements of the last forward outside [n, p]
  Tensor y_, dx_;
};

}  // namespace qb
