#include "methods/a2q.h"

#include "engine/check.h"
#include "methods/fake_quant.h"
#include "methods/method.h"
#include "methods/minmax.h"

#include <algorithm>
#include <cmath>

namespace qb {
namespace a2q {

double l1_bound(int acc_bits, int input_bits, bool signed_input) {
  QB_CHECK_GE(input_bits, 1);
  return (std::ldexp(1.0, acc_bits - 1) - 1.0) * std::ldexp(1.0, int(signed_input) - input_bits);
}

}  // namespace a2q

namespace {

int int_option(const QuantizerSpec& spec, const char* key, int fallback, int lo, int hi) {
  const double v = spec.option<double>(key, fallback);
  if (v != std::floor(v) || v < lo || v > hi)
    throw key_error(std::string("options.") + key, "expected an integer ", lo, "..", hi, ", got ",
                    v);
  return int(v);
}

}  // namespace

A2qWeightQuantizer::A2qWeightQuantizer(QuantizerSpec spec) : Quantizer(std::move(spec)) {
  if (spec_.role != QuantRole::weight) throw key_error("role", "a2q bounds weights only");
  if (spec_.is_signed && !*spec_.is_signed) throw key_error("signed", "a2q's weights are signed");
  if (spec_.bits < 2 || spec_.bits > 16)
    throw key_error("bits", "a2q quantizes weights to 2..16 bits, got ", spec_.bits);
  qmax_ = (1 << (spec_.bits - 1)) - 1;
  const int acc_bits = int_option(spec_, "acc_bits", 16, 2, 32);
  const int input_bits = int_option(spec_, "input_bits", 8, 1, 16);
  bound_ = a2q::l1_bound(acc_bits, input_bits, spec_.option<bool>("input_signed", false));
  if (bound_ < 1.0)
    throw key_error("options.acc_bits", "a ", acc_bits, "-bit accumulator leaves no L1 budget for ",
                    input_bits, "-bit inputs (T = ", bound_, ")");
}

const Tensor& A2qWeightQuantizer::forward(const Tensor& x, bool training) {
  (void)training;
  ensure_shape(y_, shape_of(x));
  const std::size_t O = x.dimension() > 0 ? x.shape()[0] : 1, per = O ? x.size() / O : 0;
  scale_.assign(O, 1.0f);
  max_l1_ = 0.0;
  truncated_ = scale_bound_ = 0;
  for (std::size_t o = 0; o < O; ++o) {
    const float* w = x.data() + o * per;
    float* y = y_.data() + o * per;
    double l1 = 0.0;
    for (std::size_t i = 0; i < per; ++i) l1 += std::abs(double(w[i]));
    const double by_max = double(max_abs(w, per)) / qmax_, by_l1 = l1 / bound_;
    if (!(l1 > 0.0)) {  // an all-zero channel: codes 0 at any scale
      std::fill(y, y + per, 0.0f);
      continue;
    }
    scale_bound_ += by_l1 > by_max;
    float s = float(std::max(by_max, by_l1));
    fake_quant(w, y, per, s, -float(qmax_), float(qmax_));
    double q1 = 0.0;
    for (std::size_t i = 0; i < per; ++i) q1 += std::abs(std::nearbyint(y[i] / s));
    // Rounding to nearest may spend more than the budget: round toward zero instead, whose
    // codes never exceed |w|/s in magnitude. Float rounding of w/s can still leave the sum a
    // hair above T; then the scale grows by a part in 10^6 until it fits (there for the
    // guarantee).
    if (q1 > bound_) {
      ++truncated_;
      for (;;) {
        q1 = 0.0;
        for (std::size_t i = 0; i < per; ++i) {
          const float q = std::clamp(std::trunc(w[i] / s), -float(qmax_), float(qmax_));
          y[i] = q * s;
          q1 += std::abs(q);
        }
        if (q1 <= bound_) break;
        s *= 1.000001f;
      }
    }
    scale_[o] = s;
    max_l1_ = std::max(max_l1_, q1);
  }
  return y_;
}

Grid A2qWeightQuantizer::grid() const {
  Grid g{spec_.bits, true};
  g.scale = scale_;
  g.granularity = "channel";
  return g;
}

nlohmann::json A2qWeightQuantizer::stats() const {
  return {{"l1_bound", bound_},
          {"max_l1", max_l1_},
          {"channels_truncated", truncated_},
          {"channels_scaled_by_bound", scale_bound_},
          {"channels", scale_.size()}};
}

namespace {

class A2qMethod final : public Method {
 public:
  const MethodInfo& info() const override {
    static const MethodInfo mi{
        "a2q",
        "Colbert, Pappalardo, Petri-Koenig 2023, A2Q: Accumulator-Aware Quantization with "
        "Guaranteed Overflow Avoidance (ICCV 2023; arXiv:2308.13504)",
        "per-output-channel weights whose integer L1 norm is bounded so that no N-bit input "
        "overflows a P-bit accumulator (round toward zero where the budget binds); inputs "
        "minmax; STE",
        {QuantRole::weight},
        2,
        16,
        {{"acc_bits", 16, "accumulator width P"},
         {"input_bits", 8,
          "N, the input grid's bits (in a network: the cell's abits; 8 for "
          "the image's pixels)"},
         {"input_signed", false, "whether the inputs are signed (in a network: unsigned)"}}};
    return mi;
  }

  std::unique_ptr<Quantizer> make_quantizer(const QuantizerSpec& spec) const override {
    return std::make_unique<A2qWeightQuantizer>(spec);
  }

  // Weights bounded for the input grid integer inference will feed them: the previous
  // layer's unsigned abits-bit codes, or the image's 8-bit pixels for the first layer.
  LayerQuantizers make_layer(const LayerInfo& layer, const QuantSettings& s) const override {
    LayerQuantizers out;
    const int wbits = weight_bits(layer, s);
    if (wbits < 32) {
      QuantizerSpec w = slot_spec(layer, s, QuantRole::weight, wbits, "weight_q");
      w.options["input_bits"] = layer.first || s.abits >= 32 ? 8 : s.abits;
      w.options["input_signed"] = false;
      out.weight = make_checked(w);
    }
    if (s.abits < 32 && !layer.first) {
      QuantizerSpec a = slot_spec(layer, s, QuantRole::activation, s.abits, "input_q");
      a.is_signed = false;
      a.options = nlohmann::json::object();  // minmax's defaults: per tensor, momentum 0.9
      out.input = std::make_shared<MinMaxQuantizer>(a);
    }
    return out;
  }
};

}  // namespace

std::unique_ptr<Method> make_a2q_method() { return std::make_unique<A2qMethod>(); }

}  // namespace qb
