// APT (Zhang, Liu, Zhang, Liu, Huang, Zhou, Guo, Kang, Guo, Du, Chen 2019, "Adaptive Precision
// Training: Quantify Back Propagation in Neural Networks with Fixed-point Numbers",
// arXiv:1911.00361; CVPR 2020 as "Fixed-Point Back-Propagation Training"): every conv and
// linear layer trains on fixed-point operands — its input, its weights and the gradient of its
// output — each with its own width n and power-of-two step 2^s, and n grows (8 → 16 → 24)
// where quantization changes the data too much. Only the abstract of the paper was reachable;
// the formulas follow shared/research/methods-oaq-apt.md part B (a third-party re-implementation
// and the project's conventions, PROBE.md "apt"), section numbers below are that note's.
//
// Fixed point (B.1), Z = max|x| over the whole tensor (batch included):
//   s  = ⌈log2(Z / (2^(n−1) − 1))⌉          the smallest shift that holds Z; computed in double
//                                           and then checked exactly (B.4.1: float32 log2 gets
//                                           n = 24, Z = 1 wrong by one)
//   x̂  = clamp(rint(x / 2^s), −2^(n−1), 2^(n−1) − 1) · 2^s       rint: half to even
// The clamp does nothing on the tensor s was measured on; in training s is only re-measured
// at update steps, and between them it saturates for real (B.4.2: the public code's clamp is
// one bit too wide and its result discarded; not copied).
// Backward: straight through, dx = dy (the rounding's derivative is taken as 1; nothing is
// learned by gradient). The gradient role's backward is never called.
//
// Precision metric and width rule (B.2), both means in double:
//   diff_bit = log2( |mean|x| − mean|x̂|| / mean|x| + 1 )
//   at an update step: from the current n, while diff_bit > 0.03 and n < 24: n += 8, re-measure.
// Widths never shrink (B.4.5).
//
// Update schedule (B.3), per tensor, t counting this tensor's training steps from 0, E the
// optimizer steps per epoch:
//   epoch 1, first 1 % (100·t < E):  update at every step
//   rest of epoch 1:                 update when t reaches the next update step t + I,
//       I = max( rint( β / max(α_m·|s_t − m_{t−1}|, δ·diff_bit²) − γ ), 1 ),  capped at E
//   later epochs:                    update at each epoch's first step
//   m_t = α_m·s_t + (1 − α_m)·m_{t−1}  at every training step (the stale s between updates);
//   m drops by 8 when n grows by 8, so it stays comparable with s.
//   α_m = 0.04, β = 0.1, γ = 2, δ = 100.
// m starts at the first measured s (the note leaves it open). An all-zero tensor carries no
// information: it quantizes to zeros, changes nothing and leaves the update due.
//
// GEMMs (option `gemm`): with "integer", every quantizer reports its output as fixed point
// (engine/fixed_point.h), so a layer whose two GEMM operands are ≤ 8 bits multiplies them on
// the int8 kernels, ≤ 16 bits on the int16 kernel, exactly; a 24-bit operand keeps the float
// GEMM. With "fake-quant" (the default) every GEMM is the float GEMM of the fake-quantized
// values: the same products, summed in float — for equality checks and speed comparisons.
#pragma once

#include "engine/fixed_point.h"
#include "engine/names.h"
#include "methods/quantizer.h"

#include <array>
#include <cstdint>
#include <memory>
#include <vector>

namespace qb {
namespace apt {

inline constexpr int kWidths[] = {8, 16, 24};  // the starting widths and the growth ladder
inline constexpr int kWidthStep = 8, kMaxWidth = 24;
inline constexpr double kDiffBitThreshold = 0.03;
inline constexpr double kAlphaM = 0.04, kBeta = 0.1, kGamma = 2.0, kDelta = 100.0;
// 2^−126, the smallest normal float: shifts below it are clamped (values that small are zero
// for training purposes, and 2^s must stay a float).
inline constexpr int kMinShift = -126;

// The smallest s with max_abs ≤ (2^(bits−1) − 1)·2^s; max_abs > 0.
int fixed_point_shift(double max_abs, int bits);

// y = clamp(rint(x / 2^shift), −2^(bits−1), 2^(bits−1) − 1) · 2^shift.
void fixed_point_quantize(const float* x, float* y, std::size_t n, int bits, int shift);

// log2(|mean|x| − mean|y|| / mean|x| + 1); 0 when mean|x| = 0.
double diff_bit(const float* x, const float* y, std::size_t n);

struct Precision {
  int bits = 8, shift = 0;
  double diff_bit = 0.0;
};

// The width rule of B.2 from `start_bits`: grows by 8 while diff_bit > 0.03 and bits < 24,
// leaving x quantized at the chosen precision in y. Requires max|x| > 0.
Precision choose_precision(const float* x, float* y, std::size_t n, int start_bits);

// The adaptive interval I of B.3, uncapped (a zero denominator gives the largest int64).
std::int64_t update_interval(int shift, double shift_avg_before, double diff_bit);

// One tensor's precision controller (B.3): width, shift, moving average of the shift, update
// schedule and the statistics of its steps. Tensor-free, so its rules are tested on crafted
// sequences. Per training step the quantizer calls due(), then measured() (with a new
// precision) or stale(), then quantizes.
class Controller {
 public:
  explicit Controller(int start_bits) : bits_(start_bits) {}

  // Is the current step an update step, given E optimizer steps per epoch (0: unknown, then
  // the adaptive interval applies throughout, uncapped)?
  bool due(std::size_t steps_per_epoch) const;
  // An update step measured `p` (grown from bits() as needed): adopt it, schedule the next.
  void measured(const Precision& p, std::size_t steps_per_epoch);
  // A training step with nothing measured (not due, or an all-zero tensor).
  void stale(std::size_t steps_per_epoch);
  // Outside training (calibration, evaluation of an untrained quantizer): adopt `p` without
  // counting a step; the next training step still updates.
  void initialise(const Precision& p);

  bool initialised() const { return initialised_; }
  int bits() const { return bits_; }
  int shift() const { return shift_; }
  double shift_average() const { return shift_avg_; }
  double diff_bit() const { return diff_bit_; }
  std::int64_t step() const { return step_; }
  std::int64_t next_update() const { return next_update_; }
  std::int64_t interval() const { return interval_; }

  nlohmann::json stats() const;
  nlohmann::json state() const;
  void load(const nlohmann::json& s);

 private:
  struct EpochStats {
    int bits = 0, shift = 0;
    double diff_bit = 0.0;
    std::int64_t updates = 0, steps = 0;
  };
  void count_step(bool updated, std::size_t steps_per_epoch);

  int bits_, shift_ = 0;
  double shift_avg_ = 0.0, diff_bit_ = 0.0;
  bool initialised_ = false;
  std::int64_t step_ = 0, next_update_ = 0, interval_ = 0, updates_ = 0;
  std::array<std::int64_t, 3> steps_at_width_{};  // training steps at 8, 16, 24 bits
  std::vector<EpochStats> epochs_;
};

// Where a layer's GEMMs run (option `gemm`).
enum class Gemm { fake_quant, integer };
inline constexpr Named<Gemm> kGemmRows[] = {{"fake-quant", Gemm::fake_quant},
                                            {"integer", Gemm::integer}};
inline constexpr NameTable<Named<Gemm>> kGemms{"apt gemm", kGemmRows};

// What the method tells its quantizers about the run (set by Method::on_train_begin).
struct Schedule {
  std::size_t steps_per_epoch = 0;  // 0: unknown (a probe, a test)
};

}  // namespace apt

class AptQuantizer final : public Quantizer, public FixedPointHook {
 public:
  AptQuantizer(QuantizerSpec spec, std::shared_ptr<const apt::Schedule> schedule);

  const Tensor& forward(const Tensor& x, bool training) override;
  const Tensor& backward(const Tensor& dy) override { return dy; }  // straight through
  void calibrate(const Tensor& x) override;
  Grid grid() const override;
  nlohmann::json stats() const override { return controller_.stats(); }
  nlohmann::json state() const override { return controller_.state(); }
  void load(const nlohmann::json& s) override { controller_.load(s); }

  // With gemm = integer: the last forward's width and shift (its output is code · 2^shift).
  std::optional<FixedPoint> fixed_point() const override;

  const apt::Controller& controller() const { return controller_; }

 private:
  std::shared_ptr<const apt::Schedule> schedule_;
  apt::Gemm gemm_;
  apt::Controller controller_;
  Tensor y_;
};

}  // namespace qb
