// Optimizers and schedules against their closed forms, and parameter grouping.
#include "engine/check.h"
#include "engine/optim.h"

#include <catch2/catch.hpp>

#include <cmath>

using namespace qb;

namespace {
Param scalar_param(const std::string& name, ParamRole role, float v) {
  Param p;
  p.name = name;
  p.role = role;
  p.value = Tensor::from_shape({1});
  p.value(0) = v;
  p.init_grad();
  return p;
}
}  // namespace

TEST_CASE("SGD with momentum, Nesterov and weight decay follow PyTorch's update", "[optim]") {
  for (bool nesterov : {false, true}) {
    Param p = scalar_param("w", ParamRole::weight, 1.0f);
    ParamGroup g("weights", {&p}, OptimizerSpec{OptimizerKind::sgd, 0.1f, 0.9f, nesterov, 0.01f},
                 ScheduleSpec{ScheduleKind::constant});
    double w = 1.0, b = 0.0;
    for (int t = 0; t < 5; ++t) {
      const double grad = 0.5 * t - 1.0;
      p.grad(0) = float(grad);
      g.step(0, 1);
      const double gi = grad + 0.01 * w;
      b = 0.9 * b + gi;
      w -= 0.1 * (nesterov ? gi + 0.9 * b : b);
      CHECK(p.value(0) == Approx(w).epsilon(1e-6));
    }
  }
}

TEST_CASE("Adam follows its bias-corrected update", "[optim]") {
  Param p = scalar_param("t", ParamRole::quantizer, 0.3f);
  OptimizerSpec spec;
  spec.type = OptimizerKind::adam;
  spec.lr = 0.01f;
  ParamGroup g("quantizer", {&p}, spec, ScheduleSpec{ScheduleKind::constant});
  double w = 0.3, m = 0, v = 0;
  for (int t = 1; t <= 6; ++t) {
    const double grad = std::sin(double(t));
    p.grad(0) = float(grad);
    g.step(0, 1);
    m = 0.9 * m + 0.1 * grad;
    v = 0.999 * v + 0.001 * grad * grad;
    w -= 0.01 * (m / (1 - std::pow(0.9, t))) / (std::sqrt(v / (1 - std::pow(0.999, t))) + 1e-8);
    CHECK(p.value(0) == Approx(w).epsilon(1e-5));
  }
}

TEST_CASE("learning-rate schedules", "[optim]") {
  ScheduleSpec cosine{ScheduleKind::cosine};
  CHECK(scheduled_lr(cosine, 0.1f, 0.0, 10) == Approx(0.1));
  CHECK(scheduled_lr(cosine, 0.1f, 5.0, 10) == Approx(0.05));
  CHECK(scheduled_lr(cosine, 0.1f, 10.0, 10) == Approx(0.0).margin(1e-9));
  ScheduleSpec step{ScheduleKind::step, 0.0f, {3.0f, 6.0f}, 0.1f};
  CHECK(scheduled_lr(step, 1.0f, 2.9, 10) == Approx(1.0));
  CHECK(scheduled_lr(step, 1.0f, 3.0, 10) == Approx(0.1));
  CHECK(scheduled_lr(step, 1.0f, 7.0, 10) == Approx(0.01));
  ScheduleSpec warm{ScheduleKind::cosine, 2.0f};
  CHECK(scheduled_lr(warm, 0.1f, 1.0, 10) == Approx(0.05));  // halfway up the ramp
  CHECK(scheduled_lr(warm, 0.1f, 2.0, 10) == Approx(0.1));   // cosine starts after warm-up
  CHECK(scheduled_lr(warm, 0.1f, 6.0, 10) == Approx(0.05));
  CHECK_THROWS_WITH(kSchedules.parse("linear"), Catch::Contains("cosine"));
  CHECK_THROWS_WITH(kOptimizers.parse("adm"),
                    "unknown optimizer 'adm' (valid: sgd, adam; did you mean 'adam'?)");
}

TEST_CASE("default parameter groups and their weight decay", "[optim]") {
  Param w = scalar_param("w", ParamRole::weight, 1.0f);
  Param b = scalar_param("b", ParamRole::bias, 1.0f);
  Param gamma = scalar_param("gamma", ParamRole::bn, 1.0f);
  Param t = scalar_param("t", ParamRole::quantizer, 1.0f);
  OptimizerSpec sgd{OptimizerKind::sgd, 0.1f, 0.0f, false, 0.5f};
  OptimizerSpec adam;
  adam.type = OptimizerKind::adam;
  adam.lr = 0.01f;
  Optimizer opt =
      make_optimizer({&w, &b, &gamma, &t}, sgd, ScheduleSpec{ScheduleKind::constant}, true, &adam);
  REQUIRE(opt.groups().size() == 3);
  REQUIRE(opt.find("weights")->params().size() == 1);
  REQUIRE(opt.find("no_decay")->params().size() == 2);
  REQUIRE(opt.find("quantizer")->spec().type == OptimizerKind::adam);
  opt.step(0, 1);  // zero gradients: only weight decay moves anything
  CHECK(w.value(0) == Approx(1.0f - 0.1f * 0.5f));
  CHECK(b.value(0) == 1.0f);
  CHECK(gamma.value(0) == 1.0f);
  CHECK(t.value(0) == 1.0f);
  Optimizer all = make_optimizer({&w, &b}, sgd, ScheduleSpec{ScheduleKind::constant}, false);
  CHECK(all.groups().size() == 1);
}

TEST_CASE("optimizer state round-trips and refuses a mismatch", "[optim]") {
  Param p = scalar_param("w", ParamRole::weight, 1.0f);
  Optimizer a = make_optimizer({&p}, OptimizerSpec{}, ScheduleSpec{ScheduleKind::constant}, true);
  p.grad(0) = 1.0f;
  a.step(0, 1);
  std::map<std::string, Tensor> state;
  a.save_state(state);
  CHECK(state.count("weights/momentum/w") == 1);
  Optimizer b = make_optimizer({&p}, OptimizerSpec{}, ScheduleSpec{ScheduleKind::constant}, true);
  b.load_state(state);
  std::map<std::string, Tensor> again;
  b.save_state(again);
  CHECK(bool(again.at("weights/momentum/w") == state.at("weights/momentum/w")));
  state.erase("weights/momentum/w");
  CHECK_THROWS_AS(b.load_state(state), Error);
}
