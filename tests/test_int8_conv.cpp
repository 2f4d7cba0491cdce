// int8 convolution: the reference on a hand-computed example, every path (im2col + GEMM per
// ISA, the 1×1 direct GEMM, depthwise scalar and AVX2) bit-exact against the reference on
// odd shapes, strides, asymmetric padding and extreme values, threads, the QB_MAX_ISA cap,
// and conv + requantisation against a real-valued computation.
#include "engine/check.h"
#include "engine/int8/conv.h"
#include "engine/int8/im2col.h"
#include "engine/int8/reference.h"
#include "engine/int8/requantize.h"
#include "engine/rng.h"
#include "tests/int8_isas.h"

#include <omp.h>
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <vector>

using namespace qb;
using namespace qb::int8;

namespace {

enum class Fill { random, extremes, max_pos, max_neg, narrow };

// x u8, w s8: random, only the range ends, constant fills that make every product 255·127
// or 255·(−128), or random weights in [−64, 63] (which the GEMM packs for its narrow kernels).
std::vector<std::uint8_t> make_x(std::size_t n, Fill f, Rng& rng) {
  std::vector<std::uint8_t> v(n);
  for (auto& x : v)
    x = f == Fill::random || f == Fill::narrow ? std::uint8_t(rng.uniform_int(256))
        : f == Fill::extremes                  ? std::uint8_t(rng.uniform_int(2) ? 255 : 0)
                                               : std::uint8_t(255);
  return v;
}
std::vector<std::int8_t> make_w(std::size_t n, Fill f, Rng& rng) {
  std::vector<std::int8_t> v(n);
  for (auto& w : v)
    w = f == Fill::random     ? std::int8_t(int(rng.uniform_int(256)) - 128)
        : f == Fill::narrow   ? std::int8_t(int(rng.uniform_int(128)) - 64)
        : f == Fill::extremes ? std::int8_t(rng.uniform_int(2) ? 127 : -128)
        : f == Fill::max_pos  ? std::int8_t(127)
                              : std::int8_t(-128);
  return v;
}

struct Case {
  int N, H, W, C_in, C_out;
  ConvGeometry g;
};

ConvGeometry geo(int kh, int kw, int sh, int sw, int pt, int pl, int pb, int pr) {
  return {kh, kw, sh, sw, pt, pl, pb, pr};
}

// Odd sizes, stride 2, asymmetric and over-wide padding, 1×1 (direct and not), 3×3, 5×5,
// rectangular windows, C not a multiple of any vector width.
const Case kCases[] = {
    {1, 1, 1, 1, 1, ConvGeometry::square(1)},
    {2, 5, 7, 3, 5, ConvGeometry::square(1)},        // 1×1 direct GEMM
    {2, 6, 5, 17, 9, ConvGeometry::square(1, 2)},    // 1×1 stride 2: im2col
    {1, 4, 4, 3, 4, ConvGeometry::square(1, 1, 1)},  // 1×1 padded
    {2, 7, 9, 3, 16, ConvGeometry::square(3, 1, 1)},
    {3, 8, 8, 16, 16, ConvGeometry::square(3, 1, 1)},
    {1, 9, 11, 5, 7, ConvGeometry::square(3, 2, 1)},
    {2, 10, 7, 13, 33, geo(3, 3, 2, 2, 0, 1, 2, 0)},  // asymmetric padding, stride 2
    {1, 11, 13, 7, 3, ConvGeometry::square(5, 1, 2)},
    {2, 9, 8, 4, 17, geo(5, 5, 2, 2, 1, 2, 2, 1)},
    {1, 6, 9, 6, 5, geo(1, 3, 1, 2, 0, 1, 0, 1)},  // 1×3, strides 1 and 2
    {1, 5, 5, 2, 3, geo(3, 1, 3, 1, 2, 0, 2, 0)},
    {2, 2, 3, 3, 4, ConvGeometry::square(5, 1, 3)},    // the window mostly in padding
    {1, 3, 3, 1, 1, geo(3, 3, 1, 1, 0, 0, 0, 0)},      // one output pixel
    {2, 28, 28, 1, 6, ConvGeometry::square(5, 1, 2)},  // LeNet-5's first conv: 1- to 5-byte runs
    {2, 6, 7, 8, 5, geo(3, 2, 1, 2, 1, 1, 0, 0)},      // kw·C_in = 16: images padded beforehand
    {1, 5, 6, 17, 4, geo(3, 1, 1, 1, 1, 0, 1, 0)},     // kw·C_in = 17: padded tap by tap
};

// Runs one case through the general (groups = 1) path of `isa` against conv2d_ref.
// With Activations::u7, the inputs are clamped to [0, 127] (z must be ≤ 127 then).
void check_conv(Isa isa, const Case& c, Fill f, std::uint8_t z, std::uint64_t seed,
                Activations act = Activations::any) {
  Rng rng(seed);
  auto x = make_x(std::size_t(c.N) * c.H * c.W * c.C_in, f, rng);
  if (act == Activations::u7)
    for (auto& v : x) v = std::min<std::uint8_t>(v, 127);
  const auto w = make_w(std::size_t(c.C_out) * c.g.kh * c.g.kw * c.C_in, f, rng);
  const int Ho = c.g.out_h(c.H), Wo = c.g.out_w(c.W);
  const std::size_t ny = std::size_t(c.N) * Ho * Wo * c.C_out;
  std::vector<std::int32_t> want(ny), got(ny + 3, -7);
  conv2d_ref(x.data(), c.N, c.H, c.W, c.C_in, z, w.data(), c.C_out, 1, c.g, want.data());
  Conv2dInt8 conv(w.data(), c.C_in, c.C_out, c.g, isa, act);
  conv.forward(x.data(), c.N, c.H, c.W, z, got.data());
  std::size_t bad = 0;
  for (std::size_t i = 0; i < ny; ++i) bad += want[i] != got[i];
  INFO(isa_name(isa) << " N " << c.N << " H " << c.H << " W " << c.W << " C_in " << c.C_in
                     << " C_out " << c.C_out << " k " << c.g.kh << "x" << c.g.kw << " s "
                     << c.g.stride_h << "x" << c.g.stride_w << " z " << int(z) << " fill " << int(f)
                     << " u7 " << (act == Activations::u7));
  CHECK(bad == 0);
  CHECK(got[ny] == -7);  // nothing written past y
  // forward_rows: any range of output pixels, on the calling thread, into its own buffer.
  const std::int64_t M = std::int64_t(c.N) * Ho * Wo;
  const std::int64_t r0 = M / 3, r1 = std::max(r0, M - 1);
  std::vector<std::int32_t> part(std::size_t(r1 - r0) * c.C_out + 1, -7);
  std::vector<std::uint8_t> columns;
  conv.forward_rows(x.data(), c.N, c.H, c.W, z, r0, r1, part.data(), columns);
  bad = 0;
  for (std::size_t i = 0; i + 1 < part.size(); ++i) bad += part[i] != want[r0 * c.C_out + i];
  CHECK(bad == 0);
  CHECK(part.back() == -7);
}

// Depthwise: w [kh][kw][C] for the fast path, [C][kh][kw] (groups = C) for the reference.
void check_depthwise(Isa isa, int N, int H, int W, int C, const ConvGeometry& g, Fill f,
                     std::uint8_t z, std::uint64_t seed) {
  Rng rng(seed);
  const auto x = make_x(std::size_t(N) * H * W * C, f, rng);
  const auto w = make_w(std::size_t(g.kh) * g.kw * C, f, rng);
  std::vector<std::int8_t> w_ref(w.size());
  for (int t = 0; t < g.kh * g.kw; ++t)
    for (int ch = 0; ch < C; ++ch)
      w_ref[std::size_t(ch) * g.kh * g.kw + t] = w[std::size_t(t) * C + ch];
  const int Ho = g.out_h(H), Wo = g.out_w(W);
  const std::size_t ny = std::size_t(N) * Ho * Wo * C;
  std::vector<std::int32_t> want(ny), got(ny + 3, -7);
  conv2d_ref(x.data(), N, H, W, C, z, w_ref.data(), C, C, g, want.data());
  Conv2dInt8 conv = Conv2dInt8::depthwise(w.data(), C, g, isa);
  conv.forward(x.data(), N, H, W, z, got.data());
  std::size_t bad = 0;
  for (std::size_t i = 0; i < ny; ++i) bad += want[i] != got[i];
  INFO(isa_name(isa) << " depthwise N " << N << " H " << H << " W " << W << " C " << C << " k "
                     << g.kh << "x" << g.kw << " s " << g.stride_h << "x" << g.stride_w << " z "
                     << int(z) << " fill " << int(f));
  CHECK(bad == 0);
  CHECK(got[ny] == -7);
}

}  // namespace

TEST_CASE("int8 reference conv equals a convolution computed by hand", "[int8][conv]") {
  // x 3×3 (one channel), zero point 10; w 2×2; padding top 1 and left 1 only; stride 2.
  // The padded input has z in row 0 and column 0, so the four windows are
  //   [z z; z 1]  [z z; 2 3]  [z 4; z 7]  [5 6; 8 9]   times [1 −1; 2 0].
  const std::uint8_t x[] = {1, 2, 3, 4, 5, 6, 7, 8, 9};
  const std::int8_t w[] = {1, -1, 2, 0};
  const ConvGeometry g = geo(2, 2, 2, 2, 1, 1, 0, 0);
  REQUIRE(g.out_h(3) == 2);
  REQUIRE(g.out_w(3) == 2);
  std::int32_t y[4];
  conv2d_ref(x, 1, 3, 3, 1, 10, w, 1, 1, g, y);
  CHECK(y[0] == 10 - 10 + 2 * 10);
  CHECK(y[1] == 10 - 10 + 2 * 2);
  CHECK(y[2] == 10 - 4 + 2 * 10);
  CHECK(y[3] == 5 - 6 + 2 * 8);
  for (Isa isa : test::runnable_isas("int8 conv")) {
    std::int32_t got[4];
    Conv2dInt8(w, 1, 1, g, isa).forward(x, 1, 3, 3, 10, got);
    CHECK(std::vector<int>(got, got + 4) == std::vector<int>(y, y + 4));
    Conv2dInt8::depthwise(w, 1, g, isa).forward(x, 1, 3, 3, 10, got);
    CHECK(std::vector<int>(got, got + 4) == std::vector<int>(y, y + 4));
  }
  // Two channels, NHWC: channel 1 is channel 0 negated by its weights.
  const std::uint8_t x2[] = {3, 200, 4, 100};  // 1×1×2 pixels, H 1, W 2
  const std::int8_t w2[] = {2, -1, -3, 5};     // [C_out 2][1][1][C_in 2]
  std::int32_t y2[4];
  conv2d_ref(x2, 1, 1, 2, 2, 0, w2, 2, 1, ConvGeometry::square(1), y2);
  CHECK(y2[0] == 6 - 200);
  CHECK(y2[1] == -9 + 1000);
  CHECK(y2[2] == 8 - 100);
  CHECK(y2[3] == -12 + 500);
}

TEST_CASE("every int8 conv path is bit-exact against the reference", "[int8][conv]") {
  std::uint64_t seed = 100;
  for (Isa isa : test::runnable_isas("int8 conv"))
    for (const Case& c : kCases) {
      check_conv(isa, c, Fill::random, 0, ++seed);
      check_conv(isa, c, Fill::random, 128, ++seed);
      check_conv(isa, c, Fill::random, 255, ++seed);
      check_conv(isa, c, Fill::extremes, 37, ++seed);
      check_conv(isa, c, Fill::max_pos, 255, ++seed);
      check_conv(isa, c, Fill::max_neg, 0, ++seed);
      check_conv(isa, c, Fill::narrow, 200, ++seed);
      check_conv(isa, c, Fill::random, 127, ++seed, Activations::u7);
      check_conv(isa, c, Fill::extremes, 0, ++seed, Activations::u7);
      check_conv(isa, c, Fill::max_neg, 5, ++seed, Activations::u7);
    }
  const std::int8_t w[] = {1, 2, 3, 4};
  Conv2dInt8 u7(w, 4, 1, ConvGeometry::square(1), best_isa(), Activations::u7);
  const std::uint8_t x[] = {1, 2, 3, 4};
  std::int32_t y = 0;
  u7.forward(x, 1, 1, 1, 127, &y);
  CHECK(y == 1 + 4 + 9 + 16);
  CHECK_THROWS_AS(u7.forward(x, 1, 1, 1, 128, &y), Error);
}

// Accumulator::int16 (gemm_acc16): every path equals im2col + the pair_wrap reference, on
// fills that overflow 16 bits (255·127 products) and that saturate pairs, whole and by rows.
TEST_CASE("an int8 conv packed for 16-bit accumulation equals the pair-wrap model",
          "[int8][conv]") {
  std::uint64_t seed = 900;
  std::size_t differs_from_exact = 0;
  for (Isa isa : test::runnable_isas("int8 conv acc16"))
    for (const Case& c : kCases)
      for (const Fill f : {Fill::random, Fill::extremes, Fill::max_pos, Fill::narrow}) {
        Rng rng(++seed);
        const auto x = make_x(std::size_t(c.N) * c.H * c.W * c.C_in, f, rng);
        const auto w = make_w(std::size_t(c.C_out) * c.g.kh * c.g.kw * c.C_in, f, rng);
        const std::uint8_t z = f == Fill::random ? 3 : 255;
        const int Ho = c.g.out_h(c.H), Wo = c.g.out_w(c.W), K = c.g.kh * c.g.kw * c.C_in;
        const std::int64_t M = std::int64_t(c.N) * Ho * Wo;
        std::vector<std::uint8_t> columns(std::size_t(M) * K);
        im2col({x.data(), c.H, c.W, c.C_in, z, c.g, Ho, Wo}, 0, M, columns.data(), K);
        std::vector<std::int32_t> want(std::size_t(M) * c.C_out), exact(want.size());
        gemm_acc16_ref(Acc16::pair_wrap, int(M), c.C_out, K, columns.data(), K, w.data(), K,
                       want.data(), c.C_out, false);
        conv2d_ref(x.data(), c.N, c.H, c.W, c.C_in, z, w.data(), c.C_out, 1, c.g, exact.data());
        differs_from_exact += want != exact;
        Conv2dInt8 conv(w.data(), c.C_in, c.C_out, c.g, isa, Activations::any, Accumulator::int16);
        CHECK(conv.accumulator() == Accumulator::int16);
        std::vector<std::int32_t> got(want.size() + 1, -7);
        conv.forward(x.data(), c.N, c.H, c.W, z, got.data());
        INFO(isa_name(isa) << " N " << c.N << " H " << c.H << " W " << c.W << " C_in " << c.C_in
                           << " C_out " << c.C_out << " k " << c.g.kh << "x" << c.g.kw << " fill "
                           << int(f));
        CHECK(std::equal(want.begin(), want.end(), got.begin()));
        CHECK(got.back() == -7);
        const std::int64_t r0 = M / 3, r1 = std::max(r0, M - 1);
        std::vector<std::int32_t> part(std::size_t(r1 - r0) * c.C_out);
        std::vector<std::uint8_t> scratch;
        conv.forward_rows(x.data(), c.N, c.H, c.W, z, r0, r1, part.data(), scratch);
        CHECK(std::equal(part.begin(), part.end(), want.begin() + r0 * c.C_out));
      }
  CHECK(differs_from_exact > 0);  // the fills did overflow
}

TEST_CASE("int8 conv stays exact across im2col blocks and at large K", "[int8][conv]") {
  // K = 3·3·460 = 4140: blocks of 126 output pixels, so each thread's share of the 450
  // pixels takes two blocks or more. And K = 5·5·2600 = 65000 ≤ kMaxK with every product
  // 255·(−128) or 255·127.
  for (Isa isa : test::runnable_isas("int8 conv")) {
    check_conv(isa, {2, 15, 15, 460, 3, ConvGeometry::square(3, 1, 1)}, Fill::random, 77, 1);
    check_conv(isa, {1, 5, 5, 2600, 2, ConvGeometry::square(5)}, Fill::max_neg, 0, 2);
    check_conv(isa, {1, 5, 5, 2600, 2, ConvGeometry::square(5)}, Fill::max_pos, 255, 3);
  }
  std::vector<std::int8_t> w(std::size_t(3) * 3 * 7282);
  CHECK_THROWS_AS(Conv2dInt8(w.data(), 7282, 1, ConvGeometry::square(3)), Error);
}

TEST_CASE("every int8 depthwise path is bit-exact against the reference", "[int8][conv]") {
  std::uint64_t seed = 500;
  const ConvGeometry geos[] = {ConvGeometry::square(3, 1, 1), ConvGeometry::square(3, 2, 1),
                               ConvGeometry::square(3),       geo(3, 3, 2, 2, 0, 1, 1, 0),
                               ConvGeometry::square(5, 1, 2), ConvGeometry::square(1),
                               geo(1, 3, 1, 2, 0, 1, 0, 1),   ConvGeometry::square(5, 2, 4)};
  for (Isa isa : test::runnable_isas("int8 conv"))
    for (int C : {1, 7, 8, 9, 15, 16, 17, 24, 31, 33, 64})
      for (const ConvGeometry& g : geos) {
        check_depthwise(isa, 2, 7, 9, C, g, Fill::random, 0, ++seed);
        check_depthwise(isa, 1, 8, 5, C, g, Fill::random, 131, ++seed);
        check_depthwise(isa, 1, 6, 6, C, g, Fill::extremes, 255, ++seed);
        check_depthwise(isa, 1, 5, 7, C, g, Fill::max_pos, 255, ++seed);
        check_depthwise(isa, 1, 5, 7, C, g, Fill::max_neg, 0, ++seed);
      }
}

TEST_CASE("int8 conv gives the same result on one and two threads", "[int8][conv]") {
  const int saved = omp_get_max_threads();
  Rng rng(7);
  const int N = 5, H = 13, W = 11, C = 24;
  const auto x = make_x(std::size_t(N) * H * W * C, Fill::random, rng);
  const auto w = make_w(std::size_t(C) * 9 * C, Fill::random, rng);
  const ConvGeometry g = ConvGeometry::square(3, 1, 1);
  for (Isa isa : test::runnable_isas("int8 conv")) {
    Conv2dInt8 conv(w.data(), C, C, g, isa);
    Conv2dInt8 dw = Conv2dInt8::depthwise(w.data(), C, g, isa);
    std::vector<std::int32_t> a(std::size_t(N) * H * W * C), b(a.size()), da(a.size()),
        db(a.size());
    omp_set_num_threads(1);
    conv.forward(x.data(), N, H, W, 9, a.data());
    dw.forward(x.data(), N, H, W, 9, da.data());
    omp_set_num_threads(2);
    conv.forward(x.data(), N, H, W, 9, b.data());
    dw.forward(x.data(), N, H, W, 9, db.data());
    INFO(isa_name(isa));
    CHECK(a == b);
    CHECK(da == db);
  }
  omp_set_num_threads(saved);
}

TEST_CASE("int8 conv is exact when called from inside a parallel region", "[int8][conv]") {
  // Each thread of the caller's region runs its own convolutions: the 1×1 direct GEMM, the
  // im2col path and depthwise, all against the reference.
  const int saved = omp_get_max_threads();
  omp_set_num_threads(2);
  Rng rng(6);
  const int N = 4, H = 12, W = 10, C = 16;
  const auto x = make_x(std::size_t(N) * H * W * C, Fill::random, rng);
  const auto w = make_w(std::size_t(C) * 9 * C, Fill::random, rng);
  std::vector<std::int32_t> want1(std::size_t(N) * H * W * C), want3(want1.size());
  conv2d_ref(x.data(), N, H, W, C, 5, w.data(), C, 1, ConvGeometry::square(1), want1.data());
  conv2d_ref(x.data(), N, H, W, C, 5, w.data(), C, 1, ConvGeometry::square(3, 1, 1), want3.data());
  for (Isa isa : test::runnable_isas("int8 conv")) {
    int bad = 0;
#pragma omp parallel num_threads(2) reduction(+ : bad)
    {
      Conv2dInt8 one(w.data(), C, C, ConvGeometry::square(1), isa);
      Conv2dInt8 three(w.data(), C, C, ConvGeometry::square(3, 1, 1), isa);
      std::vector<std::int32_t> y(want1.size(), -1);
      one.forward(x.data(), N, H, W, 5, y.data());
      bad += y != want1;
      three.forward(x.data(), N, H, W, 5, y.data());
      bad += y != want3;
    }
    INFO(isa_name(isa));
    CHECK(bad == 0);
  }
  omp_set_num_threads(saved);
}

TEST_CASE("QB_MAX_ISA caps the ISA int8 convolutions are built for", "[int8][conv]") {
  test::MaxIsaGuard guard;
  Rng rng(8);
  const auto x = make_x(2 * 6 * 6 * 5, Fill::random, rng);
  const auto w = make_w(4 * 9 * 5, Fill::random, rng);
  const ConvGeometry g = ConvGeometry::square(3, 1, 1);
  std::vector<std::int32_t> want(2 * 6 * 6 * 4), got(want.size());
  conv2d_ref(x.data(), 2, 6, 6, 5, 3, w.data(), 4, 1, g, want.data());
  for (Isa cap : kAllIsas) {
    setenv("QB_MAX_ISA", isa_name(cap), 1);
    Conv2dInt8 conv(w.data(), 5, 4, g);
    Conv2dInt8 dw = Conv2dInt8::depthwise(w.data(), 5, g);
    INFO("cap " << isa_name(cap));
    CHECK(conv.isa() <= cap);
    CHECK(dw.isa() <= cap);
    if (cpu_has(cap)) CHECK(conv.isa() == cap);
    conv.forward(x.data(), 2, 6, 6, 3, got.data());
    CHECK(got == want);
  }
}

TEST_CASE("int8 conv then requantize matches the real-valued convolution", "[int8][conv]") {
  // Real x = sx·(qx − zx), w = sw·qw, y = sy·(qy − zy) + 0: with the zero-point correction as
  // the bias (and a real bias b quantised at sx·sw), qy may differ from round(y / sy) + zy
  // only where the multiplier's relative error 2^−31 moves a value across a rounding
  // boundary: by at most 1.
  Rng rng(9);
  const int N = 2, H = 9, W = 8, C_in = 6, C_out = 10;
  const ConvGeometry g = ConvGeometry::square(3, 2, 1);
  const double sx = 0.02, sw = 0.005, sy = 0.07;
  const std::uint8_t zx = 117;
  const int zy = 5;
  const auto x = make_x(std::size_t(N) * H * W * C_in, Fill::random, rng);
  const auto w = make_w(std::size_t(C_out) * 9 * C_in, Fill::random, rng);
  std::vector<std::int32_t> qbias(C_out);
  for (auto& b : qbias) b = std::int32_t(rng.uniform_int(2001)) - 1000;
  const int Ho = g.out_h(H), Wo = g.out_w(W);
  for (Isa isa : test::runnable_isas("int8 conv")) {
    Conv2dInt8 conv(w.data(), C_in, C_out, g, isa);
    std::vector<std::int32_t> acc(std::size_t(N) * Ho * Wo * C_out);
    conv.forward(x.data(), N, H, W, zx, acc.data());
    std::vector<std::int32_t> bias = conv.zero_point_bias(zx);
    for (int co = 0; co < C_out; ++co) bias[co] += qbias[co];
    std::vector<std::int8_t> qy(acc.size());
    OutputParams out{zy};
    out.bias = bias.data();
    requantize(acc.data(), C_out, N * Ho * Wo, C_out, quantize_multiplier(sx * sw / sy), out,
               qy.data(), C_out, isa);
    int worst = 0;
    for (int n = 0; n < N; ++n)
      for (int oy = 0; oy < Ho; ++oy)
        for (int ox = 0; ox < Wo; ++ox)
          for (int co = 0; co < C_out; ++co) {
            double y = sx * sw * qbias[co];
            for (int ky = 0; ky < 3; ++ky)
              for (int kx = 0; kx < 3; ++kx)
                for (int ci = 0; ci < C_in; ++ci) {
                  const int iy = oy * 2 + ky - 1, ix = ox * 2 + kx - 1;
                  if (iy < 0 || iy >= H || ix < 0 || ix >= W) continue;  // real zero padding
                  const double xr = sx * (x[((n * H + iy) * W + ix) * C_in + ci] - int(zx));
                  y += xr * sw * w[((co * 3 + ky) * 3 + kx) * C_in + ci];
                }
            const int want = std::clamp(int(std::nearbyint(y / sy)) + zy, -128, 127);
            const int got = qy[((std::size_t(n) * Ho + oy) * Wo + ox) * C_out + co];
            worst = std::max(worst, std::abs(want - got));
          }
    INFO(isa_name(isa));
    CHECK(worst <= 1);
  }
}

TEST_CASE("int8 conv refuses invalid geometry", "[int8][conv]") {
  const std::int8_t w[9 * 2] = {};
  CHECK_THROWS_AS(ConvGeometry::square(3).out_h(2), Error);  // window larger than the input
  CHECK(ConvGeometry::square(3, 1, 1).out_h(1) == 1);
  CHECK_THROWS_AS(Conv2dInt8(w, 2, 1, ConvGeometry::square(3, 0)), Error);  // stride 0
  CHECK_THROWS_AS(Conv2dInt8(w, 2, 1, geo(3, 3, 1, 1, -1, 0, 0, 0)), Error);
  CHECK_THROWS_AS(Conv2dInt8::depthwise(w, 2, ConvGeometry::square(0)), Error);
}
