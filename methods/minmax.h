// minmax: plain uniform symmetric quantization over a calibrated range (no zero point).
//
//   signed   (b ≥ 2): s = r / (2^(b−1) − 1), codes ±(2^(b−1) − 1),  r = max|x|
//   unsigned        : s = r / (2^b − 1),     codes 0 .. 2^b − 1,     r = max(x)
//   y = clamp(rint(x / s)) · s;   dx = dy (0 where x < 0 when unsigned): the straight-through
//   estimator, since the range is not learned.
// The range r comes from the tensor itself for weights and gradients (per tensor, or per
// output channel with granularity=channel), and from a running average (momentum 0.9) of the
// batch ranges for activations, frozen in evaluation.
#pragma once

#include "methods/quantizer.h"

namespace qb {

class MinMaxQuantizer final : public Quantizer {
 public:
  explicit MinMaxQuantizer(QuantizerSpec spec);

  const Tensor& forward(const Tensor& x, bool training) override;
  const Tensor& backward(const Tensor& dy) override;
  void calibrate(const Tensor& x) override;
  Grid grid() const override;
  nlohmann::json state() const override;
  void load(const nlohmann::json& s) override;
  nlohmann::json stats() const override;

 private:
  std::vector<float> ranges(const Tensor& x) const;  // per group
  float qmax() const;

  bool signed_, per_channel_;
  float momentum_;
  std::vector<float> range_;  // activations: running range; weights: the last forward's
  bool calibrated_ = false;
  std::vector<float> scale_;
  const Tensor* x_ = nullptr;
  Tensor y_, dx_;
};

}  // namespace qb
