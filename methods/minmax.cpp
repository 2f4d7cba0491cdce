#include "methods/minmax.h"

#include "engine/check.h"
#include "methods/fake_quant.h"
#include "methods/method.h"

#include <algorithm>
#include <cmath>

namespace qb {

MinMaxQuantizer::MinMaxQuantizer(QuantizerSpec spec) : Quantizer(std::move(spec)) {
  signed_ = spec_.is_signed.value_or(spec_.role != QuantRole::activation);
  const std::string g = spec_.option<std::string>("granularity", "tensor");
  if (g != "tensor" && g != "channel")
    throw key_error("options.granularity", "minmax supports tensor or channel, got '", g, "'");
  per_channel_ = g == "channel";
  if (per_channel_ && spec_.role != QuantRole::weight)
    throw key_error("options.granularity", "per-channel minmax applies to weights only");
  if (signed_ && spec_.bits < 2) throw key_error("bits", "signed minmax needs at least 2 bits");
  momentum_ = spec_.option<float>("momentum", 0.9f);
}

float MinMaxQuantizer::qmax() const {
  return signed_ ? float((1u << (spec_.bits - 1)) - 1) : float((1ull << spec_.bits) - 1);
}

std::vector<float> MinMaxQuantizer::ranges(const Tensor& x) const {
  const std::size_t groups = per_channel_ && x.dimension() > 0 ? x.shape()[0] : 1;
  const std::size_t per = groups ? x.size() / groups : 0;
  std::vector<float> r(groups, 0.0f);
  for (std::size_t g = 0; g < groups; ++g) {
    const float* p = x.data() + g * per;
    if (signed_) {
      r[g] = max_abs(p, per);
    } else {
      float m = 0.0f;
      for (std::size_t i = 0; i < per; ++i) m = std::max(m, p[i]);
      r[g] = m;
    }
  }
  return r;
}

void MinMaxQuantizer::calibrate(const Tensor& x) {
  range_ = ranges(x);
  calibrated_ = true;
}

const Tensor& MinMaxQuantizer::forward(const Tensor& x, bool training) {
  x_ = &x;
  if (spec_.role == QuantRole::activation) {
    if (!calibrated_) {
      calibrate(x);
    } else if (training) {
      const auto r = ranges(x);
      for (std::size_t g = 0; g < r.size(); ++g)
        range_[g] = momentum_ * range_[g] + (1.0f - momentum_) * r[g];
    }
  } else {
    range_ = ranges(x);
  }
  const float hi = qmax(), lo = signed_ ? -hi : 0.0f;
  scale_.resize(range_.size());
  for (std::size_t g = 0; g < range_.size(); ++g)
    scale_[g] = range_[g] > 0.0f ? range_[g] / hi : 1.0f;  // an all-zero range maps to 0
  ensure_shape(y_, shape_of(x));
  if (scale_.size() == 1)
    fake_quant(x.data(), y_.data(), x.size(), scale_[0], lo, hi);
  else
    fake_quant_per_channel(x.data(), y_.data(), scale_.size(), x.size() / scale_.size(),
                           scale_.data(), lo, hi);
  return y_;
}

const Tensor& MinMaxQuantizer::backward(const Tensor& dy) {
  QB_CHECK(x_ && dy.size() == x_->size());
  if (signed_) return dy;
  ensure_shape(dx_, shape_of(dy));
  const float* x = x_->data();
  const float* d = dy.data();
  float* o = dx_.data();
  for (std::size_t i = 0; i < dy.size(); ++i) o[i] = x[i] < 0.0f ? 0.0f : d[i];
  return dx_;
}

Grid MinMaxQuantizer::grid() const {
  Grid g{spec_.bits, signed_};
  g.scale = scale_;
  g.granularity = per_channel_ ? "channel" : "tensor";
  return g;
}

nlohmann::json MinMaxQuantizer::state() const {
  return {{"range", range_}, {"calibrated", calibrated_}};
}

void MinMaxQuantizer::load(const nlohmann::json& s) {
  range_ = s.at("range").get<std::vector<float>>();
  calibrated_ = s.at("calibrated").get<bool>();
}

nlohmann::json MinMaxQuantizer::stats() const { return {{"range", range_}}; }

namespace {

class MinMaxMethod final : public Method {
 public:
  const MethodInfo& info() const override {
    static const MethodInfo mi{
        "minmax",
        "uniform symmetric quantization over the observed range (baseline)",
        "s = max|x| / (2^(b-1)-1) (signed) or max(x) / (2^b-1); STE; running range for activations",
        {QuantRole::weight, QuantRole::activation, QuantRole::gradient},
        1,
        16,
        {{"granularity", "tensor", "tensor, or channel (weights: one range per output channel)"},
         {"momentum", 0.9, "running-average momentum of activation ranges"}}};
    return mi;
  }
  std::unique_ptr<Quantizer> make_quantizer(const QuantizerSpec& spec) const override {
    return std::make_unique<MinMaxQuantizer>(spec);
  }
};

}  // namespace

std::unique_ptr<Method> make_minmax_method() { return std::make_unique<MinMaxMethod>(); }

}  // namespace qb
