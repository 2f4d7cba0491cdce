#include "methods/syq.h"

#include "engine/check.h"
#include "methods/fake_quant.h"
#include "methods/method.h"

#include <algorithm>
#include <cmath>

namespace qb {
namespace {

// The number of α of a weight of shape `s` at granularity `g`.
std::size_t group_count(const std::string& g, const Shape& s) {
  const bool conv = s.size() == 4;
  if (g == "layer") return 1;
  if (g == "channel") return s.empty() ? 1 : s[0];
  if (g == "row") return conv ? s[2] : 1;
  if (g == "pixel") return conv ? s[2] * s[3] : 1;
  throw key_error("options.granularity", "syq supports layer, row, pixel or channel, got '", g,
                  "'");
}

// The weight's shape as the quantizer will see it: the layer's, or (bare probe) unknown yet.
Shape weight_shape(const QuantizerSpec& spec) {
  return spec.layer ? spec.layer->weight_shape : Shape{};
}

}  // namespace

SyqWeightQuantizer::SyqWeightQuantizer(QuantizerSpec spec) : Quantizer(std::move(spec)) {
  if (spec_.bits != 1 && spec_.bits != 2)
    throw key_error("bits", "syq weights are binary (1) or ternary (2), got ", spec_.bits);
  if (spec_.is_signed && !*spec_.is_signed) throw key_error("signed", "syq weights are signed");
  const Shape ws = weight_shape(spec_);
  const bool conv = ws.size() == 4 || (spec_.layer && spec_.layer->kind == LayerKind::conv);
  granularity_from_rank_ = !spec_.options.contains("granularity") && ws.empty() && !conv;
  set_granularity(spec_.option<std::string>("granularity", conv ? "pixel" : "layer"));
  eta_ = spec_.bits == 1 ? 0.0f : spec_.option<float>("eta", 0.05f);
  if (!(eta_ >= 0.0f && eta_ < 1.0f)) throw key_error("options.eta", "expected 0 <= eta < 1");
  // α's shape follows the weight; for a bare probe request it is fixed by the first tensor
  // (the probe calibrates on x before setting parameters, so the shape is known by then).
  Shape as;
  if (!ws.empty()) {
    const std::size_t n = group_count(granularity_, ws);
    if (granularity_ != "layer") as = {n};
  } else {
    group_count(granularity_, {});  // validates the name
  }
  alpha_ = &add_param("alpha", as, 1.0f);
}

void SyqWeightQuantizer::set_granularity(std::string g) {
  granularity_ = g == "tensor" ? "layer" : std::move(g);  // "tensor": the cell-wide default's name
  grouping_ = granularity_ == "channel" ? Grouping::channel
              : granularity_ == "row"   ? Grouping::row
              : granularity_ == "pixel" ? Grouping::pixel
                                        : Grouping::layer;
}

void SyqWeightQuantizer::set_geometry(const Shape& s) {
  if (s.empty()) throw key_error("x", "syq weights need a tensor with at least one dimension");
  if (granularity_from_rank_) {
    set_granularity(s.size() == 4 ? "pixel" : "layer");
    granularity_from_rank_ = false;  // fixed by the first tensor, as α's shape is
  }
  shape_ = s;
  kh_ = s.size() == 4 ? s[2] : 1;
  kw_ = s.size() == 4 ? s[3] : 1;
  per_out_ = numel(s) / s[0];
  const std::size_t n = group_count(granularity_, s);
  if (alpha_->value.size() != n) {
    if (calibrated_)
      throw key_error("x", "weight shape ", to_string(s), " does not fit this quantizer");
    alpha_->value = Tensor::from_shape(granularity_ == "layer" ? Shape{} : Shape{n});
    alpha_->value.fill(1.0f);
    alpha_->init_grad();
  }
}

std::size_t SyqWeightQuantizer::group_of(std::size_t i) const {
  switch (grouping_) {
    case Grouping::layer:
      return 0;
    case Grouping::channel:
      return i / per_out_;
    case Grouping::row:
      return i % (kh_ * kw_) / kw_;
    case Grouping::pixel:
      return i % (kh_ * kw_);  // i·kw + j within the kernel
  }
  return 0;
}

void SyqWeightQuantizer::calibrate(const Tensor& w) {
  set_geometry(shape_of(w));
  const std::size_t groups = alpha_->value.size();
  std::vector<double> sum(groups, 0.0);
  std::vector<std::size_t> count(groups, 0);
  for (std::size_t i = 0; i < w.size(); ++i) {
    const std::size_t g = group_of(i);
    sum[g] += std::abs(w.data()[i]);
    ++count[g];
  }
  for (std::size_t g = 0; g < groups; ++g)
    alpha_->value.data()[g] = count[g] ? float(sum[g] / double(count[g])) : 0.0f;
  calibrated_ = true;
}

const Tensor& SyqWeightQuantizer::forward(const Tensor& w, bool) {
  if (!calibrated_) calibrate(w);
  if (shape_of(w) != shape_) set_geometry(shape_of(w));
  w_ = &w;
  eta_abs_ = eta_ * max_abs(w.data(), w.size());
  ensure_shape(y_, shape_of(w));
  const float* a = alpha_->value.data();
  std::size_t zeros = 0;
  for (std::size_t i = 0; i < w.size(); ++i) {
    const float v = w.data()[i];
    const bool on = std::abs(v) > eta_abs_;
    zeros += !on;
    y_.data()[i] = on ? (v > 0.0f ? a[group_of(i)] : -a[group_of(i)]) : 0.0f;
  }
  zero_fraction_ = w.size() ? double(zeros) / double(w.size()) : 0.0;
  return y_;
}

const Tensor& SyqWeightQuantizer::backward(const Tensor& dy) {
  QB_CHECK(w_ && dy.size() == w_->size());
  ensure_shape(dx_, shape_of(dy));
  const float* a = alpha_->value.data();
  float* da = alpha_->grad.data();
  for (std::size_t i = 0; i < dy.size(); ++i) {
    const float v = w_->data()[i], g = dy.data()[i];
    const std::size_t grp = group_of(i);
    if (std::abs(v) > eta_abs_) {
      dx_.data()[i] = g * a[grp];
      da[grp] += v > 0.0f ? g : -g;
    } else {
      dx_.data()[i] = g;
    }
  }
  return dx_;
}

Grid SyqWeightQuantizer::grid() const {
  Grid g{spec_.bits, true};
  g.scale.assign(alpha_->value.begin(), alpha_->value.end());
  g.granularity = granularity_;
  return g;
}

nlohmann::json SyqWeightQuantizer::stats() const {
  const auto& a = alpha_->value;
  const float lo = a.size() ? *std::min_element(a.begin(), a.end()) : 0.0f;
  const float hi = a.size() ? *std::max_element(a.begin(), a.end()) : 0.0f;
  double mean = 0.0;
  for (float v : a) mean += v;
  return {{"eta_abs", eta_abs_},
          {"alpha_min", lo},
          {"alpha_mean", a.size() ? mean / double(a.size()) : 0.0},
          {"alpha_max", hi},
          {"zero_fraction", zero_fraction_}};
}

const Tensor& SyqActivationQuantizer::forward(const Tensor& x, bool) {
  x_ = &x;
  ensure_shape(y_, shape_of(x));
  const float levels = float((1ull << spec_.bits) - 1);
  const float* xp = x.data();
  float* y = y_.data();
  // No `omp simd` here: it turns clamp's by-reference bounds into per-lane arrays that GCC
  // then cannot vectorise; the auto-vectoriser takes the plain loop (-fopt-info-vec).
  for (std::size_t i = 0; i < x.size(); ++i)
    y[i] = std::floor(std::clamp(xp[i], 0.0f, 1.0f) * levels + 0.5f) / levels;
  return y_;
}

const Tensor& SyqActivationQuantizer::backward(const Tensor& dy) {
  QB_CHECK(x_ && dy.size() == x_->size());
  ensure_shape(dx_, shape_of(dy));
  const float* x = x_->data();
  for (std::size_t i = 0; i < dy.size(); ++i)
    dx_.data()[i] = x[i] > 0.0f && x[i] <= 1.0f ? dy.data()[i] : 0.0f;
  return dx_;
}

Grid SyqActivationQuantizer::grid() const {
  Grid g{spec_.bits, false};
  g.scale = {1.0f / float((1ull << spec_.bits) - 1)};
  return g;
}

namespace {

class SyqMethod final : public Method {
 public:
  const MethodInfo& info() const override {
    static const MethodInfo mi{
        "syq",
        "Faraone et al. CVPR 2018, SYQ (arXiv:1807.00301)",
        "binary/ternary weights with a learned scale per group (layer, row, pixel); k-bit "
        "activations on [0,1]",
        {QuantRole::weight, QuantRole::activation},
        1,
        16,
        {{"granularity", "pixel", "weight groups: layer, row, pixel (conv default), channel"},
         {"eta", 0.05, "ternary threshold as a fraction of max|W|"},
         {"alpha_lr", 1e-4,
          "Adam learning rate of the scaling factors, in their own group (0: they join the "
          "weights' optimizer)"}}};
    return mi;
  }

  void configure(const QuantSettings& s) override {
    alpha_lr_ = s.options.value("alpha_lr", 1e-4f);
    if (!(alpha_lr_ >= 0.0f)) throw key_error("options.alpha_lr", "must be >= 0");
  }

  // The official code trains every variable, α included, with Adam (lr 1e-4, ε 1e-5). Adam's
  // per-parameter step matters for α: its gradient sums a whole group (C_out·C_in elements of
  // a kernel position for `pixel`), so under the weights' SGD pixel αs starting near 0.08
  // reached −1.3 … 3.0 within one epoch of ResNet-20 and the network collapsed
  // (results/syq-resnet20.md, the alpha_lr=0 rows).
  std::optional<OptimizerSpec> quantizer_optimizer() const override {
    if (alpha_lr_ == 0.0f) return std::nullopt;
    OptimizerSpec o;
    o.type = OptimizerKind::adam;
    o.lr = alpha_lr_;
    o.eps = 1e-5f;
    o.weight_decay = 0.0f;
    return o;
  }

  std::unique_ptr<Quantizer> make_quantizer(const QuantizerSpec& spec) const override {
    if (spec.role == QuantRole::weight) return std::make_unique<SyqWeightQuantizer>(spec);
    return std::make_unique<SyqActivationQuantizer>(spec);
  }

 private:
  float alpha_lr_ = 1e-4f;
};

}  // namespace

std::unique_ptr<Method> make_syq_method() { return std::make_unique<SyqMethod>(); }

}  // namespace qb
