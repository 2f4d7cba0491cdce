#include "methods/alt.h"

#include "engine/check.h"
#include "methods/calibration.h"
#include "methods/fake_quant.h"
#include "methods/method.h"

#include <algorithm>
#include <cmath>
#include <numbers>

namespace qb {

AltQuantizer::AltQuantizer(QuantizerSpec spec) : Quantizer(std::move(spec)) {
  signed_ = spec_.is_signed.value_or(spec_.role != QuantRole::activation);
  log2_t_ = &add_param("log2_t", {}, 0.0f);
}

float AltQuantizer::lo() const { return signed_ ? -std::ldexp(1.0f, spec_.bits - 1) : 0.0f; }

float AltQuantizer::hi() const {
  return signed_ ? std::ldexp(1.0f, spec_.bits - 1) - 1.0f : std::ldexp(1.0f, spec_.bits) - 1.0f;
}

int AltQuantizer::exponent() const {
  const float l = log2_t_->value();
  if (!std::isfinite(l)) throw key_error("params.log2_t", "not finite (", l, ")");
  // Far outside any float's range the scale would under- or overflow: a diverged threshold.
  if (std::abs(l) > 100.0f) throw key_error("params.log2_t", l, " is outside [-100, 100]");
  return int(std::ceil(l)) - spec_.bits + (signed_ ? 1 : 0);
}

void AltQuantizer::calibrate(const Tensor& x) {
  const std::size_t n = x.size();
  std::string rule = spec_.option<std::string>("calibration", "auto");
  if (rule == "auto")
    rule = spec_.role == QuantRole::activation                 ? "klj"
           : spec_.role == QuantRole::weight && spec_.training ? "3sd"
                                                               : "max";
  float t = 0.0f;
  if (rule == "mse") {
    // The grid itself: the power-of-2 step of least squared error, and log2 t half-way into
    // the interval whose ceiling gives that step's exponent, so the first threshold updates
    // move t without changing the grid.
    if (max_abs(x.data(), n) > 0.0f) {
      const int e = pow2_mse_exponent(x.data(), n, spec_.bits, signed_);
      t = std::exp2(float(e + spec_.bits - (signed_ ? 1 : 0)) - 0.5f);
    }
  } else if (rule == "klj") {
    // Levels per side of zero: 2^(b−1) signed, 2^b unsigned.
    const std::size_t levels = std::size_t(1) << (signed_ ? spec_.bits - 1 : spec_.bits);
    t = kl_j_threshold(x.data(), n, levels, signed_);
  } else if (rule == "3sd") {
    t = three_sigma(x.data(), n);
  } else if (rule == "max") {
    t = max_abs(x.data(), n);
  } else {
    throw key_error("options.calibration", "expected auto, max, 3sd, klj or mse, got '", rule, "'");
  }
  if (!std::isfinite(t)) throw key_error("x", "calibration met a non-finite value");
  // An all-zero tensor has no range; t = 1 keeps the grid finite until data arrives.
  log2_t_->value() = t > 0.0f ? std::log2(t) : 0.0f;
  calibrated_ = true;
}

const Tensor& AltQuantizer::forward(const Tensor& x, bool training) {
  if (!calibrated_) calibrate(x);
  x_ = &x;
  s_ = std::ldexp(1.0f, exponent());
  const float s = s_, n = lo(), p = hi();
  ensure_shape(y_, shape_of(x));
  const float* xp = x.data();
  float* y = y_.data();
  std::uint64_t clipped = 0;
#pragma omp simd reduction(+ : clipped)
  for (std::size_t i = 0; i < x.size(); ++i) {
    const float r = std::rint(xp[i] / s);
    clipped += (r < n) | (r > p);
    y[i] = std::min(std::max(r, n), p) * s;
  }
  clipped_ = clipped;
  seen_ = x.size();
  return y_;
}

const Tensor& AltQuantizer::backward(const Tensor& dy) {
  QB_CHECK(x_ && dy.size() == x_->size());
  const float s = s_, n = lo(), p = hi();
  ensure_shape(dx_, shape_of(dy));
  const float* x = x_->data();
  const float* g = dy.data();
  float* dx = dx_.data();
  // Σ g·∂q/∂s in element order, on purpose: every stored ALT result was trained with this
  // order. GCC vectorises the per-element work and adds the lanes in order (an in-order
  // reduction, CMakeLists' flags); `omp simd reduction` would reorder the sum, and the bits.
  float sum = 0.0f;
  for (std::size_t i = 0; i < dy.size(); ++i) {
    const float v = x[i] / s, r = std::rint(v);
    const bool inside = r >= n && r <= p;
    dx[i] = inside ? g[i] : 0.0f;
    sum += g[i] * (inside ? r - v : (r < n ? n : p));
  }
  log2_t_->grad() += s * std::numbers::ln2_v<float> * sum;
  return dx_;
}

Grid AltQuantizer::grid() const {
  Grid g{spec_.bits, signed_};
  const int e = exponent();
  g.scale = {std::ldexp(1.0f, e)};
  g.pow2_exponent = {e};
  return g;
}

nlohmann::json AltQuantizer::stats() const {
  return {{"log2_t", log2_t_->value()},
          {"exponent", exponent()},
          {"clipped", clipped_},
          {"clipped_fraction", seen_ ? double(clipped_) / double(seen_) : 0.0}};
}

namespace {

class AltMethod final : public Method {
 public:
  const MethodInfo& info() const override {
    static const MethodInfo mi{
        "alt",
        "Jain et al. 2019, Trained Quantization Thresholds (TQT/ALT, arXiv:1903.08066)",
        "uniform symmetric, per-tensor power-of-2 scale; log2 thresholds trained with exact "
        "gradients (Adam); BN folded in training",
        {QuantRole::weight, QuantRole::activation, QuantRole::gradient},
        1,
        16,
        {{"mode", "retrain",
          "retrain (thresholds and weights trained) or static (thresholds calibrated, then "
          "fixed; with --epochs 0 nothing trains, with more only the weights do)"},
         {"calibration", "auto",
          "threshold initialisation: auto (weights 3SD when retrained, MAX when static; "
          "activations KL-J (below 4 bits MSE), the image MAX; gradients MAX), or max, 3sd, "
          "klj, mse (the power-of-2 step of least squared error) for all"},
         {"threshold_lr", 0.01, "Adam learning rate of the log2 thresholds"},
         {"fold_bn", true, "fold BatchNorm into the preceding convolution's weights"},
         {"bn_freeze_epoch", 1, "epochs after which folded BN uses its moving statistics"},
         {"threshold_freeze_epoch", 0, "epochs after which thresholds stop training (0: never)"}}};
    return mi;
  }

  void configure(const QuantSettings& s) override {
    const nlohmann::json& o = s.options;
    mode_ = o.value("mode", std::string("retrain"));
    if (mode_ != "retrain" && mode_ != "static")
      throw key_error("options.mode", "expected retrain or static, got '", mode_, "'");
    threshold_lr_ = o.value("threshold_lr", 0.01f);
    if (!(threshold_lr_ > 0.0f)) throw key_error("options.threshold_lr", "must be positive");
    fold_bn_ = o.value("fold_bn", true);
    bn_freeze_epoch_ = o.value("bn_freeze_epoch", 1);
    threshold_freeze_epoch_ = o.value("threshold_freeze_epoch", 0);
    if (bn_freeze_epoch_ < 0)
      throw key_error("options.bn_freeze_epoch", "must be >= 0, got ", bn_freeze_epoch_);
    if (threshold_freeze_epoch_ < 0)
      throw key_error("options.threshold_freeze_epoch", "must be >= 0, got ",
                      threshold_freeze_epoch_);
  }

  std::unique_ptr<Quantizer> make_quantizer(const QuantizerSpec& spec) const override {
    return std::make_unique<AltQuantizer>(spec);
  }

  // Graffitist quantizes every compute layer's input, the image included: the first layer's
  // input is the normalised image, signed; every other input follows a ReLU/ReLU6 in qbench's
  // networks, unsigned. Quantizers are trained in retrain mode, calibrated only in static mode.
  LayerQuantizers make_layer(const LayerInfo& layer, const QuantSettings& s) const override {
    LayerQuantizers q;
    const int wbits = weight_bits(layer, s);
    if (wbits < 32) {
      QuantizerSpec w = slot_spec(layer, s, QuantRole::weight, wbits, "weight_q");
      w.training = mode_ == "retrain";
      q.weight = make_checked(w);
    }
    if (s.abits < 32) {
      QuantizerSpec a = slot_spec(layer, s, QuantRole::activation, s.abits, "input_q");
      a.is_signed = layer.first;
      a.training = mode_ == "retrain";
      // The normalised image has a known, bounded range. KL-J weighs errors by probability
      // and clips the minority of bright pixels: 26% of Fashion-MNIST's pixel values fell
      // beyond its threshold (LeNet-5, measured), costing 1.5 points of static INT8 accuracy.
      if (layer.first && a.option<std::string>("calibration", "auto") == "auto")
        a.options["calibration"] = "max";
      // Below 4 bits KL-J collapses behind quantized layers: their outputs are spikes on a
      // lattice, and a threshold just past the first spike folds all the others into one bin
      // where J sees no difference (J = 0), so every active unit gets the top code (LeNet-5
      // W2A2: fc1's t = 2^-5.5 against max 2^2.6, 29% of its inputs clipped, static accuracy
      // 10%). The squared error on the power-of-2 grid charges clipping by distance
      // (tests/test_alt.cpp, docs/alt-calibration.md).
      else if (s.abits < 4 && a.option<std::string>("calibration", "auto") == "auto")
        a.options["calibration"] = "mse";
      q.input = make_checked(a);
    }
    if (s.gbits < 32)
      throw key_error("gbits", "alt quantizes weights and activations in training, not gradients");
    return q;
  }

  // Thresholds get their own Adam, without weight decay: they see only the task loss (§3.4).
  std::optional<OptimizerSpec> quantizer_optimizer() const override {
    OptimizerSpec o;
    o.type = OptimizerKind::adam;
    o.lr = threshold_lr_;
    o.weight_decay = 0.0f;
    return o;
  }

  bool fold_bn() const override { return fold_bn_; }

  void on_epoch_begin(std::size_t epoch, Network& net) override {
    net.set_bn_frozen(mode_ == "static" || epoch >= std::size_t(bn_freeze_epoch_));
    const bool freeze = mode_ == "static" || (threshold_freeze_epoch_ > 0 &&
                                              epoch >= std::size_t(threshold_freeze_epoch_));
    for (Param* p : net.params())
      if (p->role == ParamRole::quantizer) p->frozen = freeze;
  }

 private:
  std::string mode_ = "retrain";
  float threshold_lr_ = 0.01f;
  bool fold_bn_ = true;
  int bn_freeze_epoch_ = 1, threshold_freeze_epoch_ = 0;
};

}  // namespace

std::unique_ptr<Method> make_alt_method() { return std::make_unique<AltMethod>(); }

}  // namespace qb
