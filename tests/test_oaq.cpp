// OAQ: the research note's worked examples (part E: E.7–E.10) through `qbench probe`'s
// function, the accumulation models against engine/int8's reference, the controller's
// decisions on crafted overflow counts, and training that resumes bit for bit.
#include "engine/int8/reference.h"
#include "engine/rng.h"
#include "methods/accumulation.h"
#include "methods/oaq.h"
#include "methods/probe.h"
#include "methods/qat.h"
#include "tests/support.h"

#include <catch2/catch.hpp>

#include <cmath>
#include <vector>

using namespace qb;
using nlohmann::json;

namespace {

json tensor(const Shape& shape, const std::vector<double>& data) {
  return {{"shape", shape}, {"data", data}};
}

// E.7's operands: x [3,6], w [1,6].
json e7_request(double alpha) {
  return {{"method", "oaq"},
          {"role", "activation"},
          {"bits", 8},
          {"options", {{"alpha", alpha}, {"acc_bits", 16}}},
          {"x", tensor({3, 6}, {0.51, 1, 0.8, 0.9, 0.7, 0.95, 0.1, 0.2, 0.05, 0.3, 0.2, 0.1, 0.9,
                                0.95, 1, 0.85, 0.6, 0.7})},
          {"w", tensor({1, 6}, {0.7, 0.6, -0.2, 0.65, 0.5, 0.4})}};
}

// A count function for the controller: `wrong` overflows of 3 dot products while α < `enough`.
oaq::Controller::CountAt overflowing_below(double enough, std::int64_t wrong, int* calls) {
  return [=](double alpha) {
    ++*calls;
    acc::Counts c;
    c.dot_products = 3;
    c.wrong[std::size_t(acc::Model::wrap)] = alpha < enough ? wrong : 0;
    return c;
  };
}

}  // namespace

TEST_CASE("oaq E.7: alpha 1 overflows 2 of 3 dot products, 1.5 and 1.27 none", "[oaq]") {
  struct Row {
    double alpha;
    double x_scale, w_scale;
    int overflows;
    int max_abs;
  };
  for (const Row& r :
       {Row{1.0, 1.0 / 127, 0.7 / 127, 2, 49252}, Row{1.5, 1.5 / 127, 1.05 / 127, 0, 21840},
        Row{1.27, 0.01, 0.007, 0, 30425}}) {
    INFO("alpha " << r.alpha);
    const json out = run_probe(e7_request(r.alpha));
    CHECK(out.at("grid").at("scale")[0].get<double>() == Approx(r.x_scale).epsilon(1e-6));
    CHECK(out.at("grid").at("w_scale")[0].get<double>() == Approx(r.w_scale).epsilon(1e-6));
    CHECK(out.at("stats").at("overflow_count") == r.overflows);
    CHECK(out.at("stats").at("dot_products") == 3);
    CHECK(out.at("stats").at("max_abs_acc") == r.max_abs);
  }
  // The paper rule's step from the α = 1 row: N_o/N = 2/3.
  CHECK(oaq::alpha_step(2, 3, oaq::kLambda, oaq::kDeltaMax) == Approx(0.005108).epsilon(1e-4));
}

TEST_CASE("oaq E.8: a 2x2 convolution overflows once at 16 bits, never at 17", "[oaq]") {
  json req = {{"method", "oaq"},
              {"role", "activation"},
              {"bits", 8},
              {"x", tensor({1, 1, 3, 3}, {1, 0.9, 0.8, 0.7, 1, 0.95, 0.2, 0.1, 0.85})},
              {"w", tensor({1, 1, 2, 2}, {0.5, 0.5, 0.5, -0.3})}};
  json out = run_probe(req);
  CHECK(out.at("stats").at("overflow_count") == 1);
  CHECK(out.at("stats").at("dot_products") == 4);
  CHECK(out.at("stats").at("max_abs_acc") == 34365);
  req["options"] = {{"acc_bits", 17}};
  out = run_probe(req);
  CHECK(out.at("stats").at("overflow_count") == 0);
  CHECK(out.at("stats").at("max_abs_acc") == 34365);
}

TEST_CASE("oaq E.9: -2^(P-1) counts as an overflow, though it wraps right", "[oaq]") {
  std::vector<double> x;
  for (int c : {1, 6, 4, 1, -4, -1, 7, -7}) x.push_back(c / 7.0);
  const json out = run_probe({{"method", "oaq"},
                              {"role", "activation"},
                              {"bits", 4},
                              {"options", {{"acc_bits", 6}}},
                              {"x", tensor({4, 2}, x)},
                              {"w", tensor({1, 2}, {1, 4.0 / 7})}});
  CHECK(out.at("stats").at("overflow_count") == 2);  // 32 and -32
  CHECK(out.at("stats").at("max_abs_acc") == 32);
  CHECK(out.at("stats").at("wrong").at("wrap") == 1);  // -32 fits 6 bits
}

TEST_CASE("oaq E.10: full sums, MNN's lanes and x86 pairs disagree", "[oaq]") {
  // 16 products of 127·127: the full sum overflows, every lane holds 32258.
  std::vector<std::int32_t> a(16, 127), w(16, 127);
  CHECK(acc::lanes_sum(a.data(), w.data(), 16) == 258064);
  CHECK(acc::wrap_to(258064, 16) == -4080);
  // K = 32: lane 0 gets four +16129, lanes 1..3 get 127·(-127) + 84·(-64): the full sum is 1,
  // lane 0 wraps, the kernel is off by 2^16.
  std::vector<std::int32_t> x(32, 0), v(32, 0);
  for (int k : {0, 1, 16, 17}) x[k] = 127, v[k] = 127;
  for (int lane = 1; lane <= 3; ++lane) {
    x[2 * lane] = 127, v[2 * lane] = -127;
    x[2 * lane + 1] = 84, v[2 * lane + 1] = -64;
  }
  std::int64_t exact = 0;
  for (int k = 0; k < 32; ++k) exact += std::int64_t(x[k]) * v[k];
  CHECK(exact == 1);
  CHECK(acc::lanes_sum(x.data(), v.data(), 32) == -65535);
  CHECK(acc::pair_wrap_sum(x.data(), v.data(), 32) == 1);
  // vpmaddubsw: 2·255·127 saturates a pair; 2·127·127 does not.
  const std::int32_t p255[] = {255, 255}, p127[] = {127, 127}, w127[] = {127, 127};
  CHECK(acc::pair_wrap_sum(p255, w127, 2) == 32767);
  CHECK(acc::pair_wrap_sum(p127, w127, 2) == 32258);
}

TEST_CASE("oaq: wrap, pair-wrap and lanes count what engine/int8's reference models count",
          "[oaq]") {
  Rng rng(11);
  const int M = 40, N = 3, K = 37;
  std::vector<std::uint8_t> a8(M * K);
  std::vector<std::int8_t> w8(N * K);
  std::vector<std::int32_t> a(M * K), w(N * K), out(M * N);
  for (int i = 0; i < M * K; ++i) a[i] = a8[i] = std::uint8_t(rng.uniform_int(256));
  for (int i = 0; i < N * K; ++i) w[i] = w8[i] = std::int8_t(int(rng.uniform_int(256)) - 128);
  acc::Geometry g;
  g.N = M, g.C = K, g.H = g.W = 1, g.O = N;
  const acc::Counts c = acc::count(g, a.data(), w.data(), 16);
  CHECK(c.dot_products == M * N);
  const std::int64_t wrap = int8::gemm_acc16_ref(int8::Acc16::wrap, M, N, K, a8.data(), K,
                                                 w8.data(), K, out.data(), N, true);
  const std::int64_t pair = int8::gemm_acc16_ref(int8::Acc16::pair_wrap, M, N, K, a8.data(), K,
                                                 w8.data(), K, out.data(), N, true);
  // lanes: integer/'s `lanes` model is engine/int8's, which must be lanes_sum dot by dot.
  const std::int64_t lanes = int8::gemm_acc16_ref(int8::Acc16::lanes, M, N, K, a8.data(), K,
                                                  w8.data(), K, out.data(), N, true);
  std::size_t same = 0;
  for (int m = 0; m < M; ++m)
    for (int n = 0; n < N; ++n)
      same += out[m * N + n] == acc::lanes_sum(a.data() + m * K, w.data() + n * K, K);
  CHECK(same == std::size_t(M * N));
  int8::gemm_acc16_ref(int8::Acc16::pair_wrap, M, N, K, a8.data(), K, w8.data(), K, out.data(), N,
                       false);
  same = 0;
  for (int m = 0; m < M; ++m)
    for (int n = 0; n < N; ++n)
      same += out[m * N + n] == acc::pair_wrap_sum(a.data() + m * K, w.data() + n * K, K);
  CHECK(same == std::size_t(M * N));
  CHECK(wrap > 0);
  CHECK(lanes > 0);
  CHECK(c.wrong_under(acc::Model::wrap) == wrap);
  CHECK(c.wrong_under(acc::Model::pair_wrap) == pair);
  CHECK(c.wrong_under(acc::Model::lanes) == lanes);
}

// acc::count on byte codes (the int8 kernel's one pass) against its definition written out:
// each conv output's patch in (ky, kx, ci) order, zeros in the padding, groups, stride.
TEST_CASE("oaq: counts on a strided, padded, grouped conv equal their definition", "[oaq]") {
  acc::Geometry g;
  g.conv = true;
  g.N = 2, g.C = 4, g.H = 7, g.W = 6, g.O = 6, g.kh = g.kw = 3, g.stride = 2, g.padding = 1;
  g.groups = 2;
  const std::size_t cg = g.C / g.groups, og = g.O / g.groups, K = g.K();
  Rng rng(13);
  std::vector<std::int32_t> x(g.N * g.C * g.H * g.W), w(g.O * cg * g.kh * g.kw);
  for (auto& v : x) v = std::int32_t(rng.uniform_int(256));
  for (auto& v : w) v = std::int32_t(rng.uniform_int(256)) - 128;
  for (const int bits : {16, 12}) {
    acc::Counts want;
    std::vector<std::int32_t> patch(K), wrow(K);
    for (std::size_t n = 0; n < g.N; ++n)
      for (std::size_t grp = 0; grp < g.groups; ++grp)
        for (std::size_t oy = 0; oy < g.Ho(); ++oy)
          for (std::size_t ox = 0; ox < g.Wo(); ++ox)
            for (std::size_t o = grp * og; o < (grp + 1) * og; ++o) {
              std::size_t k = 0;
              for (std::size_t ky = 0; ky < g.kh; ++ky)
                for (std::size_t kx = 0; kx < g.kw; ++kx)
                  for (std::size_t ci = 0; ci < cg; ++ci, ++k) {
                    const long iy = long(oy * g.stride + ky) - 1, ix = long(ox * g.stride + kx) - 1;
                    const bool in = iy >= 0 && ix >= 0 && iy < long(g.H) && ix < long(g.W);
                    patch[k] = in ? x[((n * g.C + grp * cg + ci) * g.H + iy) * g.W + ix] : 0;
                    wrow[k] = w[((o * cg + ci) * g.kh + ky) * g.kw + kx];
                  }
              std::int64_t s = 0;
              for (k = 0; k < K; ++k) s += std::int64_t(patch[k]) * wrow[k];
              ++want.dot_products;
              want.exceeds += std::llabs(s) > (std::int64_t(1) << (bits - 1)) - 1;
              want.max_abs = std::max<std::int64_t>(want.max_abs, std::llabs(s));
              want.wrong[0] += acc::wrap_to(s, bits) != s;
              want.wrong[1] += acc::pair_wrap_sum(patch.data(), wrow.data(), K) != s;
              want.wrong[2] += acc::lanes_sum(patch.data(), wrow.data(), K) != s;
            }
    const acc::Counts got = acc::count(g, x.data(), w.data(), bits);
    INFO("acc_bits " << bits);
    CHECK(got.dot_products == want.dot_products);
    CHECK(got.exceeds == want.exceeds);
    CHECK(got.max_abs == want.max_abs);
    CHECK(got.wrong == want.wrong);
    CHECK(want.wrong[0] > 0);  // the random codes overflow: the counts are not trivially 0
    CHECK(want.wrong[2] > 0);
  }
}

TEST_CASE("wrap_to is the residue mod 2^bits, from -2^(bits-1) to 2^(bits-1) - 1", "[oaq]") {
  Rng rng(12);
  for (int bits = 2; bits <= 32; ++bits) {
    const std::int64_t m = std::int64_t(1) << bits;
    for (int i = 0; i < 200; ++i) {
      const std::int64_t s = std::int64_t(rng.uniform_int(1u << 31)) * (i % 2 ? 1 : -1) *
                             std::int64_t(1 + rng.uniform_int(4));
      const std::int64_t r = acc::wrap_to(s, bits);
      INFO("bits " << bits << ", s " << s);
      CHECK(r >= -m / 2);
      CHECK(r < m / 2);
      CHECK((s - r) % m == 0);
    }
  }
  CHECK(acc::wrap_to(32768, 16) == -32768);
  CHECK(acc::wrap_to(-32769, 16) == 32767);
}

TEST_CASE("oaq controller, paper rule: alpha grows by min(lambda ln(1 + No/N), dmax)", "[oaq]") {
  oaq::Settings s;
  s.period = 3;
  oaq::Controller c(s, 127);
  int calls = 0;
  const auto count = overflowing_below(1.005, 2, &calls);
  std::vector<double> alphas;
  for (int step = 0; step < 9; ++step) {
    if (c.due()) c.observe(count);
    c.step_done(0);
    alphas.push_back(c.alpha());
  }
  // Counted at steps 0, 3, 6: grows once (2 of 3 wrong → +0.005108), then α ≥ 1.005 is quiet.
  CHECK(calls == 3);
  const double grown = 1.0 + 0.01 * std::log1p(2.0 / 3.0);
  CHECK(alphas[0] == Approx(grown));
  CHECK(alphas[8] == Approx(grown));
  CHECK(c.total().wrong_under(acc::Model::wrap) == 2);
  CHECK(c.total().dot_products == 9);
  // Δ_max caps the step: all wrong gives λ·ln 2 = 0.0069 < 0.01; with λ = 1, 0.01.
  CHECK(oaq::alpha_step(3, 3, 1.0, 0.01) == 0.01);
  CHECK(oaq::alpha_step(0, 3, 1.0, 0.01) == 0.0);
}

TEST_CASE("oaq controller, MNN rule: the clamp falls until the batch fits, or gives up", "[oaq]") {
  oaq::Settings s;
  s.rule = oaq::Rule::clamp;
  s.period = 1;
  {
    oaq::Controller c(s, 127);
    CHECK(c.clamp() == 127);
    int calls = 0;
    c.observe(overflowing_below(1.27, 5, &calls));  // fits from c = 100 (α = 1.27) on
    CHECK(c.clamp() == 100);
    CHECK(c.alpha() == Approx(1.27));
    CHECK(calls == 1 + 27);  // the step's count, then one recount per decrement
    CHECK(!c.gave_up());
    c.step_done(0);
    calls = 0;
    c.observe(overflowing_below(1.27, 5, &calls));  // quiet: no change, never back up
    CHECK(c.clamp() == 100);
    CHECK(calls == 1);
  }
  {
    s.min_clamp = 120;
    oaq::Controller c(s, 127);
    int calls = 0;
    c.observe(overflowing_below(1.27, 5, &calls));
    CHECK(c.gave_up());
    CHECK(c.clamp() == 127);
    CHECK(c.alpha() == 1.0);
    c.step_done(0);
    CHECK(!c.due());  // never counted again
  }
}

TEST_CASE("oaq refuses alpha below 1 and 16-bit models at other widths", "[oaq]") {
  json req = e7_request(0.9);
  CHECK_THROWS_WITH(run_probe(req), Catch::Contains("options.alpha"));
  req = e7_request(1.0);
  req["options"] = {{"acc_model", "lanes"}, {"acc_bits", 20}};
  CHECK_THROWS_WITH(run_probe(req), Catch::Contains("options.acc_bits"));
  req["options"] = {{"acc_model", "lane"}};
  CHECK_THROWS_WITH(run_probe(req), Catch::Contains("did you mean"));
}

// Controlled layers count and grow α, the first layer (float image) is left alone, and a run
// killed after its first epoch resumes to the same α, statistics and accuracy.
TEST_CASE("oaq: training counts overflows per layer and resumes bit for bit", "[oaq][checkpoint]") {
  const test::TempDir tmp;
  Progress quiet = Progress::silent();
  QatConfig q{"oaq", {}};
  q.settings.wbits = q.settings.abits = 8;
  q.settings.options = {{"acc_bits", 12}, {"period", 2}};  // 12 bits: LeNet overflows
  TrainConfig c = test::synthetic_lenet();
  c.quantization = to_json(q);
  const json full = train(c, quiet, make_qat(q));
  const json& layers = full.at("layers");
  REQUIRE(layers.size() == 5);
  CHECK(layers[0].at("weight").at("stats").at("controlled") == false);
  bool grew = false;
  for (std::size_t i = 1; i < layers.size(); ++i) {
    const json& s = layers[i].at("weight").at("stats");
    INFO(layers[i].at("layer"));
    CHECK(s.at("counted_steps").get<int>() > 0);
    CHECK(s.at("epochs").size() == 2);
    CHECK(s.at("total").at("dot_products").get<std::int64_t>() > 0);
    grew = grew || s.at("alpha").get<double>() > 1.0;
    CHECK(layers[i].at("input").at("stats").at("alpha") == s.at("alpha"));
  }
  CHECK(grew);
  const json again = test::train_killed_and_resumed(c, q, 1, (tmp.path / "oaq.h5").string());
  CHECK(again.at("test_accuracy") == full.at("test_accuracy"));
  CHECK(again.at("test_loss") == full.at("test_loss"));
  CHECK(again.at("layers") == full.at("layers"));
}
