// A2Q: the research note's bounds (E.11), every output channel's integer L1 norm within the
// budget on any weights, and after every optimizer step of a training run.
#include "engine/layer.h"
#include "engine/rng.h"
#include "methods/a2q.h"
#include "methods/qat.h"
#include "methods/registry.h"
#include "tests/support.h"

#include <catch2/catch.hpp>

#include <cmath>

using namespace qb;

namespace {

// Largest ‖q_o‖₁ over the output channels of a weight quantizer's current output.
double max_channel_l1(const Tensor& y, const Grid& g) {
  const std::size_t O = y.shape()[0], per = y.size() / O;
  double worst = 0.0;
  for (std::size_t o = 0; o < O; ++o) {
    double l1 = 0.0;
    for (std::size_t i = 0; i < per; ++i) {
      const double c = y.data()[o * per + i] / g.scale.at(o);
      CHECK(std::abs(c - std::nearbyint(c)) < 1e-3);  // on the channel's grid
      l1 += std::abs(std::nearbyint(c));
    }
    worst = std::max(worst, l1);
  }
  return worst;
}

}  // namespace

TEST_CASE("a2q E.11: the L1 budget for a P-bit accumulator and N-bit inputs", "[a2q]") {
  CHECK(a2q::l1_bound(16, 8, false) == Approx(127.996).epsilon(1e-6));
  CHECK(a2q::l1_bound(16, 8, true) == Approx(255.992).epsilon(1e-6));
  CHECK(a2q::l1_bound(32, 8, false) == Approx(8388607.996).epsilon(1e-9));
}

TEST_CASE("a2q: every output channel's codes stay within the budget", "[a2q]") {
  const auto method = make_method("a2q");
  for (int bits : {4, 8}) {
    for (std::size_t K : {std::size_t(9), std::size_t(400)}) {
      INFO("bits " << bits << ", K " << K);
      QuantizerSpec spec;
      spec.bits = bits;
      auto q = method->make_checked(spec);
      auto* a2 = dynamic_cast<A2qWeightQuantizer*>(q.get());
      REQUIRE(a2 != nullptr);
      Tensor w = Tensor::from_shape({6, K});
      Rng rng(K + std::size_t(bits));
      for (float& v : w) v = float(rng.normal());
      const Tensor& y = q->forward(w, true);
      const double worst = max_channel_l1(y, q->grid());
      CHECK(worst <= a2->bound());
      // The budget binds; rounding toward zero leaves part of it unspent.
      if (K == 400) CHECK(worst > 0.5 * a2->bound());
    }
  }
  // With a slack budget (a 32-bit accumulator) A2Q is per-channel minmax.
  QuantizerSpec spec;
  spec.options = {{"acc_bits", 32}};
  auto q = method->make_checked(spec);
  Tensor w = Tensor::from_shape({2, 3});
  const float v[] = {0.5f, -1.0f, 0.25f, 2.0f, 1.0f, -0.5f};
  std::copy(v, v + 6, w.begin());
  const Tensor& y = q->forward(w, true);
  CHECK(y(0, 1) == -1.0f);
  CHECK(y(1, 0) == 2.0f);
  CHECK(q->grid().scale[1] == Approx(2.0 / 127));
}

TEST_CASE("a2q: the bound holds for every channel after every training step", "[a2q]") {
  Progress quiet = Progress::silent();
  QatConfig q{"a2q", {}};
  q.settings.wbits = q.settings.abits = 8;
  TrainConfig c = test::synthetic_lenet();
  c.epochs = 1;
  c.quantization = to_json(q);
  TrainExtensions ext = make_qat(q);
  Network* net = nullptr;
  const auto attach = ext.attach;
  ext.attach = [&](Network& n) {
    attach(n);
    net = &n;
  };
  std::size_t steps = 0, layers = 0;
  ext.on_step = [&](std::size_t) {
    ++steps;
    for (Layer* l : net->hookable_layers()) {
      auto* wq = dynamic_cast<A2qWeightQuantizer*>(l->hook(HookSlot::weight));
      REQUIRE(wq != nullptr);
      // The weights the optimizer just updated, quantized as the next step will see them.
      std::vector<Param*> ps;
      l->collect_params(ps);
      const Tensor& y = wq->forward(ps.at(0)->value, false);
      REQUIRE(max_channel_l1(y, wq->grid()) <= wq->bound());
      ++layers;
    }
  };
  const nlohmann::json out = train(c, quiet, ext);
  CHECK(steps > 10);
  CHECK(layers == 5 * steps);
  const auto& report = out.at("layers");
  CHECK(report[0].at("weight").at("stats").at("l1_bound") == Approx(127.996).epsilon(1e-6));
  CHECK(report[1].at("weight").at("stats").at("channels_scaled_by_bound").get<int>() > 0);
}
