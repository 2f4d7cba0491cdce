#include "methods/apt.h"

#include "engine/check.h"
#include "methods/fake_quant.h"
#include "methods/method.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace qb {
namespace apt {
namespace {

constexpr std::int64_t kNever = std::numeric_limits<std::int64_t>::max();

// Index of a width in kWidths (8 → 0, 16 → 1, 24 → 2).
std::size_t width_index(int bits) {
  const auto it = std::find(std::begin(kWidths), std::end(kWidths), bits);
  QB_CHECK(it != std::end(kWidths));
  return std::size_t(it - std::begin(kWidths));
}

}  // namespace

int fixed_point_shift(double max_abs, int bits) {
  QB_CHECK_GT(max_abs, 0.0);
  const double qmax = std::ldexp(1.0, bits - 1) - 1.0;
  int s = int(std::ceil(std::log2(max_abs / qmax)));
  // log2 may land one off near a power of two; qmax·2^s is exact in double, so settle s on the
  // definition: the smallest s with max_abs ≤ qmax·2^s.
  while (max_abs > std::ldexp(qmax, s)) ++s;
  while (max_abs <= std::ldexp(qmax, s - 1)) --s;
  return std::max(s, kMinShift);
}

void fixed_point_quantize(const float* x, float* y, std::size_t n, int bits, int shift) {
  // x / 2^s and code·2^s are exact for kMinShift ≤ s (codes have at most 24 bits), so the
  // shared kernel computes exactly the fixed-point value.
  const float lo = -std::ldexp(1.0f, bits - 1), hi = std::ldexp(1.0f, bits - 1) - 1.0f;
  fake_quant(x, y, n, std::ldexp(1.0f, shift), lo, hi);
}

double diff_bit(const float* x, const float* y, std::size_t n) {
  double sum_x = 0.0, sum_y = 0.0;
  for (std::size_t i = 0; i < n; ++i) {
    sum_x += std::abs(double(x[i]));
    sum_y += std::abs(double(y[i]));
  }
  if (!(sum_x > 0.0)) return 0.0;
  const double mean_x = sum_x / double(n), mean_y = sum_y / double(n);
  return std::log2(std::abs(mean_x - mean_y) / mean_x + 1.0);
}

Precision choose_precision(const float* x, float* y, std::size_t n, int start_bits) {
  const double z = max_abs(x, n);
  Precision p{start_bits, 0, 0.0};
  for (;;) {
    p.shift = fixed_point_shift(z, p.bits);
    fixed_point_quantize(x, y, n, p.bits, p.shift);
    p.diff_bit = diff_bit(x, y, n);
    // Strict: exactly 0.03 stays (B.4.4); 24 bits is the ceiling whatever diff_bit says.
    if (!(p.diff_bit > kDiffBitThreshold) || p.bits >= kMaxWidth) return p;
    p.bits += kWidthStep;
  }
}

std::int64_t update_interval(int shift, double shift_avg_before, double diff_bit) {
  // A moving shift (|s − m| large) or a lossy width (diff_bit large) shortens the interval.
  const double denominator =
      std::max(kAlphaM * std::abs(double(shift) - shift_avg_before), kDelta * diff_bit * diff_bit);
  if (!(denominator > 0.0)) return kNever;
  const double interval = std::nearbyint(kBeta / denominator - kGamma);  // half to even
  if (interval >= 9.0e18) return kNever;
  return std::max<std::int64_t>(std::int64_t(interval), 1);
}

bool Controller::due(std::size_t steps_per_epoch) const {
  const auto epoch = std::int64_t(steps_per_epoch);
  const bool warm_up = epoch > 0 && 100 * step_ < epoch;  // the first 1 % of epoch 1
  return warm_up || step_ >= next_update_;
}

void Controller::measured(const Precision& p, std::size_t steps_per_epoch) {
  QB_CHECK_GE(p.bits, bits_);
  if (!initialised_)
    shift_avg_ = p.shift;
  else
    shift_avg_ -= double(p.bits - bits_);  // 8 more bits move s down by about 8: m follows
  const std::int64_t interval = update_interval(p.shift, shift_avg_, p.diff_bit);
  bits_ = p.bits;
  shift_ = p.shift;
  diff_bit_ = p.diff_bit;
  initialised_ = true;
  const auto epoch = std::int64_t(steps_per_epoch);
  if (epoch == 0) {
    interval_ = interval;
    next_update_ = interval > kNever - step_ ? kNever : step_ + interval;
  } else if (step_ < epoch) {  // epoch 1: adaptive, and epoch 2 starts with an update
    interval_ = std::min(interval, epoch);
    next_update_ = std::min(step_ + interval_, epoch);
  } else {  // later epochs: once, at the next epoch's first step
    interval_ = epoch;
    next_update_ = (step_ / epoch + 1) * epoch;
  }
  shift_avg_ = kAlphaM * shift_ + (1.0 - kAlphaM) * shift_avg_;
  ++updates_;
  count_step(true, steps_per_epoch);
}

void Controller::stale(std::size_t steps_per_epoch) {
  if (initialised_) shift_avg_ = kAlphaM * shift_ + (1.0 - kAlphaM) * shift_avg_;
  count_step(false, steps_per_epoch);
}

void Controller::initialise(const Precision& p) {
  QB_CHECK_GE(p.bits, bits_);
  bits_ = p.bits;
  shift_ = p.shift;
  diff_bit_ = p.diff_bit;
  shift_avg_ = p.shift;
  initialised_ = true;
}

void Controller::count_step(bool updated, std::size_t steps_per_epoch) {
  const std::size_t e = steps_per_epoch ? std::size_t(step_) / steps_per_epoch : 0;
  if (epochs_.size() <= e) epochs_.resize(e + 1);
  EpochStats& es = epochs_[e];
  es.bits = bits_;
  es.shift = shift_;
  es.diff_bit = diff_bit_;
  es.updates += updated;
  ++es.steps;
  ++steps_at_width_[width_index(bits_)];
  ++step_;
}

nlohmann::json Controller::stats() const {
  nlohmann::json steps = nlohmann::json::object(), share = nlohmann::json::object();
  for (std::size_t i = 0; i < steps_at_width_.size(); ++i) {
    const std::string w = std::to_string(kWidths[i]);
    steps[w] = steps_at_width_[i];
    share[w] = step_ ? double(steps_at_width_[i]) / double(step_) : 0.0;
  }
  nlohmann::json epochs = nlohmann::json::array();
  for (std::size_t e = 0; e < epochs_.size(); ++e) {
    const EpochStats& es = epochs_[e];
    epochs.push_back({{"epoch", e + 1},
                      {"bits", es.bits},
                      {"shift", es.shift},
                      {"diff_bit", es.diff_bit},
                      {"updates", es.updates},
                      {"steps", es.steps}});
  }
  return {{"bits_chosen", bits_},   {"shift", shift_},
          {"diff_bit", diff_bit_},  {"shift_average", shift_avg_},
          {"steps", step_},         {"updates", updates_},
          {"interval", interval_},  {"steps_at_bits", steps},
          {"share_at_bits", share}, {"epochs", epochs}};
}

nlohmann::json Controller::state() const {
  nlohmann::json epochs = nlohmann::json::array();
  for (const EpochStats& es : epochs_)
    epochs.push_back({es.bits, es.shift, es.diff_bit, es.updates, es.steps});
  return {{"bits", bits_},
          {"shift", shift_},
          {"shift_average", shift_avg_},
          {"diff_bit", diff_bit_},
          {"initialised", initialised_},
          {"step", step_},
          {"next_update", next_update_},
          {"interval", interval_},
          {"updates", updates_},
          {"steps_at_bits", steps_at_width_},
          {"epochs", epochs}};
}

void Controller::load(const nlohmann::json& s) {
  const int bits = s.at("bits").get<int>();
  width_index(bits);  // one of 8, 16, 24
  bits_ = bits;
  shift_ = s.at("shift").get<int>();
  shift_avg_ = s.at("shift_average").get<double>();
  diff_bit_ = s.at("diff_bit").get<double>();
  initialised_ = s.at("initialised").get<bool>();
  step_ = s.at("step").get<std::int64_t>();
  next_update_ = s.at("next_update").get<std::int64_t>();
  interval_ = s.at("interval").get<std::int64_t>();
  updates_ = s.at("updates").get<std::int64_t>();
  steps_at_width_ = s.at("steps_at_bits").get<std::array<std::int64_t, 3>>();
  epochs_.clear();
  for (const auto& e : s.at("epochs"))
    epochs_.push_back({e.at(0).get<int>(), e.at(1).get<int>(), e.at(2).get<double>(),
                       e.at(3).get<std::int64_t>(), e.at(4).get<std::int64_t>()});
}

}  // namespace apt

AptQuantizer::AptQuantizer(QuantizerSpec spec, std::shared_ptr<const apt::Schedule> schedule)
    : Quantizer(std::move(spec)),
      schedule_(schedule ? std::move(schedule) : std::make_shared<const apt::Schedule>()),
      gemm_(
          apt::kGemms.parse(spec_.option<std::string>("gemm", "fake-quant"), "options.gemm").value),
      controller_(spec_.bits) {
  if (std::find(std::begin(apt::kWidths), std::end(apt::kWidths), spec_.bits) ==
      std::end(apt::kWidths))
    throw key_error("bits", "apt starts at 8, 16 or 24 bits, got ", spec_.bits);
  if (spec_.is_signed && !*spec_.is_signed)
    throw key_error("signed", "apt's fixed point is signed");
}

void AptQuantizer::calibrate(const Tensor& x) {
  if (!(max_abs(x.data(), x.size()) > 0.0f)) return;  // nothing to measure
  ensure_shape(y_, shape_of(x));
  controller_.initialise(apt::choose_precision(x.data(), y_.data(), x.size(), controller_.bits()));
}

const Tensor& AptQuantizer::forward(const Tensor& x, bool training) {
  ensure_shape(y_, shape_of(x));
  const std::size_t n = x.size(), steps_per_epoch = schedule_->steps_per_epoch;
  const bool measure = training ? controller_.due(steps_per_epoch) : !controller_.initialised();
  if (measure && max_abs(x.data(), n) > 0.0f) {
    const apt::Precision p = apt::choose_precision(x.data(), y_.data(), n, controller_.bits());
    if (training)
      controller_.measured(p, steps_per_epoch);
    else
      controller_.initialise(p);
    return y_;
  }
  apt::fixed_point_quantize(x.data(), y_.data(), n, controller_.bits(), controller_.shift());
  if (training) controller_.stale(steps_per_epoch);
  return y_;
}

std::optional<FixedPoint> AptQuantizer::fixed_point() const {
  if (gemm_ != apt::Gemm::integer || !controller_.initialised()) return std::nullopt;
  return FixedPoint{controller_.bits(), controller_.shift()};
}

Grid AptQuantizer::grid() const {
  Grid g{controller_.bits(), true};
  g.scale = {std::ldexp(1.0f, controller_.shift())};
  g.pow2_exponent = {controller_.shift()};
  return g;
}

namespace {

class AptMethod final : public Method {
 public:
  const MethodInfo& info() const override {
    static const MethodInfo mi{
        "apt",
        "Zhang et al. 2019, Adaptive Precision Training (arXiv:1911.00361; CVPR 2020)",
        "fixed point, power-of-2 step from max|x|, for inputs, weights and output gradients; "
        "per-tensor width 8 -> 16 -> 24 where diff_bit > 0.03, on an adaptive schedule; STE",
        {QuantRole::weight, QuantRole::activation, QuantRole::gradient},
        8,
        24,  // starting widths 8, 16 or 24; the quantizer refuses the others
        {{"gemm", "fake-quant",
          "where layers multiply: integer (int8 kernels where both operands are <= 8 bits, "
          "int16 where <= 16, float at 24) or fake-quant (float GEMMs of the same values)"}}};
    return mi;
  }

  std::unique_ptr<Quantizer> make_quantizer(const QuantizerSpec& spec) const override {
    return std::make_unique<AptQuantizer>(spec, schedule_);
  }

  // Every layer's input in signed fixed point, the first layer's image included: APT trains
  // all three GEMMs of every layer on fixed-point operands.
  LayerQuantizers make_layer(const LayerInfo& layer, const QuantSettings& s) const override {
    LayerQuantizers out;
    const int wbits = weight_bits(layer, s);
    if (wbits < 32)
      out.weight = make_checked(slot_spec(layer, s, QuantRole::weight, wbits, "weight_q"));
    if (s.abits < 32)
      out.input = make_checked(slot_spec(layer, s, QuantRole::activation, s.abits, "input_q"));
    if (s.gbits < 32)
      out.grad = make_checked(slot_spec(layer, s, QuantRole::gradient, s.gbits, "grad_q"));
    return out;
  }

  void on_train_begin(std::size_t steps_per_epoch) override {
    schedule_->steps_per_epoch = steps_per_epoch;
  }

 private:
  // Shared with every quantizer this method makes (they outlive no run: one method per run).
  std::shared_ptr<apt::Schedule> schedule_ = std::make_shared<apt::Schedule>();
};

}  // namespace

std::unique_ptr<Method> make_apt_method() { return std::make_unique<AptMethod>(); }

}  // namespace qb
