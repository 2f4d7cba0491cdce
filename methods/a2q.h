// A2Q (Colbert, Pappalardo, Petri-Koenig 2023, "A2Q: Accumulator-Aware Quantization with
// Guaranteed Overflow Avoidance", ICCV 2023; arXiv:2308.13504): bound each output channel's
// integer weights in L1 norm so that no input on an N-bit grid can overflow a signed P-bit
// accumulator, in any order or grouping of the sum. Formulas from
// shared/research/methods-oaq-apt.md part D (Brevitas, the authors' library).
//
//   T = (2^(P−1) − 1) · 2^(𝟙[signed input] − N)     (Brevitas get_upper_bound_on_l1_norm)
// since |Σ q_i·x_i| ≤ max|x|·‖q‖₁ and max|x| ≤ 2^N (unsigned) or 2^(N−1) (signed).
// Weights, per output channel o, symmetric, qmax = 2^(b−1) − 1:
//   s_o = max( max|w_o| / qmax,  ‖w_o‖₁ / T )
//   q_o = clamp(rint(w_o / s_o), ±qmax); where that breaks ‖q_o‖₁ ≤ T, q_o = trunc(w_o / s_o)
//   (rounding toward zero, as Brevitas's RoundToZeroSte: ‖trunc(w/s)‖₁ ≤ ‖w‖₁/s ≤ T)
//   y = q_o·s_o;  dx = dy (straight through)
// This is Brevitas's bound on a plain per-channel scale, not its weight-normalised
// parametrisation (learned g with g/s clamped to T): the scale grows only where the budget
// binds, and the budget is met on every forward, so after every optimizer step.
// Inputs: minmax (unsigned, per tensor, running range). The first layer's input is the
// image, which integer inference feeds as 8-bit pixels: N = 8, unsigned there.
#pragma once

#include "methods/quantizer.h"

namespace qb {
namespace a2q {

// T above; `input_bits` N ≥ 1.
double l1_bound(int acc_bits, int input_bits, bool signed_input);

}  // namespace a2q

class A2qWeightQuantizer final : public Quantizer {
 public:
  // spec.options: acc_bits (P), input_bits (N), input_signed.
  explicit A2qWeightQuantizer(QuantizerSpec spec);

  const Tensor& forward(const Tensor& x, bool training) override;
  const Tensor& backward(const Tensor& dy) override { return dy; }  // straight through
  Grid grid() const override;
  nlohmann::json stats() const override;
  // The scale follows ‖w‖₁, which quantizing changes: q(q(w)) may sit on a finer grid.
  bool idempotent() const override { return false; }

  double bound() const { return bound_; }

 private:
  int qmax_;
  double bound_;
  std::vector<float> scale_;
  double max_l1_ = 0.0;          // largest ‖q_o‖₁ of the last forward
  std::size_t truncated_ = 0;    // channels whose budget made the rounding go toward zero
  std::size_t scale_bound_ = 0;  // channels whose scale the budget set (not max|w|)
  Tensor y_;
};

}  // namespace qb
