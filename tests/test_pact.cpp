// PACT as Choi et al. 2018 train it (methods/pact.h): α from PROBE.md's 8 / 10, L2 on α
// through the quantizer group's optimizer, DoReFa weights that keep their per-tensor scale
// (and the unit-range DoReFa behind `weight_scale: false`).
#include "engine/nets.h"
#include "engine/optim.h"
#include "methods/dorefa.h"
#include "methods/qat.h"
#include "methods/registry.h"

#include <catch2/catch.hpp>

#include <cmath>

using namespace qb;

namespace {

QuantizerSpec weight_spec(int bits) {
  QuantizerSpec spec;
  spec.role = QuantRole::weight;
  spec.bits = bits;
  return spec;
}

// The α of every quantized input of LeNet-5 under `method`, in layer order.
std::vector<float> initial_alphas(const std::string& method) {
  auto net = make_network("lenet5", {1, 28, 28});
  QatConfig c{method, {}};
  c.settings.wbits = c.settings.abits = 8;
  make_qat(c).attach(*net);
  std::vector<float> out;
  for (Param* p : net->params())
    if (p->role == ParamRole::quantizer) out.push_back(p->value());
  return out;
}

}  // namespace

TEST_CASE("pact: DoReFa weights with their scale kept, straight through to tanh", "[pact]") {
  Tensor w = Tensor::from_shape({4});
  w(0) = 0.02f, w(1) = -0.05f, w(2) = 0.11f, w(3) = -0.3f;
  const float m = std::tanh(0.3f), levels = 255.0f;
  DorefaWeightQuantizer scaled(weight_spec(8), /*keep_scale=*/true), unit(weight_spec(8));
  const Tensor& y = scaled.forward(w, true);
  const Tensor& u = unit.forward(w, true);
  for (std::size_t i = 0; i < 4; ++i) {
    // The unit-range levels (DoReFa's) times M; close to tanh(w) itself at 8 bits.
    CHECK(y(i) == Approx(u(i) * m).epsilon(1e-6));
    CHECK(std::abs(y(i) - std::tanh(w(i))) <= m / levels + 1e-6f);
  }
  CHECK(y(3) == Approx(-m));
  CHECK(scaled.grid().scale[0] == Approx(2.0f * m / levels));
  Tensor g = Tensor::from_shape({4});
  g(0) = 1.0f, g(1) = -2.0f, g(2) = 0.5f, g(3) = 3.0f;
  const Tensor& dx = scaled.backward(g);
  for (std::size_t i = 0; i < 4; ++i) {
    const float t = std::tanh(w(i));
    CHECK(dx(i) == Approx(g(i) * (1.0f - t * t)));
  }
}

TEST_CASE("pact and sat: alpha from 8 (conv) and 10 (linear), as PROBE.md says", "[pact]") {
  CHECK(initial_alphas("pact") == std::vector<float>{8.0f, 10.0f, 10.0f, 10.0f});
  CHECK(initial_alphas("sat") == std::vector<float>{8.0f, 10.0f, 10.0f, 10.0f});
}

TEST_CASE("pact: L2 on alpha reaches the quantizer group, and only PACT's", "[pact]") {
  QatConfig c{"pact", {}};
  c.settings.wbits = c.settings.abits = 8;
  CHECK(make_qat(c).quantizer_weight_decay == Approx(2e-4f));
  c.settings.options = {{"alpha_decay", 0.01}};
  CHECK(make_qat(c).quantizer_weight_decay == Approx(0.01f));
  c.settings.options = {{"alpha_decay", -1.0}};
  CHECK_THROWS_WITH(make_qat(c), "options.alpha_decay: expected a number in [0, 1], got -1");
  for (const char* other : {"sat", "alt", "minmax"}) {
    QatConfig o{other, {}};
    o.settings.wbits = o.settings.abits = 8;
    CHECK(make_qat(o).quantizer_weight_decay == 0.0f);
  }
  // SGD on α alone: the step is lr·(dα + λ·α).
  Param alpha;
  alpha.role = ParamRole::quantizer;
  alpha.value = Tensor::from_shape({1});
  alpha.value(0) = 10.0f;
  alpha.init_grad();
  OptimizerSpec sgd;
  sgd.lr = 0.1f;
  sgd.momentum = 0.0f;
  Optimizer opt =
      make_optimizer({&alpha}, sgd, ScheduleSpec{ScheduleKind::constant}, true, nullptr, 0.01f);
  alpha.grad(0) = 1.0f;
  opt.step(0.0, 1.0);
  CHECK(alpha.value(0) == Approx(10.0f - 0.1f * (1.0f + 0.01f * 10.0f)));
}
