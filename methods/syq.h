// SYQ (Faraone, Fraser, Blott, Leong, CVPR 2018, "SYQ: Learning Symmetric Quantization for
// Efficient Deep Neural Networks"): binary or ternary weights with a learned scale per group.
//
// Weights, 1 bit (binary, η = 0) or 2 bits (ternary, η = eta·max|W|, eta 0.05 by default):
//   Q_i = α_g(i) · sign(W_i)   where |W_i| > η,   0 elsewhere
//   dL/dW_i = g_i · α_g(i) above η, g_i at or below it      (the official code's STE)
//   dL/dα_g = Σ_{i in g, |W_i| > η} g_i · sign(W_i)          (exact: Q is linear in α)
// Groups of a conv weight [O, C, kh, kw]: `layer` (one α), `row` (one per kernel row i, [kh]),
// `pixel` (one per kernel position, [kh·kw], index i·kw + j, shared across O and C), or
// `channel` (one per output channel, an extra). A linear weight [O, I] is a 1×1 kernel: row and
// pixel are one group, like layer. α starts at mean|W| over its group.
// Activations, k bits: floor(clip(x, 0, 1)·(2^k − 1) + 0.5)/(2^k − 1) (the official code's
// rounding, not half-to-even), dx = dy on 0 < x ≤ 1. DoReFa's activations (dorefa.h) differ
// in exactly these two details, ties and the gradient at x = 0, each as PROBE.md prescribes;
// dorefa.h says why they stay two functions, tests/test_syq.cpp pins the differences.
#pragma once

#include "methods/quantizer.h"

namespace qb {

class SyqWeightQuantizer final : public Quantizer {
 public:
  explicit SyqWeightQuantizer(QuantizerSpec spec);
  const Tensor& forward(const Tensor& w, bool training) override;
  const Tensor& backward(const Tensor& dy) override;
  void calibrate(const Tensor& w) override;
  Grid grid() const override;
  nlohmann::json stats() const override;
  nlohmann::json state() const override { return {{"calibrated", calibrated_}}; }
  void load(const nlohmann::json& s) override { calibrated_ = s.at("calibrated").get<bool>(); }
  bool exact_param_gradients() const override { return true; }

 private:
  std::size_t group_of(std::size_t i) const;  // group of element i of the last weight
  void set_geometry(const Shape& s);
  void set_granularity(std::string g);

  enum class Grouping { layer, channel, row, pixel };
  std::string granularity_;
  Grouping grouping_ = Grouping::layer;
  // No granularity option and no layer shape (a bare probe request): PROBE.md's default, pixel
  // for a 4-D weight and layer otherwise, is taken from the first tensor's rank.
  bool granularity_from_rank_ = false;
  float eta_;
  bool calibrated_ = false;
  Param* alpha_;
  Shape shape_;  // the weight's shape, fixed at the first forward
  std::size_t per_out_ = 1, kh_ = 1, kw_ = 1;
  float eta_abs_ = 0.0f;
  double zero_fraction_ = 0.0;
  const Tensor* w_ = nullptr;
  Tensor y_, dx_;
};

class SyqActivationQuantizer final : public Quantizer {
 public:
  explicit SyqActivationQuantizer(QuantizerSpec spec) : Quantizer(std::move(spec)) {}
  const Tensor& forward(const Tensor& x, bool training) override;
  const Tensor& backward(const Tensor& dy) override;
  Grid grid() const override;

 private:
  const Tensor* x_ = nullptr;
  Tensor y_, dx_;
};

}  // namespace qb
