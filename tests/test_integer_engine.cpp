// Integer inference: for small networks with random weights and calibrated quantizers, every
// representable method's export, run by the integer engine under every accumulator model on
// every ISA this CPU has, equals the exact simulation (integer/reference.h) bit for bit in
// every layer; the logits stay close to the fake-quant network's; what cannot be represented
// is refused, naming the layer.
#include "engine/check.h"
#include "engine/nets.h"
#include "engine/rng.h"
#include "integer/engine.h"
#include "integer/export.h"
#include "integer/reference.h"
#include "integer/wide_requant.h"
#include "integer/wide_requant_vector.h"
#include "methods/qat.h"
#include "tests/int8_isas.h"

#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>

using namespace qb;

namespace {

// Fashion-MNIST's normalisation, roughly: images are 8-bit pixels, normalised.
constexpr double kMean = 0.2860, kStd = 0.3530;

Tensor random_images(int N, std::uint64_t seed) {
  Rng rng(seed);
  Tensor x = Tensor::from_shape({std::size_t(N), 1, 28, 28});
  for (float& v : x) v = float((double(rng.uniform_int(256)) / 255.0 - kMean) / kStd);
  return x;
}

struct Case {
  const char* net;
  const char* method;
  int wbits, abits;
  const char* granularity = "tensor";
  const char* first_last = "same";
};

// A network with the method's quantizers, random weights, randomised BatchNorm statistics
// (some γ negative), quantizers calibrated by one evaluation forward.
std::unique_ptr<Network> quantized_net(const Case& c, std::uint64_t seed) {
  auto net = make_network(c.net, {1, 28, 28}, 10, std::string(c.net) == "lenet5" ? 1.0f : 0.0625f);
  QatConfig q{c.method, {}};
  q.settings.wbits = c.wbits;
  q.settings.abits = c.abits;
  q.settings.granularity = c.granularity;
  q.settings.first_last = kFirstLast.parse(c.first_last).value;
  make_qat(q).attach(*net);
  net->init_weights(seed);
  Rng rng(seed + 1);
  for (Param* p : net->params())
    if (p->role == ParamRole::bias || p->role == ParamRole::bn)
      for (float& v : p->value)
        v = float(rng.normal()) * 0.5f + (p->name.find("gamma") != std::string::npos);
  for (Buffer* b : net->buffers())
    for (float& v : b->value)
      v = b->name.find("var") != std::string::npos ? 0.5f + rng.uniform() : float(rng.normal());
  net->forward(random_images(16, seed + 2), /*training=*/false);
  return net;
}

integer::Network export_of(Network& net, const char* method) {
  return integer::export_network(net, {method, {kMean}, {kStd}});
}

// The by-hand networks below: an H×W image of C channels on a signed grid of scale 1 (its
// codes stored shifted by 128), then `layers`.
integer::Network by_hand(const char* name, int H, int W, int C,
                         std::vector<integer::Layer> layers) {
  integer::Network net;
  net.name = name;
  net.H = H, net.W = W, net.C = C, net.classes = 1;
  net.input = {integer::ImageInput::Kind::grid, 1.0, 0.0, 128, -128, 127};
  net.layers = std::move(layers);
  return net;
}

// A 1×1 conv with weight 1 over a 1×W row of one channel, padding the image's zero point.
integer::Layer identity_conv(const char* name, int W) {
  integer::Layer l;
  l.name = name;
  l.H = l.Ho = 1, l.W = l.Wo = W, l.C_in = l.C_out = 1;
  l.geometry = int8::ConvGeometry::square(1);
  l.weight = {1};
  l.pad_code = 128;
  return l;
}

// The one logit of an H×W×C input: one window over all of it, dequantised with scale 1.
integer::Layer logit(int H, int W, int C, std::vector<std::int8_t> weight, double bias = 0) {
  integer::Layer l;
  l.name = "logits";
  l.H = H, l.W = W, l.C_in = C, l.Ho = l.Wo = 1, l.C_out = 1;
  l.geometry = {H, W};
  l.weight = std::move(weight);
  l.logits = true;
  l.logit_scale = {1.0};
  l.logit_bias = {bias};
  return l;
}

// The integer engine (int32 accumulators, on `isa`) and the exact simulation of one network.
struct BothRuns {
  integer::Trace engine, reference;
  std::vector<double> logits, reference_logits;
};

BothRuns run_both(const integer::Network& net, int8::Isa isa, const float* images, int N) {
  BothRuns b;
  integer::Engine(net, integer::AccModel::int32, isa).forward(images, N, b.logits, &b.engine);
  integer::reference_forward(net, integer::AccModel::int32, images, N, b.reference_logits,
                             &b.reference);
  return b;
}

// Two runs of one network on the same images: every layer's codes and the logits equal.
void check_same_run(const integer::Network& inet, const integer::Trace& got,
                    const std::vector<double>& got_logits, const integer::Trace& want,
                    const std::vector<double>& want_logits) {
  for (std::size_t i = 0; i < inet.layers.size(); ++i) {
    INFO("layer " << inet.layers[i].name);
    CHECK(got.codes[i] == want.codes[i]);
  }
  CHECK(got_logits == want_logits);
}

}  // namespace

TEST_CASE("integer engine equals the exact simulation, every layer, model and ISA", "[integer]") {
  const Case cases[] = {
      {"lenet5", "minmax", 8, 8},
      {"lenet5", "syq", 2, 4, "channel"},
      {"lenet5", "alt", 8, 8},
      {"lenet5", "alt", 4, 4},
      {"lenet5", "pact", 4, 4},
      {"lenet5", "dorefa", 4, 4},
      {"lenet5", "sat", 4, 4},
      {"lenet5", "minmax", 4, 4},
      {"lenet5", "syq", 2, 4, "layer"},
      {"lenet5", "minmax", 4, 4, "tensor", "fp32"},
      {"lenet5", "alt", 4, 4, "tensor", "fp32"},
      {"vgg_small", "minmax", 8, 8},
      {"vgg_small", "alt", 8, 8},
      {"vgg_small", "pact", 4, 4, "tensor", "fp32"},
      // residual adds (identity and option A), global average pooling, depthwise convs
      {"resnet20", "minmax", 8, 8},
      {"resnet20", "alt", 8, 8},
      {"resnet20", "pact", 4, 4},
      {"resnet20", "sat", 4, 4},
      {"resnet20", "syq", 2, 4, "channel"},
      {"resnet20", "minmax", 4, 4, "tensor", "fp32"},
      {"mobilenet_tiny", "minmax", 8, 8},
      {"mobilenet_tiny", "alt", 8, 8},
      {"mobilenet_tiny", "dorefa", 4, 4},
      {"mobilenet_tiny", "syq", 2, 4, "channel"},
  };
  const Tensor images = random_images(3, 77);
  for (const Case& c : cases) {
    auto net = quantized_net(c, 11);
    const integer::Network inet = export_of(*net, c.method);
    for (integer::AccModel model : integer::kAllAccModels) {
      integer::Trace ref_trace;
      std::vector<double> ref_logits;
      integer::reference_forward(inet, model, images.data(), 3, ref_logits, &ref_trace);
      for (int8::Isa isa : int8::test::runnable_isas("integer engine")) {
        INFO(c.net << " " << c.method << " W" << c.wbits << "A" << c.abits << " " << c.granularity
                   << " first-last " << c.first_last << ", acc " << integer::acc_model_name(model)
                   << ", isa " << int8::isa_name(isa));
        integer::Engine engine(inet, model, isa);
        integer::Trace trace;
        std::vector<double> logits;
        engine.forward(images.data(), 3, logits, &trace);
        check_same_run(inet, trace, logits, ref_trace, ref_logits);
      }
    }
  }
}

TEST_CASE("the simulation of all models in one pass equals one pass per model", "[integer]") {
  // Random weights overflow 16 bits often, so the models' codes part ways after the first
  // layers: both the shared products and the separate ones are exercised.
  const Case cases[] = {
      {"lenet5", "minmax", 8, 8},         {"lenet5", "minmax", 4, 4, "tensor", "fp32"},
      {"resnet20", "minmax", 8, 8},       {"resnet20", "alt", 8, 8},
      {"mobilenet_tiny", "minmax", 8, 8},
  };
  const Tensor images = random_images(3, 78);
  std::size_t diverged = 0;
  for (const Case& c : cases) {
    INFO(c.net << " " << c.method << " W" << c.wbits << "A" << c.abits);
    auto net = quantized_net(c, 12);
    const integer::Network inet = export_of(*net, c.method);
    std::vector<integer::ReferenceRun> together;
    integer::reference_forward(inet, integer::kAllAccModels, images.data(), 3, together);
    REQUIRE(together.size() == std::size(integer::kAllAccModels));
    for (std::size_t m = 0; m < together.size(); ++m) {
      const integer::AccModel model = integer::kAllAccModels[m];
      INFO("acc " << integer::acc_model_name(model));
      integer::Trace trace;
      std::vector<double> logits;
      std::vector<integer::OverflowStats> stats;
      integer::reference_forward(inet, model, images.data(), 3, logits, &trace, &stats);
      check_same_run(inet, together[m].trace, together[m].logits, trace, logits);
      for (std::size_t i = 0; i < inet.layers.size(); ++i)
        diverged += together[m].trace.codes[i] != together[0].trace.codes[i];
      REQUIRE(together[m].stats.size() == stats.size());
      for (std::size_t i = 0; i < stats.size(); ++i) {
        CHECK(together[m].stats[i].dot_products == stats[i].dot_products);
        CHECK(together[m].stats[i].wrong == stats[i].wrong);
        CHECK(together[m].stats[i].max_abs_sum == stats[i].max_abs_sum);
      }
    }
  }
  CHECK(diverged > 0);
}

// Without counting, pair-wrap runs on gemm_acc16 (engine.h's EngineOptions): its codes and
// logits must be the counting path's, including where the random weights overflow 16 bits
// (checked: the counting path finds wrong dot products). A8 and A7 (7-bit depthwise inputs take
// the wrapped exact sums, 8-bit ones the reference), first/last fp32, every ISA.
TEST_CASE("pair-wrap on the 16-bit kernels equals the counting pair-wrap path", "[integer]") {
  const Case cases[] = {
      {"lenet5", "minmax", 8, 8},
      {"lenet5", "minmax", 8, 7},
      {"lenet5", "oaq", 8, 7},
      {"lenet5", "minmax", 4, 4, "tensor", "fp32"},
      {"vgg_small", "minmax", 8, 7},
      {"resnet20", "minmax", 8, 8},
      {"resnet20", "minmax", 8, 7},
      {"mobilenet_tiny", "minmax", 8, 8},
      {"mobilenet_tiny", "minmax", 8, 7},
      {"mobilenet_tiny", "alt", 8, 8},
  };
  const Tensor images = random_images(5, 79);
  std::int64_t wrong = 0;
  for (const Case& c : cases) {
    auto net = quantized_net(c, 13);
    const integer::Network inet = export_of(*net, c.method);
    for (int8::Isa isa : int8::test::runnable_isas("integer engine, 16-bit kernels")) {
      INFO(c.net << " " << c.method << " W" << c.wbits << "A" << c.abits << " first-last "
                 << c.first_last << ", isa " << int8::isa_name(isa));
      integer::Engine counting(inet, integer::AccModel::pair_wrap, isa);
      integer::Engine fast(inet, integer::AccModel::pair_wrap, isa, {.count_overflows = false});
      CHECK(counting.counts_overflows());
      CHECK_FALSE(fast.counts_overflows());
      integer::Trace want, got;
      std::vector<double> want_logits, got_logits;
      counting.forward(images.data(), 5, want_logits, &want);
      fast.forward(images.data(), 5, got_logits, &got);
      check_same_run(inet, got, got_logits, want, want_logits);
      REQUIRE(fast.stats().size() == counting.stats().size());
      for (std::size_t i = 0; i < fast.stats().size(); ++i) {
        CHECK(fast.stats()[i].dot_products == counting.stats()[i].dot_products);
        wrong += counting.stats()[i].wrong;
      }
    }
  }
  CHECK(wrong > 0);
  // The other 16-bit models have no kernel: without counting they are refused.
  const integer::Network inet = export_of(*quantized_net({"lenet5", "minmax", 8, 8}, 1), "minmax");
  for (auto m : {integer::AccModel::wrap, integer::AccModel::saturate,
                 integer::AccModel::pair_saturate, integer::AccModel::lanes})
    CHECK_THROWS_AS(integer::Engine(inet, m, int8::Isa::scalar, {.count_overflows = false}), Error);
  integer::Engine int32(inet, integer::AccModel::int32, int8::Isa::scalar,
                        {.count_overflows = false});
  CHECK(int32.counts_overflows());
}

TEST_CASE("integer logits follow the fake-quant network", "[integer]") {
  const Case cases[] = {
      {"lenet5", "minmax", 8, 8},      {"lenet5", "alt", 8, 8},
      {"lenet5", "pact", 4, 4},        {"lenet5", "dorefa", 4, 4},
      {"lenet5", "sat", 4, 4},         {"vgg_small", "minmax", 8, 8},
      {"vgg_small", "alt", 8, 8},      {"resnet20", "minmax", 8, 8},
      {"resnet20", "alt", 8, 8},       {"mobilenet_tiny", "minmax", 8, 8},
      {"mobilenet_tiny", "alt", 8, 8},
  };
  const int N = 16;
  const Tensor images = random_images(N, 5);
  for (const Case& c : cases) {
    INFO(c.net << " " << c.method << " W" << c.wbits << "A" << c.abits);
    auto net = quantized_net(c, 3);
    const integer::Network inet = export_of(*net, c.method);
    const Tensor fq = net->forward(images, false);
    std::vector<double> logits;
    integer::Engine(inet, integer::AccModel::int32, int8::best_isa())
        .forward(images.data(), N, logits);
    // An exported layer that computed the wrong function (a permutation, a scale, a sign)
    // is far off; one rounding step of difference per layer is not.
    double err = 0, range = 0;
    for (std::size_t k = 0; k < logits.size(); ++k) {
      err = std::max(err, std::abs(logits[k] - fq.data()[k]));
      range = std::max(range, double(std::abs(fq.data()[k])));
    }
    CHECK(err <= 0.1 * range);
  }
}

TEST_CASE("what integer inference cannot represent is refused, naming the layer", "[integer]") {
  auto refused = [](const Case& c, const char* what) {
    auto net = quantized_net(c, 1);
    INFO(c.method << " W" << c.wbits << "A" << c.abits << " " << c.granularity);
    CHECK_THROWS_WITH(export_of(*net, c.method), Catch::Contains(what));
  };
  // DoReFa's 8-bit levels are odd multiples of 1/255: 9 bits.
  refused({"lenet5", "dorefa", 8, 8}, "layer conv1: weight code");
  // SYQ's per-pixel scales vary along the dot product.
  refused({"lenet5", "syq", 2, 4, "pixel"}, "layer conv1: weight grid of granularity 'pixel'");
  refused({"lenet5", "minmax", 32, 8}, "layer conv2: its weights are not quantized");
  refused({"lenet5", "minmax", 8, 32}, "layer conv2: its input is not quantized");
}

// One 1×1 convolution by hand: sums 1, 3, 5, −1, −3 halved. Half to even gives 0, 2, 2, 0, −2
// (plus the zero point 10); half up would give 1, 2, 3, 0, −1. Shift and multiplier alike.
TEST_CASE("requantisation rounds once, half to even, in engine and simulation", "[integer]") {
  integer::Layer conv = identity_conv("halve", 5);
  // Σ (q + 128)·1 − 128 = the signed code: B = −128 times the multiplier of x (2^30 for a
  // shift, m0 = 2^30 for the multiplier 0.5 = 2^30 · 2^(0 − 31)).
  conv.requant = {{-(std::int64_t(128) << 30)}, 0, 1, {}, 10, 0, 255, 0.5};
  // the logit: the first code
  integer::Network net = by_hand("by-hand", 1, 5, 1, {conv, logit(1, 5, 1, {1, 0, 0, 0, 0})});
  const float image[5] = {1, 3, 5, -1, -3};
  const std::vector<std::uint8_t> expected = {10, 12, 12, 10, 8};
  for (bool by_shift : {true, false}) {
    if (!by_shift) {
      net.layers[0].requant.shift = -1;
      net.layers[0].requant.multiplier = {int8::quantize_multiplier(0.5)};
    }
    const BothRuns b = run_both(net, int8::Isa::scalar, image, 1);
    INFO((by_shift ? "shift" : "multiplier"));
    CHECK(b.engine.codes[0] == expected);
    CHECK(b.reference.codes[0] == expected);
    CHECK(b.logits == std::vector<double>{10.0});
  }
  CHECK(integer::rounded_shift(6, 2) == 2);
  CHECK(integer::rounded_shift(10, 2) == 2);
  CHECK(integer::rounded_shift(-6, 2) == -2);
  CHECK(integer::rounded_shift(-10, 2) == -2);
  CHECK(integer::rounded_shift(14, 2) == 4);
  CHECK(integer::rounded_shift(-7, 1) == -4);
}

// A residual add by hand: the block input a (codes 1 1 1 1 3, scale 1) is both the main
// branch's 1×1 conv (weight 1) and the shortcut, each at ratio ½ to the output grid:
// y = rhe((a + a)/2) = a, one rounding of the exact sum; rounding each branch, rhe(a/2) twice,
// would give 0 0 0 0 4. Pooled (1/P not folded, shift 32): y = rhe(Σ 2a / 4) = rhe(3.5) = 4,
// where rounding per pixel would give 2.
TEST_CASE("a residual add and a pooled sum round once, in engine and simulation", "[integer]") {
  for (bool pooled : {false, true}) {
    // the block input: the image's signed codes as u8 codes, zero point 0
    integer::Layer in = identity_conv("in", 5);
    in.requant = {{-(std::int64_t(128) << 30)}, 0, 0, {}, 0, 0, 255, 1.0};
    integer::Layer add = in;
    add.name = "add";
    add.pad_code = 0;
    add.requant = {{0}, 0, -1, {}, 0, 0, 255, 1.0};
    add.shortcut = {0, 1, 5, 1, 1, 0, 0, 1.0};
    add.pooled = pooled;
    add.wide = {
        {std::int64_t(1) << 30}, {std::int64_t(1) << 30}, {pooled ? 32 : 31}, {0}, {INT64_MAX}};
    // the logit: the first code (or the pooled one) times 1
    const integer::Network net =
        by_hand("by-hand", 1, 5, 1,
                {in, add, pooled ? logit(1, 1, 1, {1}) : logit(1, 5, 1, {1, 0, 0, 0, 0})});
    const float image[5] = {1, 1, 1, 1, 3};
    const std::vector<std::uint8_t> expected =
        pooled ? std::vector<std::uint8_t>{4} : std::vector<std::uint8_t>{1, 1, 1, 1, 3};
    for (int8::Isa isa : int8::test::runnable_isas("integer engine")) {
      INFO((pooled ? "pooled" : "per pixel") << ", isa " << int8::isa_name(isa));
      const BothRuns b = run_both(net, isa, image, 1);
      CHECK(b.engine.codes[1] == expected);
      CHECK(b.reference.codes[1] == expected);
      CHECK(b.logits == b.reference_logits);
    }
  }
}

// The residual requantisation's AVX2 and AVX-512 kernels against the scalar loop on values a
// network rarely produces: sums at the int32 ends, fine biases up to ±(2^61 − 1), shifts 0 to
// 54, exact ties (power-of-two multipliers), shortcut codes at both ends, channels outside the
// shortcut, channel counts not a multiple of four or eight (AVX-512's masked tail), a bias per
// output position (every third trial), and a multiplier of 2^31 or a bias of 2^61 that sends
// the layer back to the scalar loop. Such values mostly land beyond the clamp, so trials 40 to
// 79 keep v/2^s inside the codes' range with a quarter of them exact ties (m = ±2^(s−2), B a
// multiple of 2^(s−2), small sums): the rounding itself is compared there, and a kernel that
// rounded ties up instead of to even fails.
TEST_CASE("the residual requantisation's vector kernels equal its scalar loop", "[integer]") {
  std::vector<int8::Isa> isas;
  for (int8::Isa isa : {int8::Isa::avx2, int8::Isa::avx512bw})
    if (int8::cpu_has(isa))
      isas.push_back(isa);
    else
      WARN("the residual requantisation's " << int8::isa_name(isa)
                                            << " kernel: not tested, the CPU lacks it");
  Rng rng(41);
  int ties_inside = 0;  // in-range exact ties met (trials 40 to 79)
  for (int trial = 0; trial < 80; ++trial) {
    const bool ranged = trial >= 40;
    integer::Layer l;
    l.name = "wide";
    l.Ho = 3, l.Wo = 5, l.C_out = 6 + int(rng.uniform_int(12));
    const int C = l.C_out, sc_C = C / 2;
    l.shortcut = {0,  5, 9, sc_C, 2, int(rng.uniform_int(C - sc_C + 1)), int(rng.uniform_int(256)),
                  1.0};
    l.requant.zero_point = int(rng.uniform_int(64));
    l.requant.lo = trial % 2 ? l.requant.zero_point : 0;
    l.requant.hi = 255 - int(rng.uniform_int(64));
    for (int c = 0; c < C; ++c) {
      const int shift = ranged ? 2 + int(rng.uniform_int(31)) : int(rng.uniform_int(55));
      l.wide.shift.push_back(shift);
      auto mult = [&] {
        if (ranged) return (rng.uniform_int(2) ? -1 : 1) * (std::int64_t(1) << (shift - 2));
        const std::int64_t m = rng.uniform_int(3) == 0
                                   ? std::int64_t(1) << rng.uniform_int(31)  // exact ties
                                   : std::int64_t(rng.uniform_int(std::uint64_t(1) << 31));
        return rng.uniform_int(2) ? -m : m;
      };
      l.wide.m_acc.push_back(mult());
      l.wide.m_sc.push_back(mult());
    }
    const int P = l.Ho * l.Wo;
    l.requant.bias_ld = trial % 3 == 0 ? C : 0;
    l.requant.bias.resize(l.requant.bias_ld ? std::size_t(P) * C : C);
    constexpr std::int64_t kBiasMax = (std::int64_t(1) << 61) - 1;
    for (std::size_t j = 0; ranged && j < l.requant.bias.size(); ++j)
      l.requant.bias[j] = (std::int64_t(rng.uniform_int(801)) - 400) *
                          (l.wide.m_acc[j % C] < 0 ? -l.wide.m_acc[j % C] : l.wide.m_acc[j % C]);
    for (auto& b : l.requant.bias) {
      if (ranged) break;
      const std::int64_t u = std::int64_t(rng.uniform_int(std::uint64_t(1) << 61));
      b = rng.uniform_int(4) == 0 ? kBiasMax : u;
      if (rng.uniform_int(2)) b = -b;
    }
    const integer::detail::WideVector kernel(l);
    CHECK(kernel.usable);
    if (trial == 38) l.requant.bias.back() = kBiasMax + 1;         // the scalar fallback
    if (trial == 39) l.wide.m_acc[C / 2] = std::int64_t(1) << 31;  // the scalar fallback
    if (trial == 38 || trial == 39) CHECK_FALSE(integer::detail::WideVector(l).usable);
    const std::int64_t M = 2 * l.Ho * l.Wo;  // two images
    std::vector<std::int32_t> acc(M * C);
    for (auto& a : acc)
      a = ranged                    ? std::int32_t(rng.uniform_int(129)) - 64
          : rng.uniform_int(4) == 0 ? (rng.uniform_int(2) ? INT32_MAX : INT32_MIN)
                                    : std::int32_t(rng.uniform_int(std::uint64_t(1) << 32));
    std::vector<std::uint8_t> shortcut(2 * 5 * 9 * sc_C);
    for (auto& s : shortcut) s = rng.uniform_int(3) ? std::uint8_t(rng.uniform_int(256)) : 255;
    std::vector<std::uint8_t> scalar(M * C);
    integer::wide_requantize_rows(l, acc.data(), shortcut.data(), 0, M, scalar.data(),
                                  int8::Isa::scalar);
    if (ranged) {  // count the exact ties that round inside the codes' range
      const integer::detail::WideScalar ws(l);
      integer::detail::walk_pixels(
          l, acc.data(), shortcut.data(), 0, M, nullptr,
          [&](const integer::detail::WidePixel& p, int b, int e, bool with_sc) {
            for (int c = b; c < e; ++c) {
              const int sc = with_sc ? p.shortcut[c - l.shortcut.channel_offset] : -1;
              const std::int64_t v = ws.value(c, p.sums[c], sc, p.bias[c]);
              const std::int64_t half = std::int64_t(1) << (l.wide.shift[c] - 1);
              const int code = scalar[std::size_t(p.r) * C + c];
              ties_inside +=
                  (v & (2 * half - 1)) == half && code > l.requant.lo && code < l.requant.hi;
            }
          });
    }
    for (int8::Isa isa : isas) {
      std::vector<std::uint8_t> vec(M * C);
      integer::wide_requantize_rows(l, acc.data() + C, shortcut.data(), 1, M, vec.data(), isa);
      integer::wide_requantize_rows(l, acc.data(), shortcut.data(), 0, 1, vec.data(), isa);
      INFO("trial " << trial << ", C " << C << ", isa " << int8::isa_name(isa));
      CHECK(scalar == vec);
    }
  }
  CHECK(ties_inside > 500);
}

// The bias kept in int64 after the multiplier, per output position, by hand: a 1×1 conv of
// codes x = 2 2 2 1 0 (weight 1) with real biases b = 0.6 −0.4 0.4 0.4 1 (accumulator units)
// at output scale ½: rhe((x + b)/2) = rhe(1.3, 0.8, 1.2, 0.7, 0.5) = 1 1 1 1 0 — the last an
// exact tie, to even. The bias rounded to int32 first (the old export) gives
// rhe(3/2, 2/2, 2/2, 1/2, 1/2) = 2 1 1 0 0: this test fails for it.
TEST_CASE("a fine per-position bias rounds once with the sum, in engine and simulation",
          "[integer]") {
  const double b[] = {0.6, -0.4, 0.4, 0.4, 1.0};
  const float image[5] = {2, 2, 2, 1, 0};
  const std::vector<std::uint8_t> expected = {11, 11, 11, 11, 10};
  std::vector<std::uint8_t> int32_bias;  // what rounding the bias to the accumulator step gives
  for (int p = 0; p < 5; ++p)
    int32_bias.push_back(std::uint8_t(
        10 + integer::rounded_shift(std::int64_t(image[p] + std::nearbyint(b[p])), 1)));
  CHECK(int32_bias != expected);

  integer::Layer conv = identity_conv("fine", 5);
  // The stored codes are x + 128: B = rint((b − 128) · 2^30), x's multiplier 2^30 both ways.
  conv.requant.bias_ld = 1;
  for (double bp : b) conv.requant.bias.push_back(std::llrint(std::ldexp(bp - 128, 30)));
  conv.requant.zero_point = 10;
  integer::Network net = by_hand("by-hand", 1, 5, 1, {conv, logit(1, 5, 1, {1, 0, 0, 0, 0}, 0.25)});
  for (bool by_shift : {true, false}) {
    integer::Requant& r = net.layers[0].requant;
    r.shift = by_shift ? 1 : -1;
    r.multiplier = by_shift ? std::vector<int8::Multiplier>{}
                            : std::vector<int8::Multiplier>{int8::quantize_multiplier(0.5)};
    for (int8::Isa isa : int8::test::runnable_isas("integer engine")) {
      INFO((by_shift ? "shift" : "multiplier") << ", isa " << int8::isa_name(isa));
      const BothRuns run = run_both(net, isa, image, 1);
      CHECK(run.engine.codes[0] == expected);
      CHECK(run.reference.codes[0] == expected);
      CHECK(run.logits == std::vector<double>{11.25});
      CHECK(run.reference_logits == run.logits);
    }
  }
}

// A per-position bias table where the fused conv's blocks cut an image and its row groups:
// 24 channels (row groups of k = 2 pixels), 13×13 = 169 output pixels (odd: image boundaries
// fall inside a group), five images in blocks of 672 rows (the second starts at pixel 165 of
// the fourth image). Engine and simulation must agree on every ISA, for the shift and the
// multiplier form; the table varies by position, so indexing it from the block (not the image)
// or by group misplaces biases and fails.
TEST_CASE("a per-position bias table survives blocks and row groups that cut images", "[integer]") {
  constexpr int N = 5, S = 13, C_in = 2, C = 24, P = S * S;
  Rng rng(29);
  integer::Layer conv;
  conv.name = "table";
  conv.H = conv.Ho = conv.W = conv.Wo = S, conv.C_in = C_in, conv.C_out = C;
  conv.geometry = int8::ConvGeometry::square(3, 1, 1);
  for (int j = 0; j < C * 9 * C_in; ++j) conv.weight.push_back(std::int8_t(rng.uniform_int(255)));
  conv.pad_code = 128;
  conv.requant.bias_ld = C;
  for (int j = 0; j < P * C; ++j)
    conv.requant.bias.push_back(std::int64_t(rng.uniform_int(std::uint64_t(1) << 46)) -
                                (std::int64_t(1) << 45));
  conv.requant.zero_point = 128;
  for (int c = 0; c < C; ++c)
    conv.requant.multiplier.push_back(int8::quantize_multiplier(std::ldexp(1.0 + c / 32.0, -12)));
  std::vector<std::int8_t> out;  // one logit per image: a 13×13 window over all channels
  for (int j = 0; j < P * C; ++j) out.push_back(std::int8_t(int(rng.uniform_int(7)) - 3));
  integer::Network net = by_hand("table", S, S, C_in, {conv, logit(S, S, C, out)});
  std::vector<float> images(std::size_t(N) * C_in * P);
  for (float& v : images) v = float(int(rng.uniform_int(256)) - 128);

  integer::Network same = net;  // row 0 of the table at every position: must differ
  same.layers[0].requant.bias_ld = 0;
  same.layers[0].requant.bias.resize(C);
  for (int shift : {-1, 12}) {
    net.layers[0].requant.shift = same.layers[0].requant.shift = shift;
    integer::Trace ref, ref_same;
    std::vector<double> ref_logits, logits_same;
    integer::reference_forward(net, integer::AccModel::int32, images.data(), N, ref_logits, &ref);
    integer::reference_forward(same, integer::AccModel::int32, images.data(), N, logits_same,
                               &ref_same);
    CHECK(ref.codes[0] != ref_same.codes[0]);
    for (int8::Isa isa : int8::test::runnable_isas("integer engine")) {
      INFO((shift >= 0 ? "shift" : "multiplier") << ", isa " << int8::isa_name(isa));
      const BothRuns b = run_both(net, isa, images.data(), N);
      CHECK(b.engine.codes[0] == ref.codes[0]);
      CHECK(b.logits == ref_logits);
    }
  }
}

TEST_CASE("max pooling of codes takes each window's largest code", "[integer]") {
  // Windows that overlap (3×3, stride 2), that leave input columns unread (2×2, stride 3), and
  // LeNet-5's (2×2, stride 2), on channel counts that fill no vector: against the definition.
  struct Pool {
    int k, stride, H, W, C;
  };
  Rng rng(5);
  for (const Pool p :
       {Pool{3, 2, 9, 11, 5}, Pool{2, 3, 8, 7, 3}, Pool{2, 2, 28, 28, 6}, Pool{3, 1, 5, 5, 17}}) {
    integer::Layer l;
    l.kind = integer::Layer::Kind::maxpool;
    l.H = p.H, l.W = p.W, l.C_in = l.C_out = p.C;
    l.geometry = int8::ConvGeometry::square(p.k, p.stride);
    l.Ho = l.geometry.out_h(p.H), l.Wo = l.geometry.out_w(p.W);
    const int N = 3;
    std::vector<std::uint8_t> x(std::size_t(N) * p.H * p.W * p.C);
    for (auto& v : x) v = std::uint8_t(rng.uniform_int(256));
    std::vector<std::uint8_t> got(std::size_t(N) * l.Ho * l.Wo * p.C + 1, 7);
    integer::maxpool_codes(l, x.data(), N, got.data());
    std::size_t bad = 0;
    for (int n = 0; n < N; ++n)
      for (int oy = 0; oy < l.Ho; ++oy)
        for (int ox = 0; ox < l.Wo; ++ox)
          for (int c = 0; c < p.C; ++c) {
            int want = 0;
            for (int ky = 0; ky < p.k; ++ky)
              for (int kx = 0; kx < p.k; ++kx) {
                const int iy = oy * p.stride + ky, ix = ox * p.stride + kx;
                want = std::max<int>(want, x[((std::size_t(n) * p.H + iy) * p.W + ix) * p.C + c]);
              }
            bad += got[((std::size_t(n) * l.Ho + oy) * l.Wo + ox) * p.C + c] != want;
          }
    INFO("k " << p.k << " stride " << p.stride << " H " << p.H << " W " << p.W << " C " << p.C);
    CHECK(bad == 0);
    CHECK(got.back() == 7);
  }
}

TEST_CASE("a float layer's sums are the one-output-at-a-time sums, in either loop order",
          "[integer]") {
  // float_conv vectorises along a row (fewer than 8 output channels) or along the channels;
  // each output must still add its products in (ky, kx, ci) order, skipping padding taps.
  struct Case {
    int C_in, C_out, k, stride, pad, H, W;
  };
  const Case cases[] = {{1, 6, 5, 1, 2, 28, 28},   // LeNet-5's stem: along the row
                        {3, 4, 3, 2, 1, 11, 9},    // strided, odd sizes: along the row
                        {3, 16, 3, 1, 1, 8, 8},    // along the channels
                        {84, 10, 1, 1, 0, 1, 1}};  // a linear layer as a 1×1 convolution
  Rng rng(5);
  for (const Case& c : cases) {
    INFO("C_in " << c.C_in << " C_out " << c.C_out << " k " << c.k << " stride " << c.stride);
    integer::Layer l;
    l.kind = integer::Layer::Kind::floating;
    l.H = c.H, l.W = c.W, l.C_in = c.C_in, l.C_out = c.C_out;
    l.geometry = int8::ConvGeometry::square(c.k, c.stride, c.pad);
    l.Ho = l.geometry.out_h(c.H), l.Wo = l.geometry.out_w(c.W);
    l.float_weight.resize(std::size_t(c.C_out) * c.k * c.k * c.C_in);
    for (float& v : l.float_weight) v = float(rng.normal());
    for (int o = 0; o < c.C_out; ++o) l.float_bias.push_back(float(rng.normal()));
    const int N = 2;
    std::vector<float> x(std::size_t(N) * c.H * c.W * c.C_in);
    for (float& v : x) v = float(rng.normal());
    std::vector<float> got(std::size_t(N) * l.Ho * l.Wo * c.C_out), want(got.size());
    integer::float_conv(l, x.data(), N, got.data());
    const auto& g = l.geometry;
    for (int n = 0; n < N; ++n)
      for (int oy = 0; oy < l.Ho; ++oy)
        for (int ox = 0; ox < l.Wo; ++ox)
          for (int co = 0; co < c.C_out; ++co) {
            float s = 0.0f;
            for (int ky = 0; ky < g.kh; ++ky)
              for (int kx = 0; kx < g.kw; ++kx) {
                const int iy = oy * g.stride_h + ky - g.pad_top;
                const int ix = ox * g.stride_w + kx - g.pad_left;
                if (iy < 0 || iy >= c.H || ix < 0 || ix >= c.W) continue;
                for (int ci = 0; ci < c.C_in; ++ci)
                  s = std::fma(
                      x[((std::size_t(n) * c.H + iy) * c.W + ix) * c.C_in + ci],
                      l.float_weight[((std::size_t(co) * g.kh + ky) * g.kw + kx) * c.C_in + ci], s);
              }
            want[((std::size_t(n) * l.Ho + oy) * l.Wo + ox) * c.C_out + co] = s + l.float_bias[co];
          }
    CHECK(got == want);
  }
}
