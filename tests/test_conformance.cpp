// The conformance suite (methods/conformance.h) on every registered method, and on broken
// quantizers to show that each kind of check can fail. Nothing here names a built-in method
// but the registry's refusals.
#include "engine/check.h"
#include "methods/conformance.h"
#include "methods/registry.h"

#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>

using namespace qb;

namespace {

// y = a · clamp(rint(x), -1, 1): a 2-bit weight quantizer with a learned scale a (1 at first)
// whose gradient is exact, broken on purpose in one way at a time.
enum class Fault { none, too_many_levels, grid_bits, wrong_gradient, depends_on_history };

class FaultyQuantizer final : public Quantizer {
 public:
  FaultyQuantizer(QuantizerSpec spec, Fault fault) : Quantizer(std::move(spec)), fault_(fault) {
    a_ = &add_param("a", {}, 1.0f);
    // depends_on_history: every quantizer made rounds x/s, s a little larger for each one.
    if (fault_ == Fault::depends_on_history) s_ += 1e-3f * float(made_++);
  }
  const Tensor& forward(const Tensor& x, bool) override {
    x_ = &x;
    ensure_shape(r_, shape_of(x));
    for (std::size_t i = 0; i < x.size(); ++i) {
      const float v = x.data()[i];
      const float level = std::clamp(std::rint(v / s_), -1.0f, 1.0f);
      r_.data()[i] = fault_ == Fault::too_many_levels ? v : s_ * level;  // v: no rounding
    }
    y_ = r_ * a_->value();
    return y_;
  }
  const Tensor& backward(const Tensor& dy) override {
    a_->grad() += (fault_ == Fault::wrong_gradient ? 2.0f : 1.0f) * xt::sum(dy * r_)();
    dx_ = dy * a_->value();
    return dx_;
  }
  Grid grid() const override {
    Grid g;
    g.bits = fault_ == Fault::grid_bits ? spec_.bits + 1 : spec_.bits;
    g.scale = {a_->value() * s_};
    return g;
  }
  bool exact_param_gradients() const override { return true; }

 private:
  Fault fault_;
  Param* a_;
  float s_ = 1.0f;
  static inline int made_ = 0;
  const Tensor* x_ = nullptr;
  Tensor r_, y_, dx_;
};

class FaultyMethod final : public Method {
 public:
  explicit FaultyMethod(Fault fault) : fault_(fault) {}
  const MethodInfo& info() const override {
    static const MethodInfo mi{"faulty", "-", "a test's broken quantizer", {QuantRole::weight}, 2,
                               2,        {}};
    return mi;
  }
  std::unique_ptr<Quantizer> make_quantizer(const QuantizerSpec& spec) const override {
    return std::make_unique<FaultyQuantizer>(spec, fault_);
  }

 private:
  Fault fault_;
};

// The checks that failed, each once.
std::vector<std::string> failed_checks(const ConformanceReport& r) {
  std::vector<std::string> checks;
  for (const auto& f : r.failures)
    if (std::find(checks.begin(), checks.end(), f.check) == checks.end()) checks.push_back(f.check);
  return checks;
}

}  // namespace

TEST_CASE("every registered method conforms", "[conformance]") {
  std::size_t checked = 0;
  for (const auto& name : method_names()) {
    const ConformanceReport r = check_conformance(name);
    INFO(name << ": " << r.cases_checked << " cases checked, " << r.cases_refused << " refused, "
              << r.gradients_checked << " by finite differences");
    CHECK(r.cases_checked > 0);
    for (const auto& f : r.failures) FAIL_CHECK(to_string(f));
    checked += r.cases_checked;
  }
  CHECK(checked > 10);
}

TEST_CASE("the conformance suite fails a broken method, naming the check", "[conformance]") {
  const ConformanceReport good = check_conformance(FaultyMethod(Fault::none));
  CHECK(good.cases_checked == 1);
  CHECK(good.gradients_checked == 1);
  for (const auto& f : good.failures) FAIL_CHECK(to_string(f));

  const ConformanceReport levels = check_conformance(FaultyMethod(Fault::too_many_levels));
  CHECK(failed_checks(levels) == std::vector<std::string>{"levels"});
  REQUIRE_FALSE(levels.failures.empty());
  CHECK_THAT(to_string(levels.failures.front()),  // 108 distinct normal draws
             Catch::Equals("faulty weight 2 bits: levels: group 0 of 1 has 108 distinct values, "
                           "more than 2^2"));

  CHECK(failed_checks(check_conformance(FaultyMethod(Fault::grid_bits))) ==
        std::vector<std::string>{"grid"});
  CHECK(failed_checks(check_conformance(FaultyMethod(Fault::wrong_gradient))) ==
        std::vector<std::string>{"param_gradient"});
  CHECK(failed_checks(check_conformance(FaultyMethod(Fault::depends_on_history))) ==
        std::vector<std::string>{"round_trip", "determinism"});
}

TEST_CASE("the registry refuses unknown methods, roles, bits and options by name",
          "[conformance]") {
  CHECK_THROWS_WITH(make_method("lsq"), Catch::Contains("method") && Catch::Contains("minmax"));
  for (const auto& name : method_names()) {
    const auto m = make_method(name);
    QuantizerSpec spec;
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
