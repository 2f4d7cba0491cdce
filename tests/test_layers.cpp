// Layer tests: every layer's gradients against finite differences, convolution against a
// naive direct loop, BatchNorm's two modes, and the hook slots.
#include "engine/check.h"
#include "engine/layers/activation.h"
#include "engine/layers/batchnorm.h"
#include "engine/layers/conv2d.h"
#include "engine/layers/flatten.h"
#include "engine/layers/folded_conv_bn.h"
#include "engine/layers/linear.h"
#include "engine/layers/pooling.h"
#include "engine/layers/residual.h"
#include "engine/layers/sequential.h"
#include "engine/parallel.h"
#include "engine/rng.h"
#include "tests/gradcheck.h"

#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>

using namespace qb;
using namespace qb::test;

namespace {

void randomize_params(Layer& l, std::uint64_t seed) {
  std::vector<Param*> ps;
  l.collect_params(ps);
  for (Param* p : ps) fill_normal(p->value, seed++, 0.5f);
}

// y[n,o,oh,ow] = b[o] + Σ_{c in group, i, j} x[n, c, oh·s−p+i, ow·s−p+j] · w[o, c', i, j]
Tensor naive_conv(const Tensor& x, const Tensor& w, const float* b, const Conv2dSpec& sp) {
  const std::size_t N = x.shape()[0], C = x.shape()[1], H = x.shape()[2], W = x.shape()[3];
  const std::size_t O = sp.out_channels, k = sp.kernel, s = sp.stride, p = sp.padding;
  const std::size_t Ho = (H + 2 * p - k) / s + 1, Wo = (W + 2 * p - k) / s + 1;
  const std::size_t Cg = C / sp.groups, Og = O / sp.groups;
  Tensor y = Tensor::from_shape({N, O, Ho, Wo});
  for (std::size_t n = 0; n < N; ++n)
    for (std::size_t o = 0; o < O; ++o)
      for (std::size_t oh = 0; oh < Ho; ++oh)
        for (std::size_t ow = 0; ow < Wo; ++ow) {
          double acc = b ? b[o] : 0.0;
          const std::size_t g = o / Og;
          for (std::size_t c = 0; c < Cg; ++c)
            for (std::size_t i = 0; i < k; ++i)
              for (std::size_t j = 0; j < k; ++j) {
                const long ih = long(oh * s + i) - long(p), iw = long(ow * s + j) - long(p);
                if (ih < 0 || iw < 0 || ih >= long(H) || iw >= long(W)) continue;
                acc += double(x(n, g * Cg + c, ih, iw)) * w(o, c, i, j);
              }
          y(n, o, oh, ow) = float(acc);
        }
  return y;
}

struct ConvCase {
  std::size_t C, O, k, s, p, g, H, W;
  bool bias;
};

const ConvCase kConvCases[] = {
    {3, 4, 3, 1, 1, 1, 7, 6, true},    // same padding, odd sizes
    {2, 6, 5, 1, 2, 1, 8, 8, false},   // LeNet-like 5×5
    {4, 4, 3, 2, 1, 1, 9, 9, false},   // stride 2
    {4, 6, 3, 2, 0, 2, 9, 8, true},    // grouped, no padding
    {6, 6, 3, 1, 1, 6, 6, 6, false},   // depthwise
    {5, 5, 3, 2, 1, 5, 7, 7, true},    // depthwise, stride 2
    {8, 4, 1, 1, 0, 1, 5, 5, false},   // pointwise (no im2col)
    {3, 2, 1, 2, 0, 1, 6, 6, false},   // 1×1 stride 2 (im2col)
    {2, 3, 3, 3, 2, 1, 8, 7, false},   // stride 3, padding 2
    {16, 6, 3, 1, 2, 2, 6, 5, false},  // grouped, padding k−1 (dx as a flipped convolution)
    {4, 6, 3, 2, 1, 2, 9, 8, true},    // grouped, stride 2, padding (dx by col2im)
};

}  // namespace

TEST_CASE("conv2d matches a naive direct convolution", "[layers][conv]") {
  for (int threads : {1, 2}) {
    set_threads(threads);
    for (const auto& c : kConvCases) {
      Conv2dSpec sp{c.C, c.O, c.k, c.s, c.p, c.g, c.bias};
      Conv2d conv("conv", sp);
      randomize_params(conv, 3);
      Tensor x = Tensor::from_shape({3, c.C, c.H, c.W});
      fill_normal(x, 4);
      const Tensor& y = conv.forward(x, true);
      const Tensor ref =
          naive_conv(x, conv.weight().value, c.bias ? conv.bias()->value.data() : nullptr, sp);
      REQUIRE(y.shape() == ref.shape());
      for (std::size_t i = 0; i < y.size(); ++i)
        REQUIRE(y.data()[i] == Approx(ref.data()[i]).margin(1e-5).epsilon(1e-5));
    }
  }
  set_threads(1);
}

TEST_CASE("conv2d gradients match finite differences", "[layers][conv][gradcheck]") {
  for (int threads : {1, 2}) {
    set_threads(threads);
    for (const auto& c : kConvCases) {
      Conv2d conv("conv", {c.C, c.O, c.k, c.s, c.p, c.g, c.bias});
      randomize_params(conv, 5);
      auto r = check_layer(conv, {2, c.C, c.H, c.W});
      INFO("C=" << c.C << " O=" << c.O << " k=" << c.k << " s=" << c.s << " p=" << c.p
                << " g=" << c.g << " threads=" << threads << "\n"
                << r.report);
      CHECK(r.ok);
      CHECK(r.checked > 0);
    }
  }
  set_threads(1);
}

TEST_CASE("linear gradients match finite differences", "[layers][gradcheck]") {
  for (bool bias : {true, false}) {
    Linear fc("fc", 7, 5, bias);
    randomize_params(fc, 6);
    auto r = check_layer(fc, {4, 7});
    INFO(r.report);
    CHECK(r.ok);
  }
  Linear big("fc", 40, 33);  // enough rows to split across threads
  randomize_params(big, 7);
  set_threads(2);
  auto r = check_layer(big, {17, 40});
  set_threads(1);
  INFO(r.report);
  CHECK(r.ok);
}

TEST_CASE("batchnorm gradients in training and evaluation mode", "[layers][bn][gradcheck]") {
  for (bool training : {true, false}) {
    for (Shape s : {Shape{4, 3, 5, 5}, Shape{2, 2, 1, 1}, Shape{8, 5, 3, 2}}) {
      BatchNorm2d bn("bn", s[1]);
      fill_normal(bn.gamma().value, 8, 1.0f);
      fill_normal(bn.beta().value, 9, 1.0f);
      fill_normal(bn.running_mean().value, 10, 0.3f);
      for (auto& v : bn.running_var().value) v = 0.5f + std::abs(v);
      GradCheckOptions opt;
      opt.training = training;
      opt.step = 1e-2f;
      auto r = check_layer(bn, s, opt);
      INFO("training=" << training << " shape=" << to_string(s) << "\n" << r.report);
      CHECK(r.ok);
    }
  }
}

// Sequential runs a BatchNorm2d and the activation after it as one layer forward
// (BatchNorm2d::forward_activated); the same two layers called one after the other must give
// the same bits: outputs, dL/dx, dγ, dβ and the running statistics.
TEST_CASE("batchnorm fused with its activation: the same bits as the two layers apart",
          "[layers][bn]") {
  for (const LayerKind kind : {LayerKind::relu, LayerKind::relu6})
    for (const bool training : {true, false})
      for (const int threads : {1, 2}) {
        INFO("relu6 " << (kind == LayerKind::relu6) << " training " << training << " threads "
                      << threads);
        set_threads(threads);
        const Shape s{6, 5, 7, 9};
        Sequential fused("s");
        auto& bn = fused.emplace<BatchNorm2d>("bn", s[1]);
        fused.emplace<Activation>("act", kind);
        BatchNorm2d bn_apart("bn", s[1]);
        Activation act_apart("act", kind);
        for (BatchNorm2d* b : {&bn, &bn_apart}) {
          fill_normal(b->gamma().value, 8, 1.0f);
          fill_normal(b->beta().value, 9, 1.0f);
          fill_normal(b->running_mean().value, 10, 0.3f);
          for (auto& v : b->running_var().value) v = 0.5f + std::abs(v);
          b->gamma().value(0) = 5.0f;  // channel 0 reaches past 6: ReLU6 clips it there
        }
        Tensor x = Tensor::from_shape(s), dy = Tensor::from_shape(s);
        fill_normal(x, 11, 4.0f);
        fill_normal(dy, 12, 1.0f);
        const Tensor y = fused.forward(x, training);
        const Tensor y_apart = act_apart.forward(bn_apart.forward(x, training), training);
        CHECK(bool(y == y_apart));
        CHECK(std::count(y.begin(), y.end(), 0.0f) > 0);
        if (kind == LayerKind::relu6) CHECK(std::count(y.begin(), y.end(), 6.0f) > 0);
        const Tensor dx = fused.backward(dy);
        const Tensor dx_apart = bn_apart.backward(act_apart.backward(dy));
        CHECK(bool(dx == dx_apart));
        CHECK(bool(bn.gamma().grad == bn_apart.gamma().grad));
        CHECK(bool(bn.beta().grad == bn_apart.beta().grad));
        CHECK(bool(bn.running_mean().value == bn_apart.running_mean().value));
        CHECK(bool(bn.running_var().value == bn_apart.running_var().value));
      }
  set_threads(1);
}

// The same for a residual block and the ReLU after its sum (Residual::forward_activated).
TEST_CASE("residual block fused with its activation: the same bits as apart", "[layers]") {
  const auto block = [] {
    auto main = std::make_unique<Sequential>("main");
    main->emplace<Conv2d>("c1", Conv2dSpec{3, 6, 3, 2, 1, 1, false});
    main->emplace<BatchNorm2d>("bn", 6);
    auto r = std::make_unique<Residual>("res", std::move(main),
                                        std::make_unique<ShortcutPad>("sc", 3, 6, 2));
    randomize_params(*r, 13);
    return r;
  };
  Sequential fused("s");
  fused.add(block());
  fused.emplace<Activation>("act", LayerKind::relu);
  auto apart = block();
  Activation act_apart("act", LayerKind::relu);
  Tensor x = Tensor::from_shape({3, 3, 7, 7}), dy = Tensor::from_shape({3, 6, 4, 4});
  fill_normal(x, 14);
  fill_normal(dy, 15);
  const Tensor y = fused.forward(x, true);
  const Tensor y_apart = act_apart.forward(apart->forward(x, true), true);
  CHECK(bool(y == y_apart));
  CHECK(std::count(y.begin(), y.end(), 0.0f) > 0);
  CHECK(bool(fused.backward(dy) == apart->backward(act_apart.backward(dy))));
}

TEST_CASE("batchnorm: batch statistics in training, running statistics in evaluation",
          "[layers][bn]") {
  BatchNorm2d bn("bn", 2, /*momentum=*/0.25f);
  Tensor x = Tensor::from_shape({3, 2, 2, 2});
  fill_normal(x, 11, 2.0f);
  x += 1.0f;
  const Tensor y = bn.forward(x, true);
  for (std::size_t c = 0; c < 2; ++c) {
    double mean = 0, sq = 0, ymean = 0, ysq = 0;
    for (std::size_t n = 0; n < 3; ++n)
      for (std::size_t i = 0; i < 4; ++i) {
        const double v = x(n, c, i / 2, i % 2), w = y(n, c, i / 2, i % 2);
        mean += v;
        sq += v * v;
        ymean += w;
        ysq += w * w;
      }
    mean /= 12;
    const double var = sq / 12 - mean * mean;
    CHECK(ymean / 12 == Approx(0.0).margin(1e-5));  // normalised with batch stats
    CHECK(ysq / 12 == Approx(var / (var + 1e-5)).epsilon(1e-4));
    CHECK(bn.running_mean().value(c) == Approx(0.25 * mean).epsilon(1e-5));
    CHECK(bn.running_var().value(c) == Approx(0.75 + 0.25 * var * 12 / 11).epsilon(1e-5));
  }
  // Evaluation uses the running statistics, and does not update them.
  const Tensor rm = bn.running_mean().value, rv = bn.running_var().value;
  const Tensor ye = bn.forward(x, false);
  for (std::size_t c = 0; c < 2; ++c)
    CHECK(ye(0, c, 0, 0) ==
          Approx((x(0, c, 0, 0) - rm(c)) / std::sqrt(rv(c) + 1e-5)).epsilon(1e-5));
  CHECK(bool(bn.running_mean().value == rm));
}

TEST_CASE("activation, pooling and flatten gradients", "[layers][gradcheck]") {
  Activation relu("relu", LayerKind::relu), relu6("relu6", LayerKind::relu6);
  CHECK(check_layer(relu, {2, 3, 4, 4}).ok);
  Tensor x = Tensor::from_shape({2, 3, 4, 4});
  fill_away_from_zero(x, 12);
  x *= 8.0f;  // reach past 6; values stay ≥ 0.4 away from 0 and, by the draw, from 6
  for (auto& v : x)
    if (std::abs(v - 6.0f) < 0.1f) v += 0.2f;
  CHECK(check_layer_at(relu6, x).ok);
  Pool2d maxp("max", LayerKind::maxpool, 2, 2), maxo("max3", LayerKind::maxpool, 3, 2);
  Pool2d avgp("avg", LayerKind::avgpool, 2, 2), avgo("avg3", LayerKind::avgpool, 3, 1);
  GlobalAvgPool gap("gap");
  Flatten flat("flat");
  // Distinct values 0.03 apart (> 2 steps), shuffled: no max-pool window has a near tie.
  Tensor distinct = Tensor::from_shape({2, 3, 7, 6});
  std::vector<std::size_t> order(distinct.size());
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
  Rng rng(20);
  for (std::size_t i = order.size(); i > 1; --i) std::swap(order[i - 1], order[rng.uniform_int(i)]);
  for (std::size_t i = 0; i < order.size(); ++i)
    distinct.data()[i] = 0.03f * float(order[i]) - 3.0f;
  for (Layer* l : std::initializer_list<Layer*>{&maxp, &maxo, &avgp, &avgo, &gap, &flat}) {
    auto r = check_layer_at(*l, distinct);
    INFO(l->name() << "\n" << r.report);
    CHECK(r.ok);
  }
}

TEST_CASE("2×2 max pooling: the first of equal values wins, NaN windows keep their first",
          "[layers]") {
  // Ties everywhere (three values) and some NaNs, on rows whose Wo (14, 5) fill a vector and
  // leave a tail: the vectorised row must pick what the plain strict-> scan picks.
  // Each side twice on one layer: the second backward must overwrite every dx of the first
  // (28 and 10 take the path that writes dx without zeroing it).
  Pool2d pool("max", LayerKind::maxpool, 2, 2);
  std::size_t draw = 0;
  for (const std::size_t side : {28u, 28u, 10u, 10u, 11u, 11u}) {
    INFO("side " << side);
    Tensor x = Tensor::from_shape({2, 3, side, side});
    Rng rng(side + ++draw);
    for (auto& v : x) v = float(rng.uniform_int(3));
    for (std::size_t i = 0; i < x.size(); i += 37) x.data()[i] = std::nanf("");
    const Tensor& y = pool.forward(x, true);
    const std::size_t Ho = side / 2, Wo = side / 2;
    std::vector<std::size_t> want_arg;
    bool same = true;
    for (std::size_t pl = 0; pl < 6; ++pl)
      for (std::size_t oh = 0; oh < Ho; ++oh)
        for (std::size_t ow = 0; ow < Wo; ++ow) {
          const std::size_t base = pl * side * side + 2 * oh * side + 2 * ow;
          std::size_t best = base;
          for (const std::size_t d : {std::size_t(1), side, side + 1})
            if (x.data()[base + d] > x.data()[best]) best = base + d;
          want_arg.push_back(best);
          const float got = y.data()[(pl * Ho + oh) * Wo + ow], want = x.data()[best];
          same = same && (got == want || (std::isnan(got) && std::isnan(want)));
        }
    CHECK(same);
    // The gradient goes to the chosen element: each window's dy lands at want_arg.
    Tensor dy = Tensor::from_shape(shape_of(y));
    for (std::size_t o = 0; o < dy.size(); ++o) dy.data()[o] = float(o + 1);
    const Tensor& dx = pool.backward(dy);
    std::vector<float> want_dx(x.size(), 0.0f);
    for (std::size_t o = 0; o < want_arg.size(); ++o) want_dx[want_arg[o]] += float(o + 1);
    CHECK(std::equal(want_dx.begin(), want_dx.end(), dx.data()));
  }
}

TEST_CASE("residual block with option-A shortcut", "[layers][gradcheck]") {
  auto main = std::make_unique<Sequential>("main");
  main->emplace<Conv2d>("c1", Conv2dSpec{3, 6, 3, 2, 1, 1, false});
  main->emplace<BatchNorm2d>("bn", 6);  // no ReLU here: BN outputs sit near its kink
  Residual block("res", std::move(main), std::make_unique<ShortcutPad>("sc", 3, 6, 2));
  randomize_params(block, 13);
  CHECK(block.output_shape({2, 3, 7, 7}) == Shape{2, 6, 4, 4});
  auto r = check_layer(block, {2, 3, 7, 7});
  INFO(r.report);
  CHECK(r.ok);

  // The shortcut places input channel c at c + (6 − 3)/2 and subsamples by the stride.
  ShortcutPad sc("sc", 3, 6, 2);
  Tensor x = Tensor::from_shape({1, 3, 4, 4});
  fill_normal(x, 14);
  const Tensor& y = sc.forward(x, true);
  CHECK(y(0, 0, 0, 0) == 0.0f);
  CHECK(y(0, 1, 1, 1) == x(0, 0, 2, 2));
  CHECK(y(0, 3, 0, 1) == x(0, 2, 0, 2));
  CHECK(y(0, 5, 1, 0) == 0.0f);
}

namespace {

// Fake quantization onto 0.25·k, k ∈ [−4, 4], with the clipped straight-through estimator
// (dL/dx = dL/dx̂ inside [−1, 1], 0 outside): the smallest hook that quantizes. It counts its
// calls, so a test sees whether the input was quantized once or twice.
class GridHook final : public TensorHook {
 public:
  const Tensor& forward(const Tensor& x, bool) override {
    ++forwards;
    x_ = &x;
    ensure_shape(y_, shape_of(x));
    for (std::size_t i = 0; i < x.size(); ++i)
      y_.data()[i] = 0.25f * std::clamp(std::nearbyint(x.data()[i] / 0.25f), -4.0f, 4.0f);
    return y_;
  }
  const Tensor& backward(const Tensor& dy) override {
    ++backwards;
    ensure_shape(dx_, shape_of(dy));
    for (std::size_t i = 0; i < dy.size(); ++i)
      dx_.data()[i] = std::abs(x_->data()[i]) <= 1.0f ? dy.data()[i] : 0.0f;
    return dx_;
  }
  int forwards = 0, backwards = 0;

 private:
  const Tensor* x_ = nullptr;
  Tensor y_, dx_;
};

void copy_params(Layer& from, Layer& to) {
  std::vector<Param*> a, b;
  from.collect_params(a);
  to.collect_params(b);
  REQUIRE(a.size() == b.size());
  for (std::size_t i = 0; i < a.size(); ++i) b[i]->value = a[i]->value;
}

}  // namespace

TEST_CASE("residual block: the shortcut adds the first layer's hooked input",
          "[layers][residual][hooks][gradcheck]") {
  // y = c1(s·x) + shortcut(s·x): the hook's scale s gets dL/dx̂ of both branches, which the
  // finite differences of s and x check.
  auto main = std::make_unique<Sequential>("main");
  Conv2d& c1 = main->emplace<Conv2d>("c1", Conv2dSpec{3, 6, 3, 2, 1, 1, false});
  main->emplace<BatchNorm2d>("bn", 6);
  c1.set_hook(HookSlot::input, std::make_shared<ScaleHook>(1.3f));
  Residual block("res", std::move(main), std::make_unique<ShortcutPad>("sc", 3, 6, 2));
  randomize_params(block, 21);
  auto r = check_layer(block, {2, 3, 7, 7});
  INFO(r.report);
  CHECK(r.ok);

  // Forward: the hooked block on x is the unhooked block on s·x, bit for bit.
  auto plain_main = std::make_unique<Sequential>("main");
  plain_main->emplace<Conv2d>("c1", Conv2dSpec{3, 6, 3, 2, 1, 1, false});
  plain_main->emplace<BatchNorm2d>("bn", 6);
  Residual plain("res", std::move(plain_main), std::make_unique<ShortcutPad>("sc", 3, 6, 2));
  std::vector<Param*> hooked_params;
  block.collect_params(hooked_params);
  std::vector<Param*> plain_params;
  plain.collect_params(plain_params);
  REQUIRE(hooked_params.size() == plain_params.size() + 1);  // + the hook's scale
  float s = 0.0f;  // the hook's scale, as randomize_params left it
  for (std::size_t i = 0, j = 0; i < hooked_params.size(); ++i)
    if (hooked_params[i]->role == ParamRole::quantizer)
      s = hooked_params[i]->value(0);
    else
      plain_params[j++]->value = hooked_params[i]->value;
  REQUIRE(s != 0.0f);
  std::vector<Buffer*> hooked_buffers, plain_buffers;  // BatchNorm's running statistics
  block.collect_buffers(hooked_buffers);
  plain.collect_buffers(plain_buffers);
  REQUIRE(hooked_buffers.size() == plain_buffers.size());
  for (std::size_t i = 0; i < hooked_buffers.size(); ++i)
    plain_buffers[i]->value = hooked_buffers[i]->value;
  Tensor x = Tensor::from_shape({2, 3, 7, 7});
  fill_normal(x, 22);
  const Tensor scaled = x * s;
  const Tensor y = block.forward(x, false);
  const Tensor& want = plain.forward(scaled, false);
  for (std::size_t i = 0; i < y.size(); ++i) REQUIRE(y.data()[i] == want.data()[i]);
}

TEST_CASE("residual block: quantized shortcut in closed form, the STE applied once",
          "[layers][residual][hooks]") {
  // y = c(q(x)) + q(x) and dL/dx = 1{|x| ≤ 1} ⊙ (cᵀ·dy + dy), for a plain convolution c and
  // for a convolution with BatchNorm folded after the block was built (as ALT's networks are).
  for (const bool folded : {false, true}) {
    INFO((folded ? "FoldedConvBn" : "Conv2d"));
    const Conv2dSpec spec{4, 4, 3, 1, 1, 1, false};
    auto main = std::make_unique<Sequential>("main");
    main->emplace<Conv2d>("c", spec);
    if (folded) main->emplace<BatchNorm2d>("bn", 4);
    Sequential* chain = main.get();
    Residual block("res", std::move(main));
    if (folded) {  // what Network::fold_batchnorm does
      std::unique_ptr<BatchNorm2d> bn(static_cast<BatchNorm2d*>(chain->release(1).release()));
      std::unique_ptr<Conv2d> conv(static_cast<Conv2d*>(chain->release(0).release()));
      chain->insert(0, std::make_unique<FoldedConvBn>(std::move(conv), std::move(bn)));
    }
    auto hook = std::make_shared<GridHook>();
    chain->at(0).set_hook(HookSlot::input, hook);
    randomize_params(block, 23);

    // The reference: the same first layer without a hook, run on q(x).
    LayerPtr ref = std::make_unique<Conv2d>("c", spec);
    if (folded) {  // frozen, both: the running statistics, deterministic
      auto f = std::make_unique<FoldedConvBn>(std::make_unique<Conv2d>("c", spec),
                                              std::make_unique<BatchNorm2d>("bn", 4));
      f->set_frozen(true);
      ref = std::move(f);
      static_cast<FoldedConvBn&>(chain->at(0)).set_frozen(true);
    }
    copy_params(chain->at(0), *ref);

    Tensor x = Tensor::from_shape({2, 4, 5, 5}), dy = Tensor::from_shape({2, 4, 5, 5});
    fill_normal(x, 24, 0.8f);  // about a fifth of the values beyond ±1: clipped
    fill_normal(dy, 25);
    const Tensor y = block.forward(x, true);
    const Tensor dx = block.backward(dy);
    CHECK(hook->forwards == 1);
    CHECK(hook->backwards == 1);

    GridHook q;
    const Tensor xq = q.forward(x, true);
    const Tensor& cy = ref->forward(xq, true);
    for (std::size_t i = 0; i < y.size(); ++i)
      REQUIRE(y.data()[i] == Approx(cy.data()[i] + xq.data()[i]).margin(1e-6));
    const Tensor& cdx = ref->backward(dy);
    std::size_t clipped = 0;
    for (std::size_t i = 0; i < dx.size(); ++i) {
      const bool inside = std::abs(x.data()[i]) <= 1.0f;
      clipped += !inside;
      const float want = inside ? cdx.data()[i] + dy.data()[i] : 0.0f;
      REQUIRE(dx.data()[i] == Approx(want).margin(1e-5));
    }
    CHECK(clipped > 0);
  }
}

TEST_CASE("weight and input hooks are differentiated through", "[layers][hooks][gradcheck]") {
  Conv2d conv("conv", {3, 4, 3, 1, 1, 1, true});
  Linear fc("fc", 6, 3);
  randomize_params(conv, 15);
  randomize_params(fc, 16);
  conv.set_hook(HookSlot::weight, std::make_shared<ScaleHook>(0.7f));
  conv.set_hook(HookSlot::input, std::make_shared<ScaleHook>(1.3f));
  fc.set_hook(HookSlot::weight, std::make_shared<ScaleHook>(-0.6f));
  fc.set_hook(HookSlot::input, std::make_shared<ScaleHook>(2.0f));
  std::vector<Param*> ps;
  conv.collect_params(ps);
  CHECK(ps.size() == 4);  // weight, bias, two hook scales
  auto r1 = check_layer(conv, {2, 3, 5, 5});
  INFO(r1.report);
  CHECK(r1.ok);
  auto r2 = check_layer(fc, {3, 6});
  INFO(r2.report);
  CHECK(r2.ok);
  Activation relu("relu", LayerKind::relu);
  CHECK_THROWS_AS(relu.set_hook(HookSlot::weight, nullptr), InternalError);
}

TEST_CASE("the gradient hook transforms dL/dy before it reaches the layer", "[layers][hooks]") {
  Linear plain("fc", 4, 3), hooked("fc", 4, 3);
  randomize_params(plain, 17);
  randomize_params(hooked, 17);
  hooked.set_hook(HookSlot::grad, std::make_shared<ScaleHook>(2.0f));
  Tensor x = Tensor::from_shape({2, 4}), dy = Tensor::from_shape({2, 3});
  fill_normal(x, 18);
  fill_normal(dy, 19);
  plain.forward(x, true);
  hooked.forward(x, true);
  const Tensor dx_plain = plain.backward(dy);
  const Tensor dx_hooked = hooked.backward(dy);
  for (std::size_t i = 0; i < dx_plain.size(); ++i)
    CHECK(dx_hooked.data()[i] == Approx(2.0f * dx_plain.data()[i]));
  for (std::size_t i = 0; i < plain.weight().grad.size(); ++i)
    CHECK(hooked.weight().grad.data()[i] == Approx(2.0f * plain.weight().grad.data()[i]));
}
