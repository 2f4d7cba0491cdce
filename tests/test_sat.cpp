// SAT + CG-PACT: hand-derived scale adjustment and calibrated α gradient, the ablation
// switches reducing to DoReFa and PACT, and the evaluation path of the final FC layer.
#include "engine/check.h"
#include "engine/nets.h"
#include "engine/optim.h"
#include "methods/dorefa.h"
#include "methods/pact.h"
#include "methods/qat.h"
#include "methods/registry.h"
#include "methods/sat.h"

#include <catch2/catch.hpp>

#include <cmath>

using namespace qb;

namespace {

LayerInfo linear_layer(std::size_t in, std::size_t out) {
  LayerInfo l;
  l.name = "fc";
  l.kind = LayerKind::linear;
  l.in_channels = in;
  l.out_channels = out;
  l.weight_shape = {out, in};
  l.fan_in = in;
  l.fan_out = out;
  return l;
}

std::unique_ptr<Quantizer> sat(QuantRole role, int bits, nlohmann::json options = {},
                               LayerInfo layer = linear_layer(2, 2)) {
  QuantizerSpec spec;
  spec.role = role;
  spec.bits = bits;
  spec.layer = layer;
  if (!options.is_null()) spec.options = options;
  return make_method("sat")->make_checked(spec);
}

}  // namespace

// W = [[0.5, −0.5], [1, −1]], 2 bits: t = tanh W, M = tanh 1, u = t/2M + ½ =
// [0.8034, 0.1966, 1, 0], rint(3u) = [2, 1, 3, 0], Q = 2r/3 − 1 = [⅓, −⅓, 1, −1].
// Var(Q) (unbiased) = (2/9 + 2)/3 = 20/27, n_out = 2: factor = 1/√(40/27) = 0.821584.
TEST_CASE("sat: scale-adjusted weights by hand", "[sat]") {
  auto q = sat(QuantRole::weight, 2);
  Tensor w = Tensor::from_shape({2, 2});
  w(0, 0) = 0.5f, w(0, 1) = -0.5f, w(1, 0) = 1.0f, w(1, 1) = -1.0f;
  const Tensor y = q->forward(w, true);
  const double factor = 1.0 / std::sqrt(40.0 / 27.0);
  const double want[] = {1.0 / 3, -1.0 / 3, 1.0, -1.0};
  for (std::size_t i = 0; i < 4; ++i) CHECK(y.data()[i] == Approx(want[i] * factor).epsilon(1e-6));
  CHECK(q->stats().at("var_q").get<double>() == Approx(20.0 / 27).epsilon(1e-6));
  CHECK(q->stats().at("weight_scale").get<double>() == Approx(factor).epsilon(1e-6));

  // Backward: the factor is a constant, so dx is DoReFa's backward of dy·factor.
  Tensor dy = Tensor::from_shape({2, 2});
  dy(0, 0) = 0.3f, dy(0, 1) = -1.2f, dy(1, 0) = 0.7f, dy(1, 1) = 0.1f;
  const Tensor dx = q->backward(dy);
  QuantizerSpec plain_spec;
  plain_spec.bits = 2;
  DorefaWeightQuantizer plain(plain_spec);
  plain.forward(w, true);
  const Tensor dx_plain = plain.backward(Tensor(dy * float(factor)));
  for (std::size_t i = 0; i < 4; ++i) CHECK(dx.data()[i] == Approx(dx_plain.data()[i]));

  // Ablation: without the scale adjustment SAT's weights are DoReFa's.
  auto off = sat(QuantRole::weight, 2, {{"scale_adjust", false}});
  const Tensor y_off = off->forward(w, true);
  const Tensor y_dorefa = plain.forward(w, true);
  for (std::size_t i = 0; i < 4; ++i) CHECK(y_off.data()[i] == y_dorefa.data()[i]);
}

TEST_CASE("sat: the final FC drops the factor in evaluation, other layers keep it", "[sat]") {
  Tensor w = Tensor::from_shape({3, 4});
  for (std::size_t i = 0; i < w.size(); ++i) w.data()[i] = 0.1f * float(i) - 0.5f;
  auto last = sat(QuantRole::weight, 3, {{"eval_scale", false}}, linear_layer(4, 3));
  auto inner = sat(QuantRole::weight, 3, {{"eval_scale", true}}, linear_layer(4, 3));
  const Tensor y_train = last->forward(w, true);
  const Tensor y_last = last->forward(w, false);
  const Tensor y_inner = inner->forward(w, false);
  const float f = last->stats().at("weight_scale").get<float>();
  for (std::size_t i = 0; i < w.size(); ++i) {
    CHECK(y_last.data()[i] * f == Approx(y_train.data()[i]));
    CHECK(y_inner.data()[i] == Approx(y_train.data()[i]));
  }
  // In a network, only the last layer's weight quantizer drops it.
  auto net = make_network("lenet5", {1, 28, 28});
  QatConfig c{"sat", {}};
  c.settings.wbits = 4;
  c.settings.abits = 4;
  make_qat(c).attach(*net);
  for (Layer* l : net->hookable_layers()) {
    auto* q = dynamic_cast<Quantizer*>(l->hook(HookSlot::weight));
    REQUIRE(q);
    CHECK(q->spec().options.at("eval_scale") == !l->info().last);
  }
}

// x = [−1, 0.3, 0.9, 2.5], α = 2, 2 bits (3 steps): x/α = [−0.5, 0.15, 0.45, 1.25];
// y = α·rint(3·clip(x, 0, α)/α)/3 = [0, 0, ⅔, 2]; dx = dy on 0 < x < α.
// PACT: dα = Σ g·[x ≥ α] = 1 (g = 1). CG-PACT adds Σ inside (q(x/α) − x/α) =
// (0 − 0.15) + (⅓ − 0.45), so dα = 0.733333.
TEST_CASE("sat: calibrated PACT gradient by hand, and plain PACT as its ablation", "[sat]") {
  Tensor x = Tensor::from_shape({4});
  x(0) = -1.0f, x(1) = 0.3f, x(2) = 0.9f, x(3) = 2.5f;
  const Tensor ones = xt::ones<float>({4});
  for (bool calibrated : {true, false}) {
    auto q = sat(QuantRole::activation, 2, {{"calibrated_gradient", calibrated}});
    q->param("alpha")->value() = 2.0f;
    const Tensor y = q->forward(x, true);
    CHECK(y(0) == 0.0f);
    CHECK(y(1) == 0.0f);
    CHECK(y(2) == Approx(2.0 / 3));
    CHECK(y(3) == 2.0f);
    const Tensor dx = q->backward(ones);
    CHECK(dx(0) == 0.0f);
    CHECK(dx(1) == 1.0f);
    CHECK(dx(2) == 1.0f);
    CHECK(dx(3) == 0.0f);
    const double want = calibrated ? 1.0 - 0.15 + (1.0 / 3 - 0.45) : 1.0;
    CHECK(q->param("alpha")->grad() == Approx(want).epsilon(1e-6));
  }
}

TEST_CASE("pact and sat: a step that would take α below zero leaves it in its domain", "[sat]") {
  Tensor x = Tensor::from_shape({4});
  x(0) = 10.0f, x(1) = 12.0f, x(2) = 20.0f, x(3) = 30.0f;  // every input at or above α = 10
  const Tensor dy = xt::full_like(x, 100.0f);              // dα = Σ dy = 400
  for (const char* method : {"pact", "sat"}) {
    for (OptimizerKind kind : {OptimizerKind::sgd, OptimizerKind::adam}) {
      QuantizerSpec spec;
      spec.role = QuantRole::activation;
      spec.bits = 8;
      spec.layer = linear_layer(4, 4);  // α starts at 10
      auto q = make_method(method)->make_checked(spec);
      Param* alpha = q->param("alpha");
      OptimizerSpec opt;
      opt.type = kind;
      opt.lr = kind == OptimizerKind::sgd ? 0.05f : 20.0f;  // SGD: 10 − 0.05·400 = −10
      ParamGroup group("quantizer", {alpha}, opt, ScheduleSpec{ScheduleKind::constant});
      for (int step = 0; step < 3; ++step) {
        alpha->zero_grad();
        q->forward(x, true);
        q->backward(dy);
        group.step(0.0, 1.0);
        CHECK(alpha->value() > 0.0f);
        CHECK(q->stats()["alpha"].get<float>() > 0.0f);
      }
      CHECK(alpha->value() == 1e-3f);  // projected onto α ≥ 1e-3
    }
  }
}
