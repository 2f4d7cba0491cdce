// SYQ: hand-derived ternary/binary vectors with their gradients, the group layouts, the
// official code's activation rounding (and where it parts from DoReFa's), and the refusals.
#include "engine/check.h"
#include "engine/rng.h"
#include "methods/qat.h"
#include "methods/registry.h"
#include "methods/syq.h"

#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>

using namespace qb;

namespace {

std::unique_ptr<Quantizer> syq(QuantRole role, int bits, const Shape& weight_shape,
                               nlohmann::json options = nlohmann::json::object()) {
  QuantizerSpec spec;
  spec.role = role;
  spec.bits = bits;
  spec.options = options;
  LayerInfo l;
  l.kind = weight_shape.size() == 4 ? LayerKind::conv : LayerKind::linear;
  l.weight_shape = weight_shape;
  spec.layer = l;
  return make_method("syq")->make_checked(spec);
}

Tensor tensor(const Shape& s, std::initializer_list<float> v) {
  Tensor t = Tensor::from_shape(s);
  std::copy(v.begin(), v.end(), t.begin());
  return t;
}

}  // namespace

// W [2, 1, 1, 2] = [[0.5, −0.02], [−0.8, 0.3]], ternary, pixel groups (one per kernel column j):
// α0 = mean(0.5, 0.8) = 0.65, α1 = mean(0.02, 0.3) = 0.16; η = 0.05·0.8 = 0.04 zeroes −0.02.
// Q = [0.65, 0, −0.65, 0.16]. With dy = [1, 2, 3, 4]: dW = [0.65, 2 (below η: straight),
// 1.95, 0.64]; dα0 = 1 − 3 = −2, dα1 = 4 (−0.02 is below η and does not count).
TEST_CASE("syq: ternary pixel-wise weights and gradients by hand", "[syq]") {
  auto q = syq(QuantRole::weight, 2, {2, 1, 1, 2}, {{"granularity", "pixel"}});
  const Tensor w = tensor({2, 1, 1, 2}, {0.5f, -0.02f, -0.8f, 0.3f});
  q->calibrate(w);
  const Tensor y = q->forward(w, true);
  const float want[] = {0.65f, 0.0f, -0.65f, 0.16f};
  for (std::size_t i = 0; i < 4; ++i) CHECK(y.data()[i] == Approx(want[i]));
  const Tensor dx = q->backward(tensor({2, 1, 1, 2}, {1, 2, 3, 4}));
  const float want_dx[] = {0.65f, 2.0f, 1.95f, 0.64f};
  for (std::size_t i = 0; i < 4; ++i) CHECK(dx.data()[i] == Approx(want_dx[i]));
  const Tensor& da = q->param("alpha")->grad;
  REQUIRE(da.size() == 2);
  CHECK(da(0) == Approx(-2.0f));
  CHECK(da(1) == Approx(4.0f));
  CHECK(q->stats().at("zero_fraction").get<double>() == Approx(0.25));
  CHECK(q->stats().at("eta_abs").get<double>() == Approx(0.04));
  CHECK(q->grid().scale.size() == 2);

  // Binary (η = 0): the same weight keeps −0.02, as −α1.
  auto b = syq(QuantRole::weight, 1, {2, 1, 1, 2}, {{"granularity", "pixel"}});
  b->calibrate(w);
  CHECK(b->forward(w, true).data()[1] == Approx(-0.16f));
}

TEST_CASE("syq: one alpha per layer, kernel row, kernel position or output channel", "[syq]") {
  const Shape conv = {6, 4, 3, 5};
  CHECK(syq(QuantRole::weight, 2, conv, {{"granularity", "layer"}})->param("alpha")->value.size() ==
        1);
  CHECK(syq(QuantRole::weight, 2, conv, {{"granularity", "row"}})->param("alpha")->value.size() ==
        3);
  CHECK(syq(QuantRole::weight, 2, conv, {{"granularity", "pixel"}})->param("alpha")->value.size() ==
        15);
  CHECK(
      syq(QuantRole::weight, 2, conv, {{"granularity", "channel"}})->param("alpha")->value.size() ==
      6);
  CHECK(syq(QuantRole::weight, 2, conv)->param("alpha")->value.size() == 15);  // conv default
  // A linear weight is a 1×1 kernel: row and pixel are one group.
  CHECK(syq(QuantRole::weight, 1, {10, 8}, {{"granularity", "pixel"}})
            ->param("alpha")
            ->value.size() == 1);

  // Row groups: element (o, c, i, j) belongs to row i. α_i = mean |W| over that row.
  Tensor w = Tensor::from_shape({2, 1, 2, 2});
  for (std::size_t i = 0; i < w.size(); ++i)
    w.data()[i] = float(i + 1);  // rows {1,2,5,6}, {3,4,7,8}
  auto rows = syq(QuantRole::weight, 1, {2, 1, 2, 2}, {{"granularity", "row"}});
  rows->calibrate(w);
  CHECK(rows->param("alpha")->value(0) == Approx(3.5f));
  CHECK(rows->param("alpha")->value(1) == Approx(5.5f));
}

// floor(x·(2^k − 1) + 0.5): ties round up, unlike rint (half to even).
TEST_CASE("syq: activations round ties up and pass gradients where 0 < x <= 1", "[syq]") {
  auto q = syq(QuantRole::activation, 1, {2, 2});
  const Tensor x = tensor({5}, {-0.5f, 0.0f, 0.5f, 1.0f, 1.5f});
  const Tensor y = q->forward(x, true);
  const float want[] = {0.0f, 0.0f, 1.0f, 1.0f, 1.0f};  // rint would give 0 at 0.5
  for (std::size_t i = 0; i < 5; ++i) CHECK(y(i) == want[i]);
  const Tensor dx = q->backward(tensor({5}, {1, 1, 1, 1, 1}));
  const float want_dx[] = {0, 0, 1, 1, 0};
  for (std::size_t i = 0; i < 5; ++i) CHECK(dx(i) == want_dx[i]);
}

// The research note's example 2.8(e) (also the public probe case syq-activation-b2-7-note28e):
// 2 bits, levels {0, 1/3, 2/3, 1}; 0.5·3 + 0.5 = 2 exactly, a tie that floor(·+0.5) rounds up.
TEST_CASE("syq: the 2-bit activation example of note 2.8(e)", "[syq]") {
  auto q = syq(QuantRole::activation, 2, {2, 2});
  const Tensor x = tensor({7}, {-0.2f, 0.1f, 0.25f, 0.5f, 0.84f, 1.0f, 1.3f});
  const Tensor y = q->forward(x, true);
  const double want[] = {0.0, 0.0, 1.0 / 3, 2.0 / 3, 1.0, 1.0, 1.0};
  for (std::size_t i = 0; i < 7; ++i) CHECK(y(i) == Approx(want[i]).margin(1e-7));
  const Tensor dx = q->backward(tensor({7}, {1, 1, 1, 1, 1, 1, 1}));
  const float want_dx[] = {0, 1, 1, 1, 1, 1, 0};
  for (std::size_t i = 0; i < 7; ++i) CHECK(dx(i) == want_dx[i]);
  CHECK(q->grid().scale.at(0) == Approx(1.0 / 3));
}

// DoReFa's and SYQ's activation quantizers are one function but for two details that each
// paper's code fixes (methods/dorefa.h says why they stay two): ties round half to even in
// DoReFa and up in SYQ, and at x = 0 only DoReFa passes the gradient. Anywhere else they agree.
TEST_CASE("syq and dorefa activations differ only at ties and at x = 0", "[syq][dorefa]") {
  auto activation = [](const char* method, int bits) {
    QuantizerSpec spec;
    spec.role = QuantRole::activation;
    spec.bits = bits;
    return make_method(method)->make_checked(spec);
  };
  // 1 bit: 0.5 is a tie, which half to even takes down to 0 and floor(v + ½) up to 1.
  auto d1 = activation("dorefa", 1), s1 = activation("syq", 1);
  const Tensor x = tensor({3}, {0.0f, 0.5f, 1.0f});
  CHECK(d1->forward(x, true)(1) == 0.0f);
  CHECK(s1->forward(x, true)(1) == 1.0f);
  const Tensor ones = tensor({3}, {1, 1, 1});
  const Tensor dd = d1->backward(ones), ds = s1->backward(ones);
  CHECK(dd(0) == 1.0f);  // x = 0
  CHECK(ds(0) == 0.0f);
  CHECK(dd(2) == 1.0f);  // x = 1: both pass
  CHECK(ds(2) == 1.0f);

  for (int bits : {1, 2, 3, 4, 8}) {
    const std::size_t n = 4096;
    Tensor xs = Tensor::from_shape({n});
    Rng rng{std::uint64_t(bits)};
    for (auto& v : xs) v = -0.5f + 2.0f * rng.uniform();
    xs(0) = 0.0f;
    xs(1) = 0.5f;
    xs(2) = 1.0f;
    auto d = activation("dorefa", bits), s = activation("syq", bits);
    const Tensor yd = d->forward(xs, true), ys = s->forward(xs, true);
    Tensor dy = Tensor::from_shape({n});
    dy.fill(1.0f);
    const Tensor gd = d->backward(dy), gs = s->backward(dy);
    const float levels = float((1 << bits) - 1);
    for (std::size_t i = 0; i < n; ++i) {
      const float v = std::clamp(xs(i), 0.0f, 1.0f) * levels;
      const bool tie_rounded_down = v - std::floor(v) == 0.5f && std::rint(v) == std::floor(v);
      INFO("bits " << bits << ", x = " << xs(i));
      CHECK((yd(i) == ys(i)) == !tie_rounded_down);
      CHECK((gd(i) == gs(i)) == (xs(i) != 0.0f));
    }
  }
}

TEST_CASE("syq trains alpha with its own Adam, as the official code does, unless told not to",
          "[syq][qat]") {
  QatConfig c{"syq", {}};
  c.settings.wbits = 2;
  c.settings.abits = 8;
  TrainExtensions ext = make_qat(c);
  REQUIRE(ext.quantizer_optimizer);
  CHECK(ext.quantizer_optimizer->type == OptimizerKind::adam);
  CHECK(ext.quantizer_optimizer->lr == Approx(1e-4f));
  CHECK(ext.quantizer_optimizer->eps == Approx(1e-5f));
  CHECK(ext.quantizer_optimizer->weight_decay == 0.0f);
  c.settings.options = {{"alpha_lr", 0.003}};
  CHECK(make_qat(c).quantizer_optimizer->lr == Approx(0.003f));
  c.settings.options = {{"alpha_lr", 0}};
  CHECK_FALSE(make_qat(c).quantizer_optimizer);  // alpha joins the weights' optimizer
  c.settings.options = {{"alpha_lr", -1}};
  CHECK_THROWS_WITH(make_qat(c), Catch::Contains("alpha_lr"));
}

TEST_CASE("syq refuses other weight widths, unsigned weights and unknown groups", "[syq]") {
  CHECK_THROWS_WITH(syq(QuantRole::weight, 3, {4, 3, 3, 3}), Catch::StartsWith("bits"));
  CHECK_THROWS_WITH(syq(QuantRole::weight, 2, {4, 3, 3, 3}, {{"granularity", "block"}}),
                    Catch::StartsWith("options.granularity"));
}
