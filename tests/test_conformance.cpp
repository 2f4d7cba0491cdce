// The conformance suite: every registered method, every role it supports, several bit-widths.
// A new method is covered by adding it to the registry; nothing here names a method.
#include "engine/check.h"
#include "engine/rng.h"
#include "methods/registry.h"

#include <catch2/catch.hpp>

#include <cmath>
#include <cstring>
#include <set>

using namespace qb;

namespace {

LayerInfo conv_layer() {
  LayerInfo l;
  l.name = "conv";
  l.kind = LayerKind::conv;
  l.in_channels = 3;
  l.out_channels = 4;
  l.kernel_h = l.kernel_w = 3;
  l.weight_shape = {4, 3, 3, 3};
  l.fan_in = 27;
  l.fan_out = 36;
  return l;
}

// Inputs typical of each role: weights ~N(0, 0.5), activations spread over [-1, 12]
// (past PACT's initial α = 8), gradients ~N(0, 0.01).
Tensor input_for(QuantRole role, std::uint64_t seed) {
  Tensor x = Tensor::from_shape(role == QuantRole::weight ? Shape{4, 3, 3, 3} : Shape{2, 3, 5, 5});
  Rng rng(seed);
  for (auto& v : x) {
    if (role == QuantRole::weight) v = float(rng.normal() * 0.5);
    else if (role == QuantRole::activation) v = -1.0f + 13.0f * rng.uniform();
    else v = float(rng.normal() * 0.01);
  }
  return x;
}

std::vector<int> bit_widths(const MethodInfo& mi) {
  std::vector<int> out;
  for (int b : {1, 2, 3, 4, 8, 16, 32})
    if (b >= mi.min_bits && b <= mi.max_bits) out.push_back(b);
  return out;
}

struct Case {
  std::string method;
  QuantRole role;
  int bits;
};

std::vector<Case> all_cases() {
  std::vector<Case> cases;
  for (const auto& name : method_names()) {
    const auto m = make_method(name);
    for (QuantRole role : m->info().roles)
      for (int bits : bit_widths(m->info())) cases.push_back({name, role, bits});
  }
  return cases;
}

std::unique_ptr<Quantizer> build(const Case& c, bool* skipped) {
  const auto m = make_method(c.method);
  QuantizerSpec spec;
  spec.role = c.role;
  spec.bits = c.bits;
  spec.layer = conv_layer();
  try {
    m->validate(spec);
    return m->make_quantizer(spec);
  } catch (const Error& e) {
    // A combination the method refuses by its rules (e.g. signed 1-bit): a clean refusal
    // is conformant; a crash is not.
    *skipped = true;
    return nullptr;
  }
}

// The largest relative mismatch between a quantizer's dL/dθ (L = Σ dy ⊙ forward(x)) and the
// central difference of L, over every element of every learned parameter.
double worst_param_gradient_error(Quantizer& q, const Tensor& x, const Tensor& dy) {
  std::vector<Param*> params;
  q.collect_params(params);
  for (Param* p : params) p->zero_grad();
  q.forward(x, true);
  q.backward(dy);
  auto loss = [&] {
    const Tensor& y = q.forward(x, true);
    double l = 0.0;
    for (std::size_t i = 0; i < y.size(); ++i) l += double(dy.data()[i]) * y.data()[i];
    return l;
  };
  double worst = 0.0;
  for (Param* p : params)
    for (std::size_t i = 0; i < p->value.size(); ++i) {
      float& v = p->value.data()[i];
      const float v0 = v, h = 1e-3f * std::max(1.0f, std::abs(v0));
      v = v0 + h;
      const double up = loss();
      v = v0 - h;
      const double down = loss();
      v = v0;
      const double fd = (up - down) / (2.0 * double(h)), an = p->grad.data()[i];
      worst = std::max(worst, std::abs(fd - an) / std::max(1e-3, std::abs(fd)));
    }
  return worst;
}

// y = a·x with a learned a: exact gradient Σ dy·x; `wrong` doubles it.
class ScaleQuantizer final : public Quantizer {
 public:
  ScaleQuantizer(bool wrong) : Quantizer(QuantizerSpec{}), wrong_(wrong) {
    a_ = &add_param("a", {}, 0.7f);
  }
  const Tensor& forward(const Tensor& x, bool) override {
    x_ = &x;
    y_ = x * a_->value();
    return y_;
  }
  const Tensor& backward(const Tensor& dy) override {
    a_->grad() += (wrong_ ? 2.0f : 1.0f) * xt::sum(dy * *x_)();
    dx_ = dy * a_->value();
    return dx_;
  }
  Grid grid() const override { return Grid{32, true}; }
  bool exact_param_gradients() const override { return true; }

 private:
  bool wrong_;
  Param* a_;
  const Tensor* x_ = nullptr;
  Tensor y_, dx_;
};

bool bitwise_equal(const Tensor& a, const Tensor& b) {
  return a.shape() == b.shape() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

}  // namespace

TEST_CASE("every registered method conforms", "[conformance]") {
  const auto cases = all_cases();
  REQUIRE(cases.size() > 10);
  std::size_t checked = 0, fd_checked = 0;
  for (const Case& c : cases) {
    INFO(c.method << " " << to_string(c.role) << " " << c.bits << " bits");
    bool skipped = false;
    auto q = build(c, &skipped);
    if (skipped) continue;
    ++checked;
    const Tensor x = input_for(c.role, 11);
    q->calibrate(x);
    const Tensor y = q->forward(x, true);
    REQUIRE(y.shape() == x.shape());
    for (float v : y) REQUIRE(std::isfinite(v));

    const Grid g = q->grid();
    CHECK(g.bits == c.bits);

    // At most 2^bits distinct levels per group. Per-channel groups are contiguous blocks and
    // are checked one by one; other groupings (SYQ's kernel rows and positions interleave)
    // are checked over the tensor: at most 2^bits levels for each group.
    if (c.bits <= 8) {
      const std::size_t groups = g.scale.size() > 1 ? g.scale.size() : 1;
      const std::size_t per_group = std::size_t(1) << c.bits;
      if (g.granularity == "channel" || groups == 1) {
        const std::size_t per = y.size() / groups;
        for (std::size_t gi = 0; gi < groups; ++gi) {
          std::set<float> levels(y.data() + gi * per, y.data() + (gi + 1) * per);
          CHECK(levels.size() <= per_group);
        }
      } else {
        std::set<float> levels(y.begin(), y.end());
        CHECK(levels.size() <= groups * per_group);
      }
    }

    // Idempotence with parameters fixed (evaluation mode: no running statistics move).
    if (q->idempotent()) {
      const Tensor yy = q->forward(y, false);
      for (std::size_t i = 0; i < y.size(); ++i)
        REQUIRE(yy.data()[i] == Approx(y.data()[i]).margin(1e-6).epsilon(1e-5));
      q->forward(x, true);
    }

    // Backward: right shape, finite; gradients of learned parameters finite.
    std::vector<Param*> params;
    q->collect_params(params);
    if (c.role != QuantRole::gradient) {
      Tensor dy = input_for(c.role, 12);
      for (Param* p : params) p->zero_grad();
      const Tensor dx = q->backward(dy);
      REQUIRE(dx.shape() == x.shape());
      for (float v : dx) REQUIRE(std::isfinite(v));
      for (Param* p : params)
        for (float v : p->grad) REQUIRE(std::isfinite(v));
    }

    // Exact parameter gradients agree with finite differences.
    if (c.role != QuantRole::gradient && q->exact_param_gradients() && !params.empty()) {
      ++fd_checked;
      CHECK(worst_param_gradient_error(*q, x, input_for(c.role, 13)) < 1e-2);
    }

    // state()/load() and parameters reproduce the forward exactly in a fresh quantizer.
    bool again_skipped = false;
    auto q2 = build(c, &again_skipped);
    REQUIRE(q2);
    q2->load(q->state());
    std::vector<Param*> params2;
    q2->collect_params(params2);
    REQUIRE(params2.size() == params.size());
    for (std::size_t i = 0; i < params.size(); ++i) params2[i]->value = params[i]->value;
    CHECK(bitwise_equal(q->forward(x, false), q2->forward(x, false)));

    // Determinism: a second fresh quantizer, same calls, bitwise the same results.
    auto q3 = build(c, &again_skipped);
    auto q4 = build(c, &again_skipped);
    q3->calibrate(x);
    q4->calibrate(x);
    CHECK(bitwise_equal(q3->forward(x, true), q4->forward(x, true)));
  }
  CHECK(checked > 10);
  WARN(fd_checked << " method/role/bits cases have exact parameter gradients, checked by FD");
}

TEST_CASE("the finite-difference check of exact parameter gradients can fail", "[conformance]") {
  Tensor x = input_for(QuantRole::weight, 5), dy = input_for(QuantRole::weight, 6);
  ScaleQuantizer right(false), wrong(true);
  CHECK(worst_param_gradient_error(right, x, dy) < 1e-3);
  CHECK(worst_param_gradient_error(wrong, x, dy) > 0.5);
}

TEST_CASE("the registry refuses unknown methods, roles, bits and options by name", "[conformance]") {
  CHECK_THROWS_WITH(make_method("lsq"), Catch::Contains("method") && Catch::Contains("minmax"));
  for (const auto& name : method_names()) {
    const auto m = make_method(name);
    QuantizerSpec spec;
    spec.layer = conv_layer();
    spec.role = m->info().roles.front();
    spec.bits = m->info().max_bits + 1;
    CHECK_THROWS_WITH(m->validate(spec), Catch::StartsWith("bits"));
    spec.bits = m->info().max_bits;
    spec.options = {{"no_such_option", 1}};
    CHECK_THROWS_WITH(m->validate(spec), Catch::StartsWith("options.no_such_option"));
  }
  CHECK_THROWS_WITH(make_method("pact")->validate(QuantizerSpec{QuantRole::weight, 4}),
                    Catch::StartsWith("role"));
  CHECK_THROWS_AS(register_method("minmax", [] { return make_method("fp32"); }), Error);
}
