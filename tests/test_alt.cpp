// ALT (trained power-of-2 thresholds): hand-derived vectors, the closed-form threshold
// gradient on random tensors, calibration rules, BatchNorm folding in training (finite
// differences through every parameter), and the method's trainer hooks.
#include "engine/check.h"
#include "engine/layers/batchnorm.h"
#include "engine/layers/conv2d.h"
#include "engine/layers/folded_conv_bn.h"
#include "engine/nets.h"
#include "engine/rng.h"
#include "engine/train.h"
#include "methods/alt.h"
#include "methods/calibration.h"
#include "methods/qat.h"
#include "methods/registry.h"
#include "tests/gradcheck.h"
#include "tests/support.h"

#include <catch2/catch.hpp>

#include <cmath>

using namespace qb;
using namespace qb::test;

namespace {

std::unique_ptr<AltQuantizer> alt(QuantRole role, int bits, bool is_signed, float log2_t,
                                  bool training = true) {
  QuantizerSpec spec;
  spec.role = role;
  spec.bits = bits;
  spec.is_signed = is_signed;
  spec.training = training;
  auto q = std::make_unique<AltQuantizer>(spec);
  q->load({{"calibrated", true}});
  q->param("log2_t")->value() = log2_t;
  return q;
}

Tensor vec(std::initializer_list<float> v) {
  Tensor t = Tensor::from_shape({v.size()});
  std::copy(v.begin(), v.end(), t.begin());
  return t;
}

}  // namespace

// Signed 8 bits, log2 t = −0.6: ⌈log2 t⌉ = 0, s = 2^0/2^7 = 1/128, codes [−128, 127].
// 1.2 → 153.6 clips to 127 (0.9921875); −2 → −256 clips to −128 (−1); 0.00390625 = 0.5·s
// is a tie and rounds to the even code 0; 0.01171875 = 1.5·s rounds to 2 (0.015625).
// dlog2t = s·ln2·Σ ∂q/∂s with dy = 1: inside r − x/s, clipped p = 127 or n = −128.
TEST_CASE("alt: hand-derived forward, input gradient and threshold gradient", "[alt]") {
  auto q = alt(QuantRole::activation, 8, true, -0.6f);
  const Tensor x = vec({0.5f, -0.3f, 1.2f, -2.0f, 0.00390625f, 0.01171875f, -0.01171875f});
  const Tensor y = q->forward(x, true);
  const float want_y[] = {0.5f, -0.296875f, 0.9921875f, -1.0f, 0.0f, 0.015625f, -0.015625f};
  for (std::size_t i = 0; i < 7; ++i) CHECK(y(i) == want_y[i]);
  const Tensor dx = q->backward(Tensor(xt::ones<float>({7})));
  const float want_dx[] = {1, 1, 0, 0, 1, 1, 1};
  for (std::size_t i = 0; i < 7; ++i) CHECK(dx(i) == want_dx[i]);
  // ∂q/∂s: 0 (64 − 64), −38 + 38.4 = 0.4, 127, −128, 0 − 0.5, 2 − 1.5, −2 + 1.5.
  const double sum = 0.0 + 0.4 + 127 - 128 - 0.5 + 0.5 - 0.5;
  CHECK(q->param("log2_t")->grad() == Approx(sum * std::log(2.0) / 128).epsilon(1e-5));
  const Grid g = q->grid();
  CHECK(g.pow2_exponent == std::vector<int>{-7});
  CHECK(g.scale == std::vector<float>{0.0078125f});
  CHECK(q->stats().at("clipped") == 2);

  // Unsigned 3 bits, log2 t = 0: s = 1/8, codes 0..7; x/s = 0.5, 1.5, 2.5, 3.5 are ties
  // (→ 0, 2, 2, 4) and 7.5 clips to 7.
  auto u = alt(QuantRole::activation, 3, false, 0.0f);
  const Tensor xu = vec({0.0625f, 0.1875f, 0.3125f, 0.4375f, 0.9375f});
  const Tensor yu = u->forward(xu, true);
  const float want_u[] = {0.0f, 0.25f, 0.25f, 0.5f, 0.875f};
  for (std::size_t i = 0; i < 5; ++i) CHECK(yu(i) == want_u[i]);
  u->backward(Tensor(xt::ones<float>({5})));
  // ∂q/∂s = −0.5 + 0.5 − 0.5 + 0.5 + 7, times s·ln2 = ln2/8.
  CHECK(u->param("log2_t")->grad() == Approx(7.0 * std::log(2.0) / 8).epsilon(1e-5));
}

// The closed form of research note §1.2 in double precision, against the quantizer, for
// signed and unsigned grids at several widths on tensors that straddle the clipping range.
TEST_CASE("alt: forward and gradients equal the closed form on random tensors", "[alt]") {
  Rng rng(3);
  for (bool is_signed : {true, false})
    for (int bits : {2, 4, 8}) {
      INFO("signed=" << is_signed << " bits=" << bits);
      const float log2_t = -0.3f + 0.1f * float(bits);
      auto q = alt(QuantRole::weight, bits, is_signed, log2_t);
      Tensor x = Tensor::from_shape({6, 4, 3, 3}), dy = Tensor::from_shape({6, 4, 3, 3});
      for (auto& v : x) v = float(rng.normal() * 1.5);
      for (auto& v : dy) v = float(rng.normal());
      const Tensor y = q->forward(x, true);
      const Tensor dx = q->backward(dy);
      const double s = std::ldexp(1.0, int(std::ceil(log2_t)) - bits + (is_signed ? 1 : 0));
      const double n = is_signed ? -std::ldexp(1.0, bits - 1) : 0.0;
      const double p = is_signed ? std::ldexp(1.0, bits - 1) - 1 : std::ldexp(1.0, bits) - 1;
      double dlog2t = 0.0;
      for (std::size_t i = 0; i < x.size(); ++i) {
        const double v = double(x.data()[i]) / s, r = std::nearbyint(v);
        const bool inside = r >= n && r <= p;
        CHECK(y.data()[i] == float(std::clamp(r, n, p) * s));
        CHECK(dx.data()[i] == (inside ? dy.data()[i] : 0.0f));
        dlog2t += dy.data()[i] * (inside ? r - v : (r < n ? n : p));
      }
      dlog2t *= s * std::log(2.0);
      CHECK(q->param("log2_t")->grad() == Approx(dlog2t).epsilon(1e-4).margin(1e-5));
      CHECK(q->grid().pow2_exponent.at(0) == int(std::ceil(log2_t)) - bits + is_signed);
    }
}

TEST_CASE("alt: calibration by 3SD, MAX and KL-J", "[alt]") {
  Tensor w = Tensor::from_shape({1000});
  Rng rng(4);
  for (auto& v : w) v = float(0.1 + rng.normal() * 0.5);
  double mean = 0, sq = 0;
  for (float v : w) mean += v;
  mean /= 1000;
  for (float v : w) sq += (v - mean) * (v - mean);
  const double three_sd = std::abs(mean) + 3 * std::sqrt(sq / 1000);

  QuantizerSpec spec;
  spec.role = QuantRole::weight;
  spec.bits = 4;
  AltQuantizer retrain(spec);
  retrain.calibrate(w);
  CHECK(retrain.param("log2_t")->value() == Approx(std::log2(three_sd)).epsilon(1e-5));
  spec.training = false;  // static mode: MAX
  AltQuantizer fixed(spec);
  fixed.calibrate(w);
  CHECK(fixed.param("log2_t")->value() == Approx(std::log2(float(xt::amax(xt::abs(w))()))));

  // KL-J on activations: a uniform [0, 1] sample keeps (nearly) its whole range; the same
  // sample with 0.1% of outliers at 50 clips them instead of spreading 4 bits over [0, 50].
  Tensor a = Tensor::from_shape({20000});
  for (auto& v : a) v = float(rng.uniform());
  const float t_uniform = kl_j_threshold(a.data(), a.size(), 16, false);
  CHECK(t_uniform > 0.9f);
  CHECK(t_uniform <= 1.0f);
  for (std::size_t i = 0; i < 20; ++i) a(i * 1000) = 50.0f;
  const float t_outliers = kl_j_threshold(a.data(), a.size(), 16, false);
  CHECK(t_outliers < 5.0f);
  CHECK(t_outliers > 0.5f);
  // 8 bits (256 levels) cannot resolve below 256 of the 2048 bins: t ≥ max/8.
  CHECK(kl_j_threshold(a.data(), a.size(), 256, false) >= 50.0f / 8);
  Tensor zeros = xt::zeros<float>({10});
  CHECK(kl_j_threshold(zeros.data(), zeros.size(), 256, false) == 0.0f);
}

TEST_CASE("ALT below 4 bits: KL-J folds a ReLU output's tail into one spike, the MSE grid not",
          "[alt][calibration]") {
  // A ReLU output shaped like LeNet-5's fc1 input behind 2-bit layers: 70% exact zeros, the
  // rest on a lattice of step 0.25 (sums of few-level products), geometric counts.
  Rng rng(7);
  Tensor a = Tensor::from_shape({50000});
  for (auto& v : a) {
    if (rng.uniform() < 0.7) {
      v = 0.0f;
      continue;
    }
    int k = 1;
    while (k < 24 && rng.uniform() < 0.8) ++k;
    v = 0.25f * float(k);
  }
  const float top = float(xt::amax(a)());
  const auto clipped_share = [&](float t) {  // of the non-zero values
    std::size_t nz = 0, beyond = 0;
    for (float v : a) nz += v > 0, beyond += v > t;
    return double(beyond) / double(nz);
  };
  // 2 bits unsigned = 4 levels, candidates from 4 of 2048 bins up: a t just past the first
  // spike folds every other spike into that same last bin, so P is one spike, Q (that level's
  // mass over its one non-empty bin) the same spike, and J = 0 — the minimum. Every non-zero
  // value then lands on the top code. (At 8 bits the candidates start at max/8, past it.)
  const float t2 = kl_j_threshold(a.data(), a.size(), 4, false);
  CHECK(t2 > 0.25f);
  CHECK(t2 < 0.5f);
  CHECK(clipped_share(t2) > 0.75);
  // At 8 bits the same rule keeps nearly the whole range.
  CHECK(clipped_share(kl_j_threshold(a.data(), a.size(), 256, false)) < 0.01);

  // The squared error charges clipping by distance: its step keeps most values inside.
  const int e = pow2_mse_exponent(a.data(), a.size(), 2, false);
  CHECK(clipped_share(3 * std::ldexp(1.0f, e)) < 0.3);
  // It is the exhaustive argmin over the candidate steps.
  const auto sse = [&](int k) {
    double s = 0;
    for (float v : a) {
      const double q = std::ldexp(1.0, k) * std::clamp(std::rint(v / std::ldexp(1.0, k)), 0.0, 3.0);
      s += (v - q) * (v - q);
    }
    return s;
  };
  const int e_max = int(std::ceil(std::log2(top / 3.0)));
  for (int k = e_max; k >= e_max - 12; --k) CHECK(sse(e) <= sse(k));
  CHECK(e <= e_max);
}

// ---- BatchNorm folded into the convolution ----

namespace {

// conv → BN pair with non-trivial parameters and statistics; momentum 0 keeps the running
// statistics (which W_fold uses) fixed across the gradient checker's repeated forwards.
std::unique_ptr<FoldedConvBn> folded(const Conv2dSpec& spec, std::uint64_t seed) {
  auto conv = std::make_unique<Conv2d>("c", spec);
  auto bn = std::make_unique<BatchNorm2d>("c.bn", spec.out_channels, /*momentum=*/0.0f);
  fill_normal(conv->weight().value, seed, 0.4f);
  fill_normal(bn->gamma().value, seed + 1, 1.0f);
  fill_normal(bn->beta().value, seed + 2, 1.0f);
  fill_normal(bn->running_mean().value, seed + 3, 0.3f);
  for (auto& v : bn->running_var().value) v = 0.5f + std::abs(v);
  return std::make_unique<FoldedConvBn>(std::move(conv), std::move(bn));
}

}  // namespace

TEST_CASE("folded conv+BN gradients match finite differences (training, frozen, eval)",
          "[alt][fold][gradcheck]") {
  const Conv2dSpec specs[] = {
      {3, 4, 3, 1, 1, 1, false}, {4, 4, 3, 2, 1, 4, false}, {5, 3, 1, 1, 0, 1, false}};
  for (const auto& spec : specs)
    for (int mode = 0; mode < 3; ++mode) {  // 0 training, 1 training with BN frozen, 2 eval
      INFO("groups=" << spec.groups << " kernel=" << spec.kernel << " mode=" << mode);
      auto f = folded(spec, 21);
      // Smooth stand-ins for the quantizers, so every path is differentiable: the weight hook
      // sees W_fold, the input hook x, the grad hook dL/dz.
      f->set_hook(HookSlot::weight, std::make_shared<ScaleHook>(0.8f));
      f->set_hook(HookSlot::input, std::make_shared<ScaleHook>(1.2f));
      f->set_frozen(mode == 1);
      GradCheckOptions opt;
      opt.training = mode != 2;
      opt.step = 1e-2f;
      opt.rtol = 2e-2;
      std::vector<Param*> ps;
      f->collect_params(ps);
      CHECK(ps.size() == 5);  // W, two hook scales, γ, β
      auto r = check_layer(*f, {3, spec.in_channels, 5, 5}, opt);
      INFO(r.report);
      CHECK(r.ok);
    }
}

TEST_CASE("folded conv+BN equals conv then BN when nothing is quantized", "[alt][fold]") {
  const Conv2dSpec spec{3, 4, 3, 1, 1, 1, false};
  for (bool training : {true, false}) {
    auto f = folded(spec, 31);
    Conv2d conv("c", spec);
    BatchNorm2d bn("c.bn", 4, 0.0f);
    conv.weight().value = f->conv().weight().value;
    bn.gamma().value = f->bn().gamma().value;
    bn.beta().value = f->bn().beta().value;
    bn.running_mean().value = f->bn().running_mean().value;
    bn.running_var().value = f->bn().running_var().value;
    Tensor x = Tensor::from_shape({4, 3, 6, 6});
    fill_normal(x, 32);
    const Tensor want = bn.forward(conv.forward(x, training), training);
    const Tensor got = f->forward(x, training);
    for (std::size_t i = 0; i < want.size(); ++i)
      REQUIRE(got.data()[i] == Approx(want.data()[i]).margin(1e-4));
  }
}

TEST_CASE("fold_batchnorm folds every conv+BN pair and keeps every name", "[alt][fold]") {
  auto net = make_network("resnet20", {3, 32, 32});
  std::vector<std::string> before, after;
  for (Param* p : net->params()) before.push_back(p->name);
  for (Buffer* b : net->buffers()) before.push_back(b->name);
  Tensor x = Tensor::from_shape({2, 3, 32, 32});
  fill_normal(x, 41);
  net->init_weights(7);
  for (Buffer* b : net->buffers())
    fill_normal(b->value, 42, 0.2f), b->value = xt::abs(b->value) + 0.5f;
  const Tensor y_plain = net->forward(x, false);

  CHECK(net->fold_batchnorm() == 19);  // the stem and 2 per block × 9 blocks
  for (Param* p : net->params()) after.push_back(p->name);
  for (Buffer* b : net->buffers()) after.push_back(b->name);
  CHECK(before == after);
  CHECK(net->hookable_layers().size() == 20);  // 19 folded convolutions and the classifier
  const Tensor y_folded = net->forward(x, false);
  for (std::size_t i = 0; i < y_plain.size(); ++i)
    CHECK(y_folded.data()[i] == Approx(y_plain.data()[i]).margin(1e-4).epsilon(1e-4));
}

TEST_CASE("alt installs power-of-2 quantizers, folds BN and freezes on schedule", "[alt][qat]") {
  auto net = make_network("resnet20", {1, 28, 28});
  QatConfig c{"alt", {}};
  c.settings.wbits = 4;
  c.settings.abits = 8;
  c.settings.first_last = FirstLast::eight;
  c.settings.options = {{"threshold_freeze_epoch", 2}};
  TrainExtensions ext = make_qat(c);
  REQUIRE(ext.quantizer_optimizer);
  CHECK(ext.quantizer_optimizer->type == OptimizerKind::adam);
  CHECK(ext.quantizer_optimizer->lr == Approx(0.01f));
  CHECK(ext.calibrate);
  ext.attach(*net);
  const auto layers = net->hookable_layers();
  REQUIRE(layers.size() == 20);
  auto* first_w = dynamic_cast<AltQuantizer*>(layers.front()->hook(HookSlot::weight));
  auto* first_in = dynamic_cast<AltQuantizer*>(layers.front()->hook(HookSlot::input));
  auto* mid_w = dynamic_cast<AltQuantizer*>(layers[5]->hook(HookSlot::weight));
  auto* mid_in = dynamic_cast<AltQuantizer*>(layers[5]->hook(HookSlot::input));
  REQUIRE((first_w && first_in && mid_w && mid_in));
  CHECK(first_w->grid().bits == 8);  // first layer keeps 8-bit weights
  CHECK(mid_w->grid().bits == 4);
  CHECK(first_in->is_signed());      // the normalised image
  CHECK_FALSE(mid_in->is_signed());  // after a ReLU
  auto* fold = dynamic_cast<FoldedConvBn*>(layers[5]);
  REQUIRE(fold);

  ext.on_epoch_begin(0);
  CHECK_FALSE(fold->frozen());
  CHECK_FALSE(mid_w->param("log2_t")->frozen);
  ext.on_epoch_begin(1);  // BN freezes after the first epoch
  CHECK(fold->frozen());
  CHECK_FALSE(mid_w->param("log2_t")->frozen);
  ext.on_epoch_begin(2);
  CHECK(mid_w->param("log2_t")->frozen);

  QatConfig bad = c;
  bad.settings.options = {{"mode", "sometimes"}};
  CHECK_THROWS_WITH(make_qat(bad), Catch::Contains("options.mode"));
  bad.settings.options = {{"bn_freeze", 1}};
  CHECK_THROWS_WITH(make_qat(bad), Catch::Contains("options.bn_freeze"));
}

// A BN network (depthwise convolutions included) fine-tuned with ALT from an FP32 checkpoint:
// BN folds and freezes after epoch 1, thresholds train, and a run killed after epoch 2 and
// resumed equals the uninterrupted one bit for bit (freezing depends on the epoch alone).
TEST_CASE("alt fine-tunes a folded BN network and resumes bit for bit", "[alt][qat][checkpoint]") {
  const test::TempDir dir;
  Progress quiet = Progress::silent();
  TrainConfig fp;
  fp.net = "mobilenet_tiny";
  fp.width = 0.5f;
  fp.dataset = "synthetic";
  fp.data.train_limit = 600;
  fp.epochs = 2;
  fp.batch = 50;
  fp.opt.lr = 0.05f;
  fp.threads = 2;
  fp.out = (dir.path / "fp32.h5").string();
  train(fp, quiet);

  QatConfig q{"alt", {}};
  q.settings.wbits = 4;
  q.settings.abits = 8;
  q.settings.first_last = FirstLast::eight;
  TrainConfig qc = fp;
  qc.out.clear();
  qc.init = fp.out;
  qc.epochs = 3;
  qc.opt.lr = 0.01f;
  qc.quantization = to_json(q);
  const nlohmann::json full = train(qc, quiet, make_qat(q));
  CHECK(full.at("test_accuracy").get<double>() > 0.25);  // 10 classes: chance is 0.1
  for (const auto& layer : full.at("layers")) {
    const auto& w = layer.at("weight");
    CHECK(w.at("grid").at("pow2_exponent").size() == 1);
    CHECK(w.at("stats").contains("clipped"));
  }

  const nlohmann::json again =
      test::train_killed_and_resumed(qc, q, 2, (dir.path / "alt.h5").string());
  CHECK(again.at("test_accuracy") == full.at("test_accuracy"));
  CHECK(again.at("layers") == full.at("layers"));
}
