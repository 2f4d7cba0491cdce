// The integer training path (APT, issue 17): Linear and Conv2d with APT's hooks on
// `gemm: integer` against the same layers on `gemm: fake-quant` (float GEMMs of the same
// fixed-point values) — forward, dx and dW — and against exact sums. Its int16 GEMM:
// test_gemm_s16.cpp.
//
// Exactness: with 8-bit operands and these sizes every float partial sum is a multiple of the
// step below 2^24 steps (|code| ≤ 128, so |product| ≤ 2^14, and K ≤ 2^9), so the float GEMMs
// are exact too and both paths must agree bit for bit. With 16-bit operands the float sums
// round; there the integer path is checked against float(the exact sum, in double), equal bit
// for bit: every integer-path output (y, dx, dW; Conv2d's dx summed over kernel taps in int64
// too) is its exact sum rounded once.
#include "engine/fixed_point_gemm.h"
#include "engine/layers/conv2d.h"
#include "engine/layers/conv2d_fixed.h"
#include "engine/layers/linear.h"
#include "methods/apt.h"
#include "methods/qat.h"
#include "methods/registry.h"
#include "tests/support.h"

#include <catch2/catch.hpp>

#include <cmath>
#include <random>
#include <tuple>
#include <utility>
#include <vector>

using namespace qb;

TEST_CASE("fixed_path: int8 up to 8 bits, int16 up to 16, float beyond", "[fixed]") {
  const FixedPoint b8{8, -3}, b16{16, -9}, b24{24, -20};
  CHECK(fixed_path(b8, b8) == FixedPath::int8);
  CHECK(fixed_path(b8, b16) == FixedPath::int16);
  CHECK(fixed_path(b16, b16) == FixedPath::int16);
  CHECK(fixed_path(b16, b24) == FixedPath::none);
  CHECK(fixed_path(b8, std::nullopt) == FixedPath::none);
}

namespace {

// APT's three hooks on `layer`, each starting at `bits`, multiplying on `gemm`.
template <class L>
LayerQuantizers attach_apt(L& layer, int bits, const char* gemm) {
  QuantSettings s;
  s.wbits = s.abits = s.gbits = bits;
  s.options = {{"gemm", gemm}};
  const LayerQuantizers q = make_method("apt")->make_layer(layer.info(), s);
  REQUIRE((q.weight && q.input && q.grad));
  layer.set_hook(HookSlot::weight, q.weight);
  layer.set_hook(HookSlot::input, q.input);
  layer.set_hook(HookSlot::grad, q.grad);
  return q;
}

Tensor random_tensor(const Shape& shape, float scale, std::uint64_t seed) {
  Tensor t = Tensor::from_shape(shape);
  std::mt19937 rng{std::uint32_t(seed)};
  std::normal_distribution<float> d(0.0f, scale);
  for (auto& v : t) v = d(rng);
  return t;
}

struct Pass {
  std::vector<float> y, dx, dw;
};

// One forward and backward of `layer` on x, dy (weights set from w).
template <class L>
Pass run(L& layer, const Tensor& w, const Tensor& x, const Tensor& dy) {
  std::copy(w.begin(), w.end(), layer.weight().value.begin());
  layer.weight().zero_grad();
  const Tensor& y = layer.forward(x, true);
  Pass p{{y.begin(), y.end()}, {}, {}};
  const Tensor& dx = layer.backward(dy);
  p.dx.assign(dx.begin(), dx.end());
  p.dw.assign(layer.weight().grad.begin(), layer.weight().grad.end());
  return p;
}

// The fixed-point value of what a hook saw: its output, recomputed from its grid.
std::vector<double> on_grid(const Quantizer& q, const Tensor& x) {
  const Grid g = q.grid();
  std::vector<float> out(x.size());
  apt::fixed_point_quantize(x.data(), out.data(), x.size(), g.bits, g.pow2_exponent.at(0));
  return {out.begin(), out.end()};
}

// The exact sums of a k×k, padding-1, stride-s convolution of grid values xq (N, C, H, W) with
// wq (O, C, k, k): y, and, given dyq, dx and dW.
struct ExactConv {
  std::vector<double> y, dx, dw;
};
ExactConv exact_conv(const std::vector<double>& xq, const std::vector<double>& wq,
                     const std::vector<double>* dyq, std::size_t N, std::size_t C, std::size_t H,
                     std::size_t W, std::size_t O, std::size_t k, std::size_t s) {
  const std::size_t Ho = (H + 2 - k) / s + 1, Wo = (W + 2 - k) / s + 1;
  ExactConv e{std::vector<double>(N * O * Ho * Wo, 0.0), std::vector<double>(N * C * H * W, 0.0),
              std::vector<double>(O * C * k * k, 0.0)};
  for (std::size_t n = 0; n < N; ++n)
    for (std::size_t o = 0; o < O; ++o)
      for (std::size_t oh = 0; oh < Ho; ++oh)
        for (std::size_t ow = 0; ow < Wo; ++ow)
          for (std::size_t c = 0; c < C; ++c)
            for (std::size_t i = 0; i < k; ++i)
              for (std::size_t j = 0; j < k; ++j) {
                const long ih = long(oh * s + i) - 1, iw = long(ow * s + j) - 1;
                if (ih < 0 || iw < 0 || ih >= long(H) || iw >= long(W)) continue;
                const std::size_t xi = ((n * C + c) * H + std::size_t(ih)) * W + std::size_t(iw);
                const std::size_t wi = ((o * C + c) * k + i) * k + j;
                const std::size_t yi = ((n * O + o) * Ho + oh) * Wo + ow;
                e.y[yi] += xq[xi] * wq[wi];
                if (!dyq) continue;
                e.dx[xi] += (*dyq)[yi] * wq[wi];
                e.dw[wi] += (*dyq)[yi] * xq[xi];
              }
  return e;
}

// got[i] == float(exact[i]): the exact sum, rounded once.
void check_exact(const std::vector<float>& got, const std::vector<double>& exact) {
  REQUIRE(got.size() == exact.size());
  for (std::size_t i = 0; i < got.size(); ++i) {
    INFO("element " << i << ": " << got[i] << " vs " << exact[i]);
    CHECK(got[i] == float(exact[i]));
  }
}

}  // namespace

TEST_CASE("integer path: Linear equals the fake-quant path at 8 bits", "[fixed][apt]") {
  const std::size_t N = 8, in = 64, out = 16;
  Linear a("fc", in, out, true), b("fc", in, out, true);
  const LayerQuantizers q = attach_apt(a, 8, "integer");
  attach_apt(b, 8, "fake-quant");
  const Tensor w = random_tensor({out, in}, 0.2f, 1), x = random_tensor({N, in}, 1.0f, 2),
               dy = random_tensor({N, out}, 0.01f, 3);
  const Pass pi = run(a, w, x, dy), pf = run(b, w, x, dy);
  REQUIRE(q.grad->grid().bits == 8);
  REQUIRE(q.input->grid().bits == 8);
  CHECK(a.gemm_counts()[FixedPath::int8] == 3);  // y, dx and dW on the int8 kernels
  CHECK(b.gemm_counts()[FixedPath::none] == 3);  // and on the float GEMM
  CHECK(pi.y == pf.y);
  CHECK(pi.dx == pf.dx);
  CHECK(pi.dw == pf.dw);
  CHECK(pi.y != std::vector<float>(pi.y.size(), 0.0f));
}

TEST_CASE("integer path: Conv2d equals the fake-quant path at 8 bits", "[fixed][apt]") {
  for (const std::size_t stride : {1u, 2u})
    for (const std::size_t groups : {1u, 2u}) {
      INFO("stride " << stride << " groups " << groups);
      const Conv2dSpec spec{4, 6, 3, stride, 1, groups, true};
      Conv2d a("conv", spec), b("conv", spec);
      const LayerQuantizers q = attach_apt(a, 8, "integer");
      attach_apt(b, 8, "fake-quant");
      const Tensor w = random_tensor(a.info().weight_shape, 0.3f, 4),
                   x = random_tensor({3, 4, 7, 7}, 1.0f, 5);
      const Tensor dy = random_tensor(a.output_shape({3, 4, 7, 7}), 0.01f, 6);
      const Pass pi = run(a, w, x, dy), pf = run(b, w, x, dy);
      REQUIRE(q.grad->grid().bits == 8);
      REQUIRE(q.input->grid().bits == 8);
      CHECK(a.gemm_counts()[FixedPath::int8] == 3);
      CHECK(b.gemm_counts()[FixedPath::none] == 3);
      CHECK(pi.y == pf.y);
      CHECK(pi.dx == pf.dx);
      CHECK(pi.dw == pf.dw);
    }
}

TEST_CASE("integer path: 16-bit Linear sums exactly, rounds once", "[fixed][apt]") {
  const std::size_t N = 8, in = 40, out = 12;
  Linear a("fc", in, out, false);
  const LayerQuantizers q = attach_apt(a, 16, "integer");
  const Tensor w = random_tensor({out, in}, 0.2f, 7), x = random_tensor({N, in}, 1.0f, 8),
               dy = random_tensor({N, out}, 0.01f, 9);
  const Pass p = run(a, w, x, dy);
  REQUIRE(q.grad->grid().bits == 16);
  CHECK(a.gemm_counts()[FixedPath::int16] == 3);
  const auto xq = on_grid(*q.input, x), wq = on_grid(*q.weight, w), dyq = on_grid(*q.grad, dy);
  std::vector<double> y(N * out, 0.0), dx(N * in, 0.0), dw(out * in, 0.0);
  for (std::size_t n = 0; n < N; ++n)
    for (std::size_t o = 0; o < out; ++o)
      for (std::size_t i = 0; i < in; ++i) {
        y[n * out + o] += xq[n * in + i] * wq[o * in + i];
        dx[n * in + i] += dyq[n * out + o] * wq[o * in + i];
        dw[o * in + i] += dyq[n * out + o] * xq[n * in + i];
      }
  check_exact(p.y, y);
  check_exact(p.dx, dx);
  check_exact(p.dw, dw);
}

// The int8 forward of an ungrouped convolution reads patches straight from the image
// (conv2d_fixed.h): exact sums on a layer with ResNet-20's channel counts, stride 2, padding.
TEST_CASE("integer path: 8-bit Conv2d forward from image patches sums exactly", "[fixed][apt]") {
  const std::size_t N = 2, C = 16, H = 9, W = 9, O = 32, k = 3, s = 2;
  const Conv2dSpec spec{C, O, k, s, 1, 1, false};
  Conv2d a("conv", spec);
  const LayerQuantizers q = attach_apt(a, 8, "integer");
  const Tensor w = random_tensor(a.info().weight_shape, 0.3f, 13),
               x = random_tensor({N, C, H, W}, 1.0f, 14);
  const Tensor dy = random_tensor(a.output_shape({N, C, H, W}), 0.01f, 15);
  const Pass p = run(a, w, x, dy);
  REQUIRE(q.input->grid().bits == 8);
  REQUIRE(q.weight->grid().bits == 8);
  const auto xq = on_grid(*q.input, x), wq = on_grid(*q.weight, w);
  check_exact(p.y, exact_conv(xq, wq, nullptr, N, C, H, W, O, k, s).y);
}

TEST_CASE("integer path: 16-bit Conv2d sums exactly, rounds once", "[fixed][apt]") {
  // Stride 1 and 16 input channels: dx as the convolution of dy with the flipped filters;
  // stride 2, or 3 channels: dx by col2im.
  for (const auto& [s, C] : {std::pair{1u, 16u}, std::pair{1u, 3u}, std::pair{2u, 16u}}) {
    INFO("stride " << s << ", " << C << " input channels");
    const Conv2dSpec spec{C, 5, 3, s, 1, 1, false};
    Conv2d a("conv", spec);
    const LayerQuantizers q = attach_apt(a, 16, "integer");
    const std::size_t N = 2, H = 7, W = 6, O = 5, k = 3;
    const std::size_t Ho = (H + 2 - k) / s + 1, Wo = (W + 2 - k) / s + 1;
    const Tensor w = random_tensor(a.info().weight_shape, 0.3f, 10),
                 x = random_tensor({N, C, H, W}, 1.0f, 11);
    const Tensor dy = random_tensor({N, O, Ho, Wo}, 0.01f, 12);
    const Pass p = run(a, w, x, dy);
    REQUIRE(q.grad->grid().bits == 16);
    CHECK(a.gemm_counts()[FixedPath::int16] == 3);
    const auto xq = on_grid(*q.input, x), wq = on_grid(*q.weight, w), dyq = on_grid(*q.grad, dy);
    const ExactConv e = exact_conv(xq, wq, &dyq, N, C, H, W, O, k, s);
    check_exact(p.y, e.y);
    check_exact(p.dw, e.dw);
    check_exact(p.dx, e.dx);
  }
}

// The kernels of conv2d_fixed.h called directly, on codes: dW with the images split into
// chunks along the reduction (one image a GEMM, two with a short last chunk, all at once), and
// dx, at 8 bits and with 16-bit gradients; each equal to the exact sums rounded once.
TEST_CASE("integer path: Conv2d dW sums exactly in every chunking of the images", "[fixed][apt]") {
  const std::size_t N = 5, C = 16, H = 4, O = 8, k = 3;
  std::mt19937 rng{17};
  // Widths whose stride-1 rows are runs of every length class of the gather's copies (bytes:
  // below 4, 4–7, 8–15, 16–31, 32–64, beyond), at 8 and 16 bits.
  for (const std::size_t W : {2u, 5u, 20u, 40u})
    for (const std::size_t s : {1u, 2u})
      for (const int gbits : {8, 16}) {
        const Conv2dGeometry q = conv2d_geometry(N, C, H, W, O, k, s, 1, 1);
        const FixedPoint fx{8, -5}, fw{8, -7}, fdy{gbits, gbits == 8 ? -12 : -20};
        const int glim = (1 << (gbits - 1)) - 1;
        const auto on_grid = [&](std::size_t n, int lim, FixedPoint f) {
          std::uniform_int_distribution<int> d(-lim - 1, lim);
          std::vector<float> v(n);
          for (auto& e : v) e = std::ldexp(float(d(rng)), f.shift);
          return v;
        };
        const auto x = on_grid(N * C * H * W, 127, fx), w = on_grid(O * C * k * k, 127, fw),
                   dy = on_grid(N * O * q.HWo, glim, fdy);
        const std::vector<double> xd(x.begin(), x.end()), wd(w.begin(), w.end()),
            dyd(dy.begin(), dy.end());
        const ExactConv e = exact_conv(xd, wd, &dyd, N, C, H, W, O, k, s);
        const FixedPath path = gbits == 8 ? FixedPath::int8 : FixedPath::int16;
        for (const std::size_t columns : {std::size_t(1), 2 * q.HWo + 1, std::size_t(4096)}) {
          INFO("width " << W << ", stride " << s << ", " << gbits << "-bit gradients, dw_columns "
                        << columns);
          Conv2dFixedScratch scratch;
          scratch.dw_columns = columns;
          std::vector<float> dw(w.size(), 0.0f), dx(x.size(), -1.0f);
          conv2d_weight_grad_fixed(dw.data(), dy.data(), fdy, x.data(), fx, path, q, scratch);
          check_exact(dw, e.dw);
          conv2d_data_grad_fixed(dx.data(), dy.data(), fdy, w.data(), fw, path, q, scratch);
          check_exact(dx, e.dx);
        }
      }
}

TEST_CASE("apt refuses an unknown gemm", "[fixed][apt]") {
  QuantizerSpec spec;
  spec.role = QuantRole::weight;
  spec.bits = 8;
  spec.options = {{"gemm", "integr"}};
  CHECK_THROWS_WITH(make_method("apt")->make_checked(spec),
                    Catch::StartsWith("options.gemm") && Catch::Contains("integer"));
}

// The integer path trains (and learns) and resumes bit for bit: the controllers' state, and so
// every layer's kernel choice, travels with the checkpoint.
TEST_CASE("integer path: training resumes bit for bit", "[fixed][apt][checkpoint]") {
  const test::TempDir tmp;
  Progress quiet = Progress::silent();
  QatConfig q{"apt", {}};
  q.settings.wbits = q.settings.abits = q.settings.gbits = 8;
  q.settings.options = {{"gemm", "integer"}};
  TrainConfig c = test::synthetic_lenet();
  c.quantization = to_json(q);
  const nlohmann::json full = train(c, quiet, make_qat(q));
  CHECK(full.at("test_accuracy").get<double>() > 0.5);
  const nlohmann::json again =
      test::train_killed_and_resumed(c, q, 1, (tmp.path / "apt-int.h5").string());
  CHECK(again.at("test_accuracy") == full.at("test_accuracy"));
  CHECK(again.at("test_loss") == full.at("test_loss"));
  CHECK(again.at("layers") == full.at("layers"));
}
