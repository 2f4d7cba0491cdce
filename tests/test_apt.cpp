// APT: the worked examples of research note part E, the shift's exactness, saturation with a
// stale shift, the width and interval rules on crafted sequences, the straight-through
// gradient through a layer's three hook slots, per-epoch statistics, and bit-exact resume.
#include "engine/check.h"
#include "engine/layers/linear.h"
#include "methods/apt.h"
#include "methods/qat.h"
#include "methods/registry.h"
#include "tests/support.h"

#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <vector>

using namespace qb;

namespace {

std::unique_ptr<Quantizer> apt_quantizer(QuantRole role, int bits) {
  QuantizerSpec spec;
  spec.role = role;
  spec.bits = bits;
  return make_method("apt")->make_checked(spec);
}

Tensor vec(const std::vector<float>& v) {
  Tensor t = Tensor::from_shape({v.size()});
  std::copy(v.begin(), v.end(), t.begin());
  return t;
}

// [head] followed by `count` copies of `tail`.
Tensor spike(float head, std::size_t count, float tail) {
  std::vector<float> v(count + 1, tail);
  v[0] = head;
  return vec(v);
}

struct Probed {
  Tensor y;
  int bits, shift;
  double diff_bit;
};

// A probe in miniature: calibrate on x, one training forward, read grid and stats.
Probed probe(const Tensor& x, int start_bits) {
  auto q = apt_quantizer(QuantRole::gradient, start_bits);
  q->calibrate(x);
  Probed p{q->forward(x, true), 0, 0, 0.0};
  const nlohmann::json s = q->stats();
  p.bits = s.at("bits_chosen");
  p.shift = s.at("shift");
  p.diff_bit = s.at("diff_bit");
  CHECK(q->grid().bits == p.bits);
  CHECK(q->grid().pow2_exponent == std::vector<int>{p.shift});
  CHECK(q->grid().scale == std::vector<float>{std::ldexp(1.0f, p.shift)});
  return p;
}

}  // namespace

// E.1: Z = 0.5, s = ⌈log2(0.5/127)⌉ = ⌈−7.989⌉ = −7; 0.3·128 = 38.4 → 38 → 0.296875.
TEST_CASE("apt E.1: eight bits suffice, shift -7", "[apt]") {
  const Probed p = probe(vec({0.5f, -0.25f, 0.125f, 0.3f}), 8);
  CHECK(p.bits == 8);
  CHECK(p.shift == -7);
  CHECK(p.diff_bit == Approx(0.0038319).epsilon(1e-4));
  const float want[] = {0.5f, -0.25f, 0.125f, 0.296875f};
  for (int i = 0; i < 4; ++i) CHECK(p.y.data()[i] == want[i]);
}

// E.2: at 8 bits (s = −6) every 0.003 vanishes, diff 0.297 > 0.03; at 16 bits s = −14 and
// 0.003·2^14 = 49.15 → 49.
TEST_CASE("apt E.2: a spike forces 16 bits", "[apt]") {
  const Probed p = probe(spike(1.0f, 99, 0.003f), 8);
  CHECK(p.bits == 16);
  CHECK(p.shift == -14);
  CHECK(p.diff_bit == Approx(0.001021).epsilon(1e-3));
  CHECK(p.y.data()[0] == 1.0f);
  CHECK(p.y.data()[1] == 49.0f / 16384.0f);
}

// E.3: lost at 8 (diff 0.046) and 16 bits (diff 0.041); at 24, s = −23 and 1.5e−5·2^23 =
// 125.83 → 126. Starting at 16 ends in the same place.
TEST_CASE("apt E.3: a finer spike forces 24 bits", "[apt]") {
  for (int start : {8, 16}) {
    const Probed p = probe(spike(0.51f, 1000, 1.5e-5f), start);
    CHECK(p.bits == 24);
    CHECK(p.shift == -23);
    CHECK(p.diff_bit == Approx(5.598e-5).epsilon(1e-3));
    CHECK(p.y.data()[1] == 126.0f / 8388608.0f);
  }
}

// E.4: step 1/64; x/step = 64, 0.5, 1.5, −2.5 round half to even to 64, 0, 2, −2.
TEST_CASE("apt E.4: exact ties round half to even", "[apt]") {
  const Probed p = probe(vec({1.0f, 0.0078125f, 0.0234375f, -0.0390625f}), 8);
  CHECK(p.bits == 8);
  CHECK(p.shift == -6);
  CHECK(p.diff_bit == Approx(0.0104924).epsilon(1e-4));
  const float want[] = {1.0f, 0.0f, 0.03125f, -0.03125f};
  for (int i = 0; i < 4; ++i) CHECK(p.y.data()[i] == want[i]);
}

// E.5: starting at 16 stays at 16 although 8 would pass (diff 0.006426): widths never shrink.
TEST_CASE("apt E.5: a tensor started at 16 bits stays there", "[apt]") {
  const Tensor x = vec({-0.75f, 0.2f, 0.1f});
  const Probed p = probe(x, 16);
  CHECK(p.bits == 16);
  CHECK(p.shift == -15);
  CHECK(p.diff_bit == Approx(2.5152e-5).epsilon(1e-3));
  CHECK(p.y.data()[1] == 6554.0f / 32768.0f);
  CHECK(p.y.data()[2] == 3277.0f / 32768.0f);
  const Probed eight = probe(x, 8);
  CHECK(eight.bits == 8);
  CHECK(eight.diff_bit == Approx(0.006426).epsilon(1e-3));
}

// B.4.1: float32 log2(1/(2^23 − 1)) rounds to −23; the exact shift for Z = 1 at 24 bits is −22.
TEST_CASE("apt: the shift is exact at powers of two", "[apt]") {
  CHECK(apt::fixed_point_shift(1.0, 24) == -22);
  CHECK(apt::fixed_point_shift(1.0, 8) == -6);
  // Z = 127·2^−7 fits 8 bits at s = −7 exactly; one float ulp more needs s = −6.
  const float z = 127.0f / 128.0f;
  CHECK(apt::fixed_point_shift(z, 8) == -7);
  CHECK(apt::fixed_point_shift(std::nextafter(z, 2.0f), 8) == -6);
  CHECK(apt::fixed_point_shift(1e-45, 8) == apt::kMinShift);  // a subnormal: clamped
  const Probed p = probe(vec({1.0f, -0.5f}), 24);
  CHECK(p.shift == -22);
  CHECK(p.y.data()[0] == 1.0f);  // s = −23 would have saturated it to 1 − 2^−23
}

// A shift measured on an earlier tensor saturates to [−2^(n−1), 2^(n−1) − 1] (one code more
// below than above), as real fixed point does.
TEST_CASE("apt: values past a stale shift saturate", "[apt]") {
  const Tensor x = vec({2.0f, -2.0f, 0.5f});
  Tensor y = Tensor::from_shape({3});
  apt::fixed_point_quantize(x.data(), y.data(), 3, 8, -7);
  CHECK(y.data()[0] == 127.0f / 128.0f);
  CHECK(y.data()[1] == -1.0f);
  CHECK(y.data()[2] == 0.5f);
}

// diff_bit stays above 0.03 even at 24 bits: 400000 values of 1e−7 vanish beside a 1 (s = −22,
// 1e−7·2^22 = 0.42 → 0) and carry 0.04/1.04 of the mean: log2(1.0385) = 0.054. The width
// stops at 24 anyway.
TEST_CASE("apt: widths stop at 24 bits", "[apt]") {
  const Probed p = probe(spike(1.0f, 400000, 1e-7f), 8);
  CHECK(p.bits == 24);
  CHECK(p.diff_bit > apt::kDiffBitThreshold);
  CHECK(p.diff_bit == Approx(std::log2(1.0 + 0.04 / 1.04)).epsilon(1e-3));
}

// E.6, and the interval's edge: nothing moves and nothing is lost → never (capped later).
TEST_CASE("apt E.6: the adaptive update interval", "[apt]") {
  CHECK(apt::update_interval(-14, -13.5, 0.0010213) == 3);    // 0.1/0.02 − 2
  CHECK(apt::update_interval(-14, -14.0, 0.0010213) == 957);  // 0.1/(100·diff²) − 2 = 956.8
  CHECK(apt::update_interval(-7, -6.2, 0.0038) == 1);         // 0.1/0.032 − 2 = 1.125
  CHECK(apt::update_interval(-7, -7.0, 0.0) == std::numeric_limits<std::int64_t>::max());
  // 0.1/0.04 − 2 = 0.5: half to even gives 0, and the interval is at least 1.
  CHECK(apt::update_interval(-7, -6.0, 0.0) == 1);

  // The moving average through the controller: m starts at the first shift, then
  // m_t = 0.04·s_t + 0.96·m_{t−1} at updates and, with the stale s, between them.
  apt::Controller c(8);
  c.measured({8, -13, 0.0}, 0);
  CHECK(c.shift_average() == -13.0);
  c.measured({8, -14, 0.0010213}, 0);  // I from m = −13: 0.1/0.04 − 2 = 0.5 → 0 → 1
  CHECK(c.interval() == 1);
  CHECK(c.shift_average() == Approx(0.04 * -14 + 0.96 * -13));
  const double m = c.shift_average();
  c.stale(0);  // between updates m keeps moving toward the stale s
  CHECK(c.shift_average() == Approx(0.04 * -14 + 0.96 * m));
}

// The schedule on a crafted sequence, E = 200 steps per epoch, s = −7 and diff_bit = 0.0038
// at every update: I = rint(0.1/(100·0.0038²) − 2) = rint(67.25) = 67. Updates: t = 0 and 1
// (the first 1 % of epoch 1: 100·t < 200), 1 + 67 = 68, 135, then 202 is cut to 200 (epoch 2
// starts with an update), then once per epoch: 400, 600.
TEST_CASE("apt: update steps follow warm-up, interval, then once per epoch", "[apt]") {
  apt::Controller c(8);
  std::vector<std::int64_t> updates;
  for (int t = 0; t < 700; ++t) {
    if (c.due(200)) {
      updates.push_back(c.step());
      c.measured({8, -7, 0.0038}, 200);
    } else {
      c.stale(200);
    }
  }
  CHECK(updates == std::vector<std::int64_t>{0, 1, 68, 135, 200, 400, 600});
  const nlohmann::json s = c.stats();
  CHECK(s.at("steps") == 700);
  CHECK(s.at("updates") == 7);
  REQUIRE(s.at("epochs").size() == 4);
  CHECK(s.at("epochs")[0].at("updates") == 4);
  CHECK(s.at("epochs")[1].at("updates") == 1);
  CHECK(s.at("epochs")[3].at("steps") == 100);
}

// When n grows by 8, m drops by 8 before the interval is computed: from m = s = −7 at 8 bits,
// growing to 16 bits with s = −15 is no shift movement at all (I = 0.1/(100·0.01²) − 2 = 8),
// where an unadjusted m would see |−15 − (−7)| = 8 and update at once (I = 1).
TEST_CASE("apt: a width step moves the shift average with it", "[apt]") {
  apt::Controller c(8);
  c.measured({8, -7, 0.001}, 0);
  c.measured({16, -15, 0.01}, 0);
  CHECK(c.interval() == 8);
  CHECK(c.shift_average() == Approx(-15.0));
  CHECK(c.bits() == 16);
  CHECK(c.stats().at("steps_at_bits").at("8") == 1);
  CHECK(c.stats().at("steps_at_bits").at("16") == 1);
}

// In training a spike between updates saturates at the stale shift; the next update widens.
TEST_CASE("apt: a quantizer grows its width at its next update", "[apt]") {
  auto schedule = std::make_shared<apt::Schedule>();
  schedule->steps_per_epoch = 100;  // warm-up: t = 0 only
  QuantizerSpec spec;
  spec.role = QuantRole::gradient;
  spec.bits = 8;
  AptQuantizer q(spec, schedule);
  const Tensor calm = vec({0.5f, -0.25f, 0.125f, 0.3f});  // E.1: 8 bits, diff 0.0038, s = −7
  q.forward(calm, true);
  const std::int64_t next = q.controller().next_update();
  REQUIRE(next > 1);  // I = rint(0.1/(100·0.0038319²) − 2) = 66
  CHECK(next == 66);
  const Tensor spiky = spike(1.0f, 99, 0.003f);                // E.2: needs 16 bits, s = −14
  CHECK(q.forward(spiky, true).data()[0] == 127.0f / 128.0f);  // stale s = −7 saturates 1.0
  CHECK(q.grid().bits == 8);
  for (std::int64_t t = 2; t < next; ++t) q.forward(calm, true);
  q.forward(spiky, true);  // t = 66: an update
  CHECK(q.grid().bits == 16);
  CHECK(q.grid().pow2_exponent == std::vector<int>{-14});
  const nlohmann::json s = q.stats();
  CHECK(s.at("steps_at_bits").at("8") == 66);
  CHECK(s.at("steps_at_bits").at("16") == 1);
  CHECK(s.at("share_at_bits").at("16").get<double>() == Approx(1.0 / 67));
  CHECK(s.at("epochs")[0].at("bits") == 16);
}

// An all-zero tensor measures nothing: zeros out, and the update stays due.
TEST_CASE("apt: an all-zero tensor leaves the update due", "[apt]") {
  auto q = apt_quantizer(QuantRole::gradient, 8);
  const Tensor zeros = vec({0.0f, 0.0f, 0.0f});
  for (float v : q->forward(zeros, true)) CHECK(v == 0.0f);
  const auto& c = dynamic_cast<AptQuantizer&>(*q).controller();
  CHECK_FALSE(c.initialised());
  CHECK(c.due(0));
  q->forward(vec({0.5f, -0.25f, 0.125f, 0.3f}), true);
  CHECK(c.initialised());
  CHECK(c.shift() == -7);
}

TEST_CASE("apt refuses other starting widths and unsigned grids", "[apt]") {
  CHECK_THROWS_WITH(apt_quantizer(QuantRole::weight, 12), Catch::StartsWith("bits"));
  CHECK_THROWS_WITH(apt_quantizer(QuantRole::weight, 32), Catch::StartsWith("bits"));
  QuantizerSpec spec;
  spec.role = QuantRole::activation;
  spec.is_signed = false;
  CHECK_THROWS_WITH(make_method("apt")->make_checked(spec), Catch::StartsWith("signed"));
}

// Straight through, closed form: on a Linear layer with all three APT hooks, dx = Q(dy)·Q(W) and
// dW = Q(dy)ᵀ·Q(x), where Q(dy) is the gradient hook's output: the gradient is quantized
// before both backward GEMMs, and the weight and input hooks pass gradients unchanged.
TEST_CASE("apt: gradients flow straight through, quantized before both GEMMs", "[apt]") {
  Linear fc("fc", 3, 2, /*bias=*/false);
  const float w[] = {0.3f, -0.71f, 0.05f, 0.9f, 0.11f, -0.4f};
  std::copy(std::begin(w), std::end(w), fc.weight().value.begin());
  QatConfig cfg{"apt", {}};
  cfg.settings.wbits = cfg.settings.abits = cfg.settings.gbits = 8;
  const auto method = make_method("apt");
  LayerInfo info = fc.info();
  const LayerQuantizers q = method->make_layer(info, cfg.settings);
  REQUIRE((q.weight && q.input && q.grad));
  fc.set_hook(HookSlot::weight, q.weight);
  fc.set_hook(HookSlot::input, q.input);
  fc.set_hook(HookSlot::grad, q.grad);

  Tensor x = Tensor::from_shape({2, 3});
  const float xs[] = {0.37f, -1.2f, 0.8f, 0.05f, 0.61f, -0.33f};
  std::copy(std::begin(xs), std::end(xs), x.begin());
  fc.forward(x, true);
  Tensor dy = Tensor::from_shape({2, 2});
  const float dys[] = {0.013f, -0.0071f, 0.0029f, 0.021f};
  std::copy(std::begin(dys), std::end(dys), dy.begin());
  fc.weight().zero_grad();
  const Tensor dx = fc.backward(dy);

  // The operands each hook produced, recomputed from the rules: max|·| sets the shift.
  auto fixed = [](const float* v, std::size_t n) {
    float z = 0.0f;
    for (std::size_t i = 0; i < n; ++i) z = std::max(z, std::abs(v[i]));
    std::vector<float> out(n);
    apt::fixed_point_quantize(v, out.data(), n, 8, apt::fixed_point_shift(z, 8));
    return out;
  };
  const auto qx = fixed(xs, 6), qw = fixed(w, 6), qdy = fixed(dys, 4);
  CHECK(qdy != std::vector<float>(std::begin(dys), std::end(dys)));  // the hook did quantize
  for (int n = 0; n < 2; ++n)
    for (int i = 0; i < 3; ++i) {
      const double want = double(qdy[n * 2]) * qw[i] + double(qdy[n * 2 + 1]) * qw[3 + i];
      CHECK(dx.data()[n * 3 + i] == Approx(want).margin(1e-9));
    }
  for (int o = 0; o < 2; ++o)
    for (int i = 0; i < 3; ++i) {
      const double want = double(qdy[o]) * qx[i] + double(qdy[2 + o]) * qx[3 + i];
      CHECK(fc.weight().grad.data()[o * 3 + i] == Approx(want).margin(1e-9));
    }
  // The weight and input quantizers are the identity on the gradient.
  CHECK(&q.weight->backward(dy) == &dy);
  CHECK(&q.input->backward(dy) == &dy);
}

// Two epochs in one go, and one epoch followed by a resumed second: the same accuracies, the
// same per-layer report (widths, shifts, per-epoch statistics) — the controllers' state travels
// with the checkpoint.
TEST_CASE("apt: training resumes bit for bit and reports per-epoch widths", "[apt][checkpoint]") {
  const test::TempDir tmp;
  Progress quiet = Progress::silent();
  QatConfig q{"apt", {}};
  q.settings.wbits = q.settings.abits = q.settings.gbits = 8;
  TrainConfig c = test::synthetic_lenet();
  c.quantization = to_json(q);
  const nlohmann::json full = train(c, quiet, make_qat(q));
  CHECK(full.at("test_accuracy").get<double>() > 0.5);
  const nlohmann::json& layers = full.at("layers");
  REQUIRE(layers.size() == 5);
  for (const auto& l : layers)
    for (const char* slot : {"weight", "input", "grad"}) {
      INFO(l.at("layer") << " " << slot);
      const nlohmann::json& s = l.at(slot).at("stats");
      REQUIRE(s.at("epochs").size() == 2);
      double share = 0.0;
      for (const auto& [w, v] : s.at("share_at_bits").items()) share += v.get<double>();
      CHECK(share == Approx(1.0));
      CHECK(s.at("epochs")[1].at("updates") == 1);  // once per epoch after the first
      CHECK(s.at("updates").get<int>() >= 2);
    }

  const nlohmann::json again =
      test::train_killed_and_resumed(c, q, 1, (tmp.path / "apt.h5").string());
  CHECK(again.at("test_accuracy") == full.at("test_accuracy"));
  CHECK(again.at("test_loss") == full.at("test_loss"));
  CHECK(again.at("layers") == full.at("layers"));
}
