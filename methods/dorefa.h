// DoReFa-Net (Zhou et al. 2016) quantizers, reused by SAT.
//
// Weights, k bits:  t = tanh W,  M = max|t|,  u = t/(2M) + ½,
//                   Q = 2·rint((2^k − 1)·u)/(2^k − 1) − 1          (levels in [−1, 1])
//   backward: straight through the rounding, exact through tanh and through the max
//   (M depends on W at its arg-max):  dL/dt_i = g_i/M − [i = i*]·sign(t_i*)·Σ_j g_j t_j / M²,
//   dL/dW_i = dL/dt_i · (1 − t_i²).
// With `keep_scale` (PACT's weights, pact.h): Q·M, the same levels times the per-tensor M, so
// the quantized weights keep the float weights' magnitude. Straight through the rounding Q·M is
// t itself, so dL/dt_i = g_i (the M in Q and the M factored out cancel, at the arg-max too).
// Activations, k bits: y = rint((2^k − 1)·clip(x, 0, 1))/(2^k − 1);  dx = dy on 0 ≤ x ≤ 1.
//   SYQ's activations (syq.h) are this function but for two details, on purpose: PROBE.md
//   gives SYQ its official code's rounding (ties up, floor(v + ½), not half to even) and its
//   mask (no gradient at x = 0; both pass it at x = 1). One kernel with two switches would
//   hide in flags what the two papers' code disagrees on. In the networks here the masks
//   train alike: a zero input comes from ReLU outputs of 0 (directly or through pooling),
//   whose backward drops the gradient anyway; `qbench probe` sees the difference.
//   tests/test_syq.cpp pins both differences.
#pragma once

#include "methods/quantizer.h"

namespace qb {

class DorefaWeightQuantizer : public Quantizer {
 public:
  explicit DorefaWeightQuantizer(QuantizerSpec spec, bool keep_scale = false);
  const Tensor& forward(const Tensor& x, bool training) override;
  const Tensor& backward(const Tensor& dy) override;
  Grid grid() const override;
  bool idempotent() const override { return false; }  // tanh renormalises a quantized input

 protected:
  bool keep_scale_;
  Tensor t_, y_, dx_;
  float max_abs_t_ = 0.0f;
  std::size_t argmax_ = 0;
};

class DorefaActivationQuantizer final : public Quantizer {
 public:
  explicit DorefaActivationQuantizer(QuantizerSpec spec);
  const Tensor& forward(const Tensor& x, bool training) override;
  const Tensor& backward(const Tensor& dy) override;
  Grid grid() const override;

 private:
  const Tensor* x_ = nullptr;
  Tensor y_, dx_;
};

}  // namespace qb
