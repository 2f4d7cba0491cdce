#include "methods/sat.h"

#include "engine/check.h"
#include "methods/method.h"
#include "methods/pact.h"

#include <cmath>

namespace qb {

SatWeightQuantizer::SatWeightQuantizer(QuantizerSpec spec)
    : DorefaWeightQuantizer(std::move(spec)) {
  scale_adjust_ = spec_.option<bool>("scale_adjust", true);
  eval_scale_ = spec_.option<bool>("eval_scale", false);
}

std::size_t SatWeightQuantizer::n_out(const Tensor& w) const {
  if (spec_.layer && spec_.layer->fan_out > 0) return spec_.layer->fan_out;
  const auto& s = w.shape();
  if (s.size() == 4) return s[0] * s[2] * s[3];  // C_out·kh·kw
  if (s.size() >= 1) return s[0];                // out_features
  return 1;
}

const Tensor& SatWeightQuantizer::forward(const Tensor& w, bool training) {
  const Tensor& q = DorefaWeightQuantizer::forward(w, training);
  const std::size_t n = q.size();
  double s = 0.0, ss = 0.0;
  for (std::size_t i = 0; i < n; ++i) s += q.data()[i];
  const double mean = n ? s / double(n) : 0.0;
  for (std::size_t i = 0; i < n; ++i) ss += (q.data()[i] - mean) * (q.data()[i] - mean);
  var_q_ = n > 1 ? float(ss / double(n - 1)) : 0.0f;
  // A constant Q (every weight on one level) has no variance to normalise: left as it is.
  factor_ = var_q_ > 0.0f ? float(1.0 / std::sqrt(double(n_out(w)) * var_q_)) : 1.0f;
  applied_ = scale_adjust_ && (training || eval_scale_) ? factor_ : 1.0f;
  if (applied_ == 1.0f) return q;
  ensure_shape(scaled_, shape_of(q));
  for (std::size_t i = 0; i < n; ++i) scaled_.data()[i] = q.data()[i] * applied_;
  return scaled_;
}

const Tensor& SatWeightQuantizer::backward(const Tensor& dy) {
  if (applied_ == 1.0f) return DorefaWeightQuantizer::backward(dy);
  ensure_shape(dq_, shape_of(dy));
  for (std::size_t i = 0; i < dy.size(); ++i) dq_.data()[i] = dy.data()[i] * applied_;
  return DorefaWeightQuantizer::backward(dq_);
}

Grid SatWeightQuantizer::grid() const {
  Grid g = DorefaWeightQuantizer::grid();
  g.scale = {g.scale.at(0) * applied_};
  return g;
}

nlohmann::json SatWeightQuantizer::stats() const {
  return {{"var_q", var_q_}, {"weight_scale", factor_}, {"applied_scale", applied_}};
}

namespace {

class SatMethod final : public Method {
 public:
  const MethodInfo& info() const override {
    static const MethodInfo mi{
        "sat",
        "Jin, Yang, Liao 2019, SAT + CG-PACT (arXiv:1912.10207)",
        "DoReFa weights rescaled to variance 1/n_out; PACT activations with the calibrated "
        "alpha gradient",
        {QuantRole::weight, QuantRole::activation},
        1,
        16,
        {{"scale_adjust", true, "rescale quantized weights by 1/sqrt(n_out Var(Q)) (SAT)"},
         {"calibrated_gradient", true, "CG-PACT alpha gradient (false: plain PACT's)"},
         {"eval_scale", false,
          "keep the weight scale in evaluation (set for every layer but the final FC)"}}};
    return mi;
  }

  std::unique_ptr<Quantizer> make_quantizer(const QuantizerSpec& spec) const override {
    if (spec.role == QuantRole::weight) return std::make_unique<SatWeightQuantizer>(spec);
    return std::make_unique<PactQuantizer>(spec, spec.option<bool>("calibrated_gradient", true));
  }

  // Every layer but the final FC is followed by BN or feeds a nonlinearity whose input scale
  // matters: its factor stays in evaluation (as its absorption into BN would).
  LayerQuantizers make_layer(const LayerInfo& layer, const QuantSettings& s) const override {
    QuantSettings adjusted = s;
    adjusted.options["eval_scale"] = !layer.last;
    return Method::make_layer(layer, adjusted);
  }
};

}  // namespace

std::unique_ptr<Method> make_sat_method() { return std::make_unique<SatMethod>(); }

}  // namespace qb
