#include "methods/pact.h"

#include "engine/check.h"
#include "methods/dorefa.h"
#include "methods/method.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace qb {
namespace {

// α's domain is α > 0; the smallest clipping level PACT and SAT use. The optimizer keeps the
// trained α at or above it (Param::min_value), and forward() uses it for a smaller α that a
// probe request gives.
constexpr float kMinAlpha = 1e-3f;

const char* const kNeedsKind = "PACT needs layer.kind (conv or linear) to initialise alpha";

// α starts at 8 for conv and 10 for linear inputs (PROBE.md, SAT §A.3). Without a layer's kind
// (a probe request with no layer, or one whose layer omits "kind") there is no initial value:
// NaN until the request's params.alpha replaces it, refused if it does not (alpha()).
float initial_alpha(const QuantizerSpec& spec) {
  if (spec.layer && spec.layer->kind == LayerKind::conv) return 8.0f;
  if (spec.layer && spec.layer->kind == LayerKind::linear) return 10.0f;
  return std::numeric_limits<float>::quiet_NaN();
}

}  // namespace

PactQuantizer::PactQuantizer(QuantizerSpec spec, bool calibrated_gradient)
    : Quantizer(std::move(spec)), calibrated_(calibrated_gradient) {
  alpha_ = &add_param("alpha", {}, initial_alpha(spec_));
  alpha_->min_value = kMinAlpha;
}

float PactQuantizer::alpha() const {
  const float a = alpha_->value();
  if (std::isnan(a)) throw key_error(spec_.layer ? "layer.kind" : "layer", kNeedsKind);
  if (!std::isfinite(a)) throw key_error("params.alpha", "not finite");
  return std::max(a, kMinAlpha);
}

const Tensor& PactQuantizer::forward(const Tensor& x, bool) {
  x_ = &x;
  const float a = alpha(), levels = float((1ull << spec_.bits) - 1);
  ensure_shape(y_, shape_of(x));
  const float* xp = x.data();
  float* y = y_.data();
  for (std::size_t i = 0; i < x.size(); ++i)
    y[i] = a * std::rint(levels * std::clamp(xp[i], 0.0f, a) / a) / levels;
  return y_;
}

const Tensor& PactQuantizer::backward(const Tensor& dy) {
  QB_CHECK(x_ && dy.size() == x_->size());
  const float a = alpha(), levels = float((1ull << spec_.bits) - 1);
  ensure_shape(dx_, shape_of(dy));
  const float* x = x_->data();
  const float* g = dy.data();
  float* dx = dx_.data();
  // dα is summed in element order, on purpose: every stored PACT and SAT result was trained
  // with this order. GCC vectorises the per-element work and adds the lanes in order (an
  // in-order reduction, CMakeLists' flags); `omp simd reduction` would reorder the sum, and
  // the bits.
  const float cg = calibrated_ ? 1.0f : 0.0f;
  float dalpha = 0.0f;
  for (std::size_t i = 0; i < dy.size(); ++i) {
    const bool inside = x[i] > 0.0f && x[i] < a;
    const float r = x[i] / a;
    dx[i] = inside ? g[i] : 0.0f;
    dalpha += x[i] >= a ? g[i] : (inside ? cg * g[i] * (std::rint(levels * r) / levels - r) : 0.0f);
  }
  alpha_->grad() += dalpha;
  return dx_;
}

Grid PactQuantizer::grid() const {
  Grid g{spec_.bits, false};
  g.scale = {alpha() / float((1ull << spec_.bits) - 1)};
  return g;
}

nlohmann::json PactQuantizer::stats() const { return {{"alpha", alpha_->value()}}; }

namespace {

class PactMethod final : public Method {
 public:
  const MethodInfo& info() const override {
    static const MethodInfo mi{
        "pact",
        "Choi et al. 2018, PACT (arXiv:1805.06085)",
        "activations clipped at a learned alpha per layer, k-bit uniform; DoReFa weights",
        {QuantRole::activation},
        1,
        16,
        {{"alpha_decay", kAlphaDecay, "L2 coefficient of alpha (the paper's regulariser)"},
         {"weight_scale", true,
          "DoReFa weights keep their per-tensor scale max|tanh W| (false: levels in [-1, 1])"}}};
    return mi;
  }
  std::unique_ptr<Quantizer> make_quantizer(const QuantizerSpec& spec) const override {
    return std::make_unique<PactQuantizer>(spec, /*calibrated_gradient=*/false);
  }
  void configure(const QuantSettings& s) override {
    alpha_decay_ = s.options.value("alpha_decay", kAlphaDecay);
    if (!(alpha_decay_ >= 0.0 && alpha_decay_ <= 1.0))
      throw key_error("options.alpha_decay", "expected a number in [0, 1], got ", alpha_decay_);
  }
  float quantizer_weight_decay() const override { return float(alpha_decay_); }
  // PACT quantizes weights as DoReFa does (Choi et al. 2018, §3), so a "W4A4 PACT" cell
  // gets DoReFa weights beside its PACT activations.
  LayerQuantizers make_layer(const LayerInfo& layer, const QuantSettings& s) const override {
    LayerQuantizers q = Method::make_layer(layer, s);
    const int wbits = weight_bits(layer, s);
    if (wbits < 32)
      q.weight = std::make_shared<DorefaWeightQuantizer>(
          slot_spec(layer, s, QuantRole::weight, wbits, "weight_q"),
          s.options.value("weight_scale", true));
    return q;
  }

 private:
  // λ_α: the paper regularises α with L2 (§3) at the weights' coefficient; 2e-4 here.
  static constexpr double kAlphaDecay = 2e-4;
  double alpha_decay_ = kAlphaDecay;
};

}  // namespace

std::unique_ptr<Method> make_pact_method() { return std::make_unique<PactMethod>(); }

}  // namespace qb
