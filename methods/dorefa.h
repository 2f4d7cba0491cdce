// DoReFa-Net (Zhou et al. 2016) quantizers, reused by SAT.
//
// Weights, k bits:  t = tanh W,  M = max|t|,  u = t/(2M) + ½,
//                   Q = 2·rint((2^k − 1)·u)/(2^k − 1) − 1          (levels in [−1, 1])
//   backward: straight through the rounding, exact through tanh and through the max
//   (M depends on W at its arg-max):  dL/dt_i = g_i/M − [i = i*]·sign(t_i*)·Σ_j g_j t_j / M²,
//   dL/dW_i = dL/dt_i · (1 − t_i²).
// Activations, k bits: y = rint((2^k − 1)·clip(x, 0, 1))/(2^k − 1);  dx = dy on 0 ≤ x ≤ 1.
#pragma once

#include "methods/quantizer.h"

namespace qb {

class DorefaWeightQuantizer : public Quantizer {
 public:
  explicit DorefaWeightQuantizer(QuantizerSpec spec);
  const Tensor& forward(const Tensor& x, bool training) override;
  const Tensor& backward(const Tensor& dy) override;
  Grid grid() const override;
  bool idempotent() const override { return false; }  // tanh renormalises a quantized input

 protected:
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
