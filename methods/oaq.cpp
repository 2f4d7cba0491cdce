#include "methods/oaq.h"

#include "engine/check.h"
#include "methods/fake_quant.h"
#include "methods/method.h"

#include <algorithm>
#include <cmath>

namespace qb {
namespace oaq {
constexpr float kMomentum = 0.9f;  // the evaluation range's running average, as minmax's

namespace {

nlohmann::json counts_json(const acc::Counts& c) {
  nlohmann::json wrong = nlohmann::json::object(), rate = nlohmann::json::object();
  for (const auto& row : acc::kModelRows) {
    const std::int64_t n = c.wrong_under(row.value);
    wrong[std::string(row.name)] = n;
    rate[std::string(row.name)] = c.dot_products ? double(n) / double(c.dot_products) : 0.0;
  }
  return {{"dot_products", c.dot_products},
          {"exceeds", c.exceeds},
          {"max_abs_acc", c.max_abs},
          {"wrong", wrong},
          {"rate", rate}};
}

acc::Counts counts_from_json(const nlohmann::json& j) {
  acc::Counts c;
  c.dot_products = j.at("dot_products").get<std::int64_t>();
  c.exceeds = j.at("exceeds").get<std::int64_t>();
  c.max_abs = j.at("max_abs_acc").get<std::int64_t>();
  for (const auto& row : acc::kModelRows)
    c.wrong[std::size_t(row.value)] = j.at("wrong").at(std::string(row.name)).get<std::int64_t>();
  return c;
}

template <class T>
T option(const nlohmann::json& o, const char* key, T fallback) {
  return o.contains(key) ? o.at(key).get<T>() : fallback;
}

}  // namespace

Settings Settings::from_options(const nlohmann::json& o) {
  Settings s;
  s.alpha = option(o, "alpha", s.alpha);
  if (!(s.alpha >= 1.0) || !std::isfinite(s.alpha))
    throw key_error("options.alpha", "expected a finite value ≥ 1, got ", s.alpha);
  const double bits = option(o, "acc_bits", double(s.acc_bits));
  if (bits != std::floor(bits) || bits < 2 || bits > 32)
    throw key_error("options.acc_bits", "expected an integer 2..32, got ", bits);
  s.acc_bits = int(bits);
  s.rule = kRules.parse(option<std::string>(o, "rule", "alpha"), "options.rule").value;
  s.model =
      acc::kModels.parse(option<std::string>(o, "acc_model", "wrap"), "options.acc_model").value;
  if (s.model != acc::Model::wrap && s.acc_bits != 16)
    throw key_error("options.acc_bits", "the ", acc::kModels.row_of(s.model).name,
                    " model is a 16-bit accumulator, got acc_bits ", s.acc_bits);
  s.period = option<std::int64_t>(o, "period", s.period);
  if (s.period < 1) throw key_error("options.period", "expected ≥ 1, got ", s.period);
  s.lambda = option(o, "lambda", s.lambda);
  s.delta_max = option(o, "delta_max", s.delta_max);
  if (!(s.lambda >= 0.0) || !(s.delta_max >= 0.0))
    throw key_error("options.lambda", "lambda and delta_max must be ≥ 0");
  s.min_clamp = option(o, "min_clamp", s.min_clamp);
  if (s.min_clamp < 1) throw key_error("options.min_clamp", "expected ≥ 1, got ", s.min_clamp);
  s.depthwise = option(o, "depthwise", s.depthwise);
  return s;
}

double alpha_step(std::int64_t wrong, std::int64_t dot_products, double lambda, double delta_max) {
  if (wrong <= 0 || dot_products <= 0) return 0.0;
  return std::min(lambda * std::log1p(double(wrong) / double(dot_products)), delta_max);
}

float scale_of(float range, double alpha, int qmax) {
  return range > 0.0f ? float(double(range) * alpha / double(qmax)) : 1.0f;
}

void codes(const float* x, std::size_t n, float scale, int qmax, bool is_signed,
           std::vector<std::int32_t>& out) {
  // The forward's arithmetic (fake_quant: float division, rint), so the codes are the ones the
  // layer computed with.
  const float lo = is_signed ? -float(qmax) : 0.0f, hi = float(qmax);
  out.resize(n);
  for (std::size_t i = 0; i < n; ++i)
    out[i] = std::int32_t(std::clamp(std::nearbyint(x[i] / scale), lo, hi));
}

std::vector<std::int32_t> codes(const float* x, std::size_t n, float scale, int qmax,
                                bool is_signed) {
  std::vector<std::int32_t> c;
  codes(x, n, scale, qmax, is_signed, c);
  return c;
}

Controller::Controller(const Settings& s, int weight_qmax)
    : s_(s), weight_qmax_(weight_qmax), alpha_(s.alpha), clamp_(weight_qmax) {
  QB_CHECK_GE(weight_qmax, 1);
  if (s_.rule == Rule::clamp) {
    // The largest integer clamp whose α is at least the starting one.
    clamp_ = std::max(1, int(std::floor(double(weight_qmax) / s.alpha + 1e-9)));
    alpha_ = double(weight_qmax) / clamp_;
  }
}

bool Controller::due() const { return !gave_up_ && step_ % s_.period == 0; }

void Controller::observe(const CountAt& count) {
  last_ = count(alpha_);
  total_.add(last_);
  ++counted_;
  observed_ = true;
  std::int64_t wrong = last_.wrong_under(s_.model);
  if (s_.rule == Rule::alpha) {
    alpha_ += alpha_step(wrong, last_.dot_products, s_.lambda, s_.delta_max);
    return;
  }
  while (wrong > 0) {
    if (clamp_ - 1 < s_.min_clamp) {  // MNN gives up: ordinary quantization, never again
      clamp_ = weight_qmax_;
      alpha_ = 1.0;
      gave_up_ = true;
      return;
    }
    --clamp_;
    alpha_ = double(weight_qmax_) / clamp_;
    wrong = count(alpha_).wrong_under(s_.model);
  }
}

void Controller::step_done(std::size_t steps_per_epoch) {
  const std::size_t e = steps_per_epoch ? std::size_t(step_) / steps_per_epoch : 0;
  if (epochs_.size() <= e) epochs_.resize(e + 1);
  EpochStats& es = epochs_[e];
  es.alpha = alpha_;
  es.clamp = clamp_;
  if (observed_) {
    ++es.counted;
    es.counts.add(last_);
  }
  observed_ = false;
  ++step_;
}

nlohmann::json Controller::stats() const {
  nlohmann::json epochs = nlohmann::json::array();
  for (std::size_t e = 0; e < epochs_.size(); ++e) {
    nlohmann::json j = counts_json(epochs_[e].counts);
    j["epoch"] = e + 1;
    j["alpha"] = epochs_[e].alpha;
    if (s_.rule == Rule::clamp) j["clamp"] = epochs_[e].clamp;
    j["counted_steps"] = epochs_[e].counted;
    epochs.push_back(j);
  }
  const std::int64_t certified = total_.wrong_under(s_.model);
  nlohmann::json out = {
      {"alpha", alpha_},
      {"rule", kRules.row_of(s_.rule).name},
      {"acc_model", acc::kModels.row_of(s_.model).name},
      {"acc_bits", s_.acc_bits},
      {"period", s_.period},
      {"steps", step_},
      {"counted_steps", counted_},
      {"overflows_certified", certified},
      {"overflow_rate_certified",
       total_.dot_products ? double(certified) / double(total_.dot_products) : 0.0},
      {"total", counts_json(total_)},
      {"last", counts_json(last_)},
      {"epochs", epochs}};
  if (s_.rule == Rule::clamp) {
    out["clamp"] = clamp_;
    out["gave_up"] = gave_up_;
  }
  return out;
}

nlohmann::json Controller::state() const {
  nlohmann::json epochs = nlohmann::json::array();
  for (const EpochStats& es : epochs_)
    epochs.push_back({{"alpha", es.alpha},
                      {"clamp", es.clamp},
                      {"counted", es.counted},
                      {"counts", counts_json(es.counts)}});
  return {{"alpha", alpha_},
          {"clamp", clamp_},
          {"gave_up", gave_up_},
          {"step", step_},
          {"counted", counted_},
          {"total", counts_json(total_)},
          {"last", counts_json(last_)},
          {"epochs", epochs}};
}

void Controller::load(const nlohmann::json& j) {
  alpha_ = j.at("alpha").get<double>();
  clamp_ = j.at("clamp").get<int>();
  gave_up_ = j.at("gave_up").get<bool>();
  step_ = j.at("step").get<std::int64_t>();
  counted_ = j.at("counted").get<std::int64_t>();
  total_ = counts_from_json(j.at("total"));
  last_ = counts_from_json(j.at("last"));
  epochs_.clear();
  for (const auto& e : j.at("epochs"))
    epochs_.push_back({e.at("alpha").get<double>(), e.at("clamp").get<int>(),
                       e.at("counted").get<std::int64_t>(), counts_from_json(e.at("counts"))});
}

void Layer::step_done(std::size_t steps_per_epoch) {
  if (controlled && input.set && weight.set) {
    const acc::Geometry g = acc::geometry(*info, input.shape);
    const int bits = controller.settings().acc_bits;
    controller.observe([&](double alpha) {
      codes(input.values.data(), input.values.size(), scale_of(input.range, alpha, input.qmax),
            input.qmax, input.is_signed, input_codes);
      codes(weight.values.data(), weight.values.size(), scale_of(weight.range, alpha, weight.qmax),
            weight.qmax, true, weight_codes);
      return acc::count(g, input_codes.data(), weight_codes.data(), bits);
    });
  }
  input.set = weight.set = false;
  controller.step_done(steps_per_epoch);
}

}  // namespace oaq

OaqQuantizer::OaqQuantizer(QuantizerSpec spec, std::shared_ptr<oaq::Layer> layer)
    : Quantizer(std::move(spec)),
      layer_(std::move(layer)),
      signed_(spec_.is_signed.value_or(true)),
      qmax_(signed_ ? (1 << (spec_.bits - 1)) - 1 : (1 << spec_.bits) - 1) {
  if (spec_.bits < 2 || spec_.bits > 16)
    throw key_error("bits", "oaq quantizes to 2..16 bits, got ", spec_.bits);
  if (is_weight() && !signed_) throw key_error("signed", "oaq's weights are signed");
  if (!layer_) {
    const oaq::Settings s = oaq::Settings::from_options(spec_.options);
    layer_ = std::make_shared<oaq::Layer>(s, qmax_, spec_.layer, /*controlled=*/false);
  }
}

float OaqQuantizer::range_of(const Tensor& x) const {
  if (signed_) return max_abs(x.data(), x.size());
  float m = 0.0f;
  for (float v : x) m = std::max(m, v);
  return m;
}

void OaqQuantizer::calibrate(const Tensor& x) {
  if (is_weight()) return;  // weights are ranged afresh at every forward
  running_range_ = range_of(x);
  calibrated_ = true;
}

const Tensor& OaqQuantizer::forward(const Tensor& x, bool training) {
  float range;
  if (is_weight()) {
    range = range_of(x);
  } else if (training) {  // the batch's own range (PROBE.md; MNN's overflow test)
    range = range_of(x);
    running_range_ =
        calibrated_ ? oaq::kMomentum * running_range_ + (1.0f - oaq::kMomentum) * range : range;
    calibrated_ = true;
  } else {
    if (!calibrated_) calibrate(x);
    range = running_range_;
  }
  scale_ = oaq::scale_of(range, layer_->controller.alpha(), qmax_);
  ensure_shape(y_, shape_of(x));
  fake_quant(x.data(), y_.data(), x.size(), scale_, signed_ ? -float(qmax_) : 0.0f, float(qmax_));
  if (training && layer_->controlled && layer_->controller.due()) {
    oaq::Layer::Operand& op = is_weight() ? layer_->weight : layer_->input;
    op.values.assign(x.begin(), x.end());
    op.shape = shape_of(x);
    // The input is counted at the running range, the one evaluation and export quantize
    // with: the certificate is about the integer network `qbench infer` runs, not about this
    // batch's fake-quant forward (which used the batch's own range).
    op.range = is_weight() ? range : running_range_;
    op.qmax = qmax_;
    op.is_signed = signed_;
    op.set = true;
  }
  return y_;
}

Grid OaqQuantizer::grid() const {
  Grid g{spec_.bits, signed_};
  g.scale = {scale_};
  return g;
}

nlohmann::json OaqQuantizer::stats() const {
  const oaq::Controller& c = layer_->controller;
  if (is_weight() && layer_->controlled) return c.stats();
  nlohmann::json s = {{"alpha", c.alpha()}, {"acc_bits", c.settings().acc_bits}};
  if (!is_weight()) s["range"] = running_range_;
  if (is_weight()) s["controlled"] = false;
  return s;
}

nlohmann::json OaqQuantizer::state() const {
  if (is_weight()) return {{"controller", layer_->controller.state()}};
  return {{"range", running_range_}, {"calibrated", calibrated_}};
}

void OaqQuantizer::load(const nlohmann::json& s) {
  if (is_weight()) {
    layer_->controller.load(s.at("controller"));
    return;
  }
  running_range_ = s.at("range").get<float>();
  calibrated_ = s.at("calibrated").get<bool>();
}

namespace {

bool is_depthwise(const LayerInfo& l) {
  return l.kind == LayerKind::conv && l.groups > 1 && l.groups == l.in_channels &&
         l.groups == l.out_channels;
}

class OaqMethod final : public Method {
 public:
  const MethodInfo& info() const override {
    static const MethodInfo mi{
        "oaq",
        "Xie, Song, Cai, Li 2020, Overflow Aware Quantization (IJCAI 2020; arXiv:2005.13297)",
        "per-tensor symmetric input and weights, both scales enlarged by one per-layer "
        "alpha >= 1 that a controller raises while training batches overflow a P-bit "
        "accumulator; STE",
        {QuantRole::weight, QuantRole::activation},
        2,
        16,
        {{"alpha", 1.0, "starting scale enlargement alpha (>= 1)"},
         {"acc_bits", 16, "accumulator width P (the 16-bit models need 16)"},
         {"rule", "alpha",
          "controller: alpha (paper: alpha += min(lambda ln(1+No/N), dmax)) "
          "or clamp (MNN: integer clamp c -= 1 while the batch overflows)"},
         {"acc_model", "wrap",
          "accumulation certified: wrap (full sum), pair-wrap (x86 "
          "vpmaddubsw+vpaddw), lanes (MNN ARM int16 lanes)"},
         {"period", 10, "count overflows every this many training steps"},
         {"lambda", oaq::kLambda, "paper rule: lambda"},
         {"delta_max", oaq::kDeltaMax, "paper rule: largest step of alpha"},
         {"min_clamp", 1, "clamp rule: below this the layer gives up (c back to 2^(b-1)-1)"},
         {"depthwise", false, "control depthwise convolutions too (MNN does not)"}}};
    return mi;
  }

  std::unique_ptr<Quantizer> make_quantizer(const QuantizerSpec& spec) const override {
    return std::make_unique<OaqQuantizer>(spec, nullptr);
  }

  // The layer's two quantizers share one controller; it runs only where both operands are
  // integer (not the first layer, whose input is the float image) and the layer is not a
  // depthwise convolution (unless options.depthwise).
  LayerQuantizers make_layer(const LayerInfo& layer, const QuantSettings& s) const override {
    const oaq::Settings settings = oaq::Settings::from_options(s.options);
    const int wbits = weight_bits(layer, s);
    const bool quantized_input = s.abits < 32 && !layer.first;
    const bool controlled =
        wbits < 32 && quantized_input && (settings.depthwise || !is_depthwise(layer));
    const int weight_qmax = wbits < 32 ? (1 << (std::min(wbits, 16) - 1)) - 1 : 127;
    auto state = std::make_shared<oaq::Layer>(settings, weight_qmax, layer, controlled);
    LayerQuantizers out;
    if (wbits < 32) {
      const QuantizerSpec w = slot_spec(layer, s, QuantRole::weight, wbits, "weight_q");
      validate(w);
      out.weight = std::make_shared<OaqQuantizer>(w, state);
    }
    if (quantized_input) {
      QuantizerSpec a = slot_spec(layer, s, QuantRole::activation, s.abits, "input_q");
      a.is_signed = false;  // it follows a ReLU; integer/ stores it as u8 codes, zero point 0
      validate(a);
      out.input = std::make_shared<OaqQuantizer>(a, state);
    }
    if (controlled) layers_.push_back(state);
    return out;
  }

  nlohmann::json probe_weight_operand(Quantizer& input, const Tensor& x,
                                      const Tensor& w) const override {
    auto* in = dynamic_cast<OaqQuantizer*>(&input);
    QB_CHECK(in != nullptr);
    if (in->spec().role != QuantRole::activation)
      throw key_error("w", "a weight operand goes with role activation (x is the layer input)");
    LayerInfo layer = in->spec().layer.value_or(LayerInfo{});
    layer.kind = x.dimension() == 2 ? LayerKind::linear : LayerKind::conv;
    layer.weight_shape = shape_of(w);
    if (!in->spec().layer) layer.groups = 1;
    QuantizerSpec ws = in->spec();
    ws.role = QuantRole::weight;
    ws.is_signed = true;
    OaqQuantizer wq(ws, nullptr);
    wq.forward(w, /*training=*/false);
    const auto xc = oaq::codes(x.data(), x.size(), in->scale(), in->qmax(), in->is_signed());
    const auto wc = oaq::codes(w.data(), w.size(), wq.scale(), wq.qmax(), true);
    const int bits = oaq::Settings::from_options(in->spec().options).acc_bits;
    const acc::Counts c = acc::count(acc::geometry(layer, shape_of(x)), xc.data(), wc.data(), bits);
    nlohmann::json wrong = nlohmann::json::object();
    for (const auto& row : acc::kModelRows) wrong[std::string(row.name)] = c.wrong_under(row.value);
    return {{"grid", {{"w_scale", std::vector<float>{wq.scale()}}}},
            {"stats",
             {{"overflow_count", c.exceeds},
              {"dot_products", c.dot_products},
              {"max_abs_acc", c.max_abs},
              {"wrong", wrong}}}};
  }

  void on_train_begin(std::size_t steps_per_epoch) override { steps_per_epoch_ = steps_per_epoch; }
  void on_step(std::size_t step) override {
    (void)step;
    for (const auto& l : layers_) l->step_done(steps_per_epoch_);
  }

 private:
  // The controlled layers of the network this method's quantizers were installed in.
  mutable std::vector<std::shared_ptr<oaq::Layer>> layers_;
  std::size_t steps_per_epoch_ = 0;
};

}  // namespace

std::unique_ptr<Method> make_oaq_method() { return std::make_unique<OaqMethod>(); }

}  // namespace qb
