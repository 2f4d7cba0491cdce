// int8 requantisation: the rounding on hand-computed values, quantize_multiplier's bound,
// every ISA path bit-exact against the reference on adversarial values (exact ties of both
// signs, INT32_MIN/MAX accumulators and biases, multiplier extremes, shifts 0, 31 and beyond,
// column tails), and the reference against an exact computation in long double.
#include "engine/check.h"
#include "engine/int8/requantize.h"
#include "engine/rng.h"
#include "tests/int8_isas.h"

#include <omp.h>
#include <catch2/catch.hpp>

#include <climits>
#include <cmath>
#include <cstdlib>
#include <type_traits>
#include <vector>

using namespace qb;
using namespace qb::int8;

namespace {

// rhe(v) for a long double holding an exact dyadic rational: the default rounding mode
// (to nearest, ties to even) of nearbyintl.
std::int64_t rhe(long double v) { return std::int64_t(std::nearbyint(v)); }

template <class Out>
constexpr int type_lo = std::is_signed_v<Out> ? -128 : 0;
template <class Out>
constexpr int type_hi = std::is_signed_v<Out> ? 127 : 255;

// The exact definition, in long double: x·M0 (|·| ≤ 2^62) and its division by a power of 2
// are exact in a 64-bit mantissa, so rhe rounds once.
template <class Out>
Out exact(std::int32_t c, const std::int32_t* bias, int n, Multiplier mu, const OutputParams& o) {
  std::int64_t x = c;
  if (bias) x = std::clamp<std::int64_t>(x + bias[n], INT32_MIN, INT32_MAX);
  const std::int64_t r = rhe(std::ldexp((long double)(x * mu.m0), mu.e - 31));
  const int lo = std::max(o.lo, type_lo<Out>), hi = std::min(o.hi, type_hi<Out>);
  return Out(std::clamp<std::int64_t>(r + o.zero_point, lo, hi));
}

// Accumulators that stress the rounding and the ranges: the int32 ends, 0 and ±1, exact ties
// k·2^s ± 2^(s−1) for the shifts in use, and random values over the whole range.
std::vector<std::int32_t> adversarial(std::size_t n, Rng& rng, int tie_shift) {
  std::vector<std::int32_t> v(n);
  for (auto& x : v) {
    switch (rng.uniform_int(6)) {
      case 0: {
        const std::int32_t ends[] = {INT32_MIN, INT32_MAX, 0, 1, -1, INT32_MIN + 1, INT32_MAX - 1};
        x = ends[rng.uniform_int(7)];
        break;
      }
      case 1:
      case 2: {
        // A tie: an odd multiple of 2^(s−1).
        const int s = std::clamp(tie_shift, 1, 31);
        const std::int64_t k = std::int64_t(rng.uniform_int(std::uint64_t(1) << (32 - s))) -
                               (std::int64_t(1) << (31 - s));
        x = std::int32_t(std::clamp<std::int64_t>((2 * k + 1) << (s - 1), INT32_MIN, INT32_MAX));
        break;
      }
      case 3:
        x = std::int32_t(rng.uniform_int(2001)) - 1000;
        break;
      default:
        x = std::int32_t(std::uint32_t(rng.next()));
        break;
    }
  }
  return v;
}

std::vector<std::int32_t> random_bias(std::size_t n, Rng& rng) {
  std::vector<std::int32_t> b(n);
  for (auto& x : b) {
    switch (rng.uniform_int(4)) {
      case 0:
        x = rng.uniform_int(2) ? INT32_MAX : INT32_MIN;
        break;  // saturates the add
      case 1:
        x = std::int32_t(std::uint32_t(rng.next()));
        break;
      default:
        x = std::int32_t(rng.uniform_int(20001)) - 10000;
        break;
    }
  }
  return b;
}

// Output parameters: random zero point, and a random clamp (full range, ReLU, or a narrow one).
template <class Out>
OutputParams random_params(Rng& rng, const std::int32_t* bias) {
  OutputParams o;
  o.zero_point = type_lo<Out> + int(rng.uniform_int(256));
  switch (rng.uniform_int(3)) {
    case 0:
      break;
    case 1:
      o.lo = o.zero_point;
      break;  // fused ReLU
    default: {
      o.lo = type_lo<Out> + int(rng.uniform_int(128));
      o.hi = o.lo + int(rng.uniform_int(128));
    }
  }
  o.bias = bias;
  return o;
}

constexpr int kNs[] = {1, 3, 7, 8, 9, 15, 16, 17, 31, 33, 64, 70};

// M×N with padded strides through `isa` against the reference; the padding of Y untouched.
template <class Out>
void check_mult(Isa isa, int M, int N, std::span<const Multiplier> mult, Rng& rng, int tie_shift) {
  const int ldc = N + 3, ldy = N + 5;
  const auto C = adversarial(std::size_t(M) * ldc, rng, tie_shift);
  const auto bias = random_bias(N, rng);
  const OutputParams o = random_params<Out>(rng, rng.uniform_int(2) ? bias.data() : nullptr);
  std::vector<Out> want(std::size_t(M) * ldy, Out(7)), got(std::size_t(M) * ldy, Out(7));
  requantize_ref(C.data(), ldc, M, N, mult, o, want.data(), ldy);
  if (mult.size() == 1)
    requantize(C.data(), ldc, M, N, mult[0], o, got.data(), ldy, isa);
  else
    requantize(C.data(), ldc, M, N, mult, o, got.data(), ldy, isa);
  std::size_t bad = 0, bad_exact = 0;
  for (int m = 0; m < M; ++m)
    for (int n = 0; n < ldy; ++n) {
      const std::size_t i = std::size_t(m) * ldy + n;
      bad += want[i] != got[i];
      if (n < N) {
        const Multiplier mu = mult.size() == 1 ? mult[0] : mult[n];
        bad_exact += want[i] != exact<Out>(C[std::size_t(m) * ldc + n], o.bias, n, mu, o);
      }
    }
  INFO(isa_name(isa) << (std::is_signed_v<Out> ? " s8" : " u8") << " M " << M << " N " << N
                     << " per-column " << (mult.size() != 1) << " m0 " << mult[0].m0 << " e "
                     << mult[0].e << " zp " << o.zero_point << " lo " << o.lo << " hi " << o.hi
                     << " bias " << (o.bias != nullptr));
  CHECK(bad == 0);
  CHECK(bad_exact == 0);
}

template <class Out>
void check_shift(Isa isa, int M, int N, int shift, Rng& rng) {
  const int ldc = N + 1, ldy = N + 2;
  const auto C = adversarial(std::size_t(M) * ldc, rng, shift);
  const auto bias = random_bias(N, rng);
  const OutputParams o = random_params<Out>(rng, rng.uniform_int(2) ? bias.data() : nullptr);
  std::vector<Out> want(std::size_t(M) * ldy, Out(9)), got(std::size_t(M) * ldy, Out(9));
  requantize_shift_ref(C.data(), ldc, M, N, shift, o, want.data(), ldy);
  requantize_shift(C.data(), ldc, M, N, shift, o, got.data(), ldy, isa);
  std::size_t bad = 0, bad_exact = 0;
  const int lo = std::max(o.lo, type_lo<Out>), hi = std::min(o.hi, type_hi<Out>);
  for (int m = 0; m < M; ++m)
    for (int n = 0; n < ldy; ++n) {
      const std::size_t i = std::size_t(m) * ldy + n;
      bad += want[i] != got[i];
      if (n < N) {
        std::int64_t x = C[std::size_t(m) * ldc + n];
        if (o.bias) x = std::clamp<std::int64_t>(x + o.bias[n], INT32_MIN, INT32_MAX);
        const std::int64_t r = rhe(std::ldexp((long double)x, -shift));
        bad_exact += want[i] != Out(std::clamp<std::int64_t>(r + o.zero_point, lo, hi));
      }
    }
  INFO(isa_name(isa) << (std::is_signed_v<Out> ? " s8" : " u8") << " M " << M << " N " << N
                     << " shift " << shift << " zp " << o.zero_point << " lo " << o.lo << " hi "
                     << o.hi << " bias " << (o.bias != nullptr));
  CHECK(bad == 0);
  CHECK(bad_exact == 0);
}

}  // namespace

TEST_CASE("round half to even by a power of 2 on hand-computed values", "[int8][requant]") {
  // Shift 2: 1.5 → 2, 2.5 → 2, 3.5 → 4, and the negative ties to even as well.
  CHECK(round_shift_half_even(6, 2) == 2);
  CHECK(round_shift_half_even(10, 2) == 2);
  CHECK(round_shift_half_even(14, 2) == 4);
  CHECK(round_shift_half_even(-6, 2) == -2);
  CHECK(round_shift_half_even(-10, 2) == -2);
  CHECK(round_shift_half_even(-14, 2) == -4);
  // Off the ties: 1.25 → 1, 1.75 → 2, −1.25 → −1, −1.75 → −2, 0.25 → 0, −0.25 → 0.
  CHECK(round_shift_half_even(5, 2) == 1);
  CHECK(round_shift_half_even(7, 2) == 2);
  CHECK(round_shift_half_even(-5, 2) == -1);
  CHECK(round_shift_half_even(-7, 2) == -2);
  CHECK(round_shift_half_even(1, 2) == 0);
  CHECK(round_shift_half_even(-1, 2) == 0);
  // Shift 1: ±0.5 → 0, ±1.5 → ±2.
  CHECK(round_shift_half_even(1, 1) == 0);
  CHECK(round_shift_half_even(-1, 1) == 0);
  CHECK(round_shift_half_even(3, 1) == 2);
  CHECK(round_shift_half_even(-3, 1) == -2);
  // Shift 0 is the identity, also at the int64 ends.
  CHECK(round_shift_half_even(INT64_MAX, 0) == INT64_MAX);
  CHECK(round_shift_half_even(INT64_MIN, 0) == INT64_MIN);
  // Shift 63 and beyond: 2^62 / 2^63 = 0.5 → 0, 3·2^61 / 2^63 = 0.75 → 1, −2^63 / 2^63 = −1,
  // −2^63 / 2^64 = −0.5 → 0.
  CHECK(round_shift_half_even(std::int64_t(1) << 62, 63) == 0);
  CHECK(round_shift_half_even(std::int64_t(3) << 61, 63) == 1);
  CHECK(round_shift_half_even(-(std::int64_t(1) << 62), 63) == 0);
  CHECK(round_shift_half_even(INT64_MIN, 63) == -1);
  CHECK(round_shift_half_even(INT64_MIN, 64) == 0);
  CHECK(round_shift_half_even(INT64_MAX, 200) == 0);
  // int32 ends at shift 31: −2^31 / 2^31 = −1, (2^31 − 1) / 2^31 → 1, 2^30 / 2^31 = 0.5 → 0.
  CHECK(round_shift_half_even(INT32_MIN, 31) == -1);
  CHECK(round_shift_half_even(INT32_MAX, 31) == 1);
  CHECK(round_shift_half_even(std::int64_t(1) << 30, 31) == 0);
  CHECK(round_shift_half_even(-(std::int64_t(1) << 30), 31) == 0);
  CHECK(round_shift_half_even(std::int64_t(3) << 30, 31) == 2);
}

TEST_CASE("requantize by shift on hand-computed vectors on every path", "[int8][requant]") {
  // 11 columns: one AVX2 vector and a tail, one AVX-512 tail.
  const std::int32_t C[] = {6, 10, 14, -6, -10, 1, 2, 3, -2, 1000, -1000};
  const std::int8_t want_s8[] = {2, 2, 4, -2, -2, 0, 0, 1, 0, 127, -128};
  for (Isa isa : test::runnable_isas("requantize")) {
    INFO(isa_name(isa));
    std::int8_t y8[11];
    requantize_shift(C, 11, 1, 11, 2, {}, y8, 11, isa);
    CHECK(std::vector<std::int8_t>(y8, y8 + 11) == std::vector<std::int8_t>(want_s8, want_s8 + 11));
    // u8 with zero point 100: +100, then the clamp at 0 and 255.
    std::uint8_t yu[11];
    requantize_shift(C, 11, 1, 11, 2, {100}, yu, 11, isa);
    const std::uint8_t want_u8[] = {102, 102, 104, 98, 98, 100, 100, 101, 100, 255, 0};
    CHECK(std::vector<std::uint8_t>(yu, yu + 11) ==
          std::vector<std::uint8_t>(want_u8, want_u8 + 11));
    // Fused ReLU (lo = zero point) and a bias of −2 per column: (x − 2) / 4.
    OutputParams relu{100, 100};
    const std::vector<std::int32_t> bias(11, -2);
    relu.bias = bias.data();
    requantize_shift(C, 11, 1, 11, 2, relu, yu, 11, isa);
    const std::uint8_t want_relu[] = {101, 102, 103, 100, 100, 100, 100, 100, 100, 255, 100};
    CHECK(std::vector<std::uint8_t>(yu, yu + 11) ==
          std::vector<std::uint8_t>(want_relu, want_relu + 11));
    // Shift 0 saturates only; shift 40 leaves the zero point everywhere.
    requantize_shift(C, 11, 1, 11, 0, {}, y8, 11, isa);
    const std::int8_t want0[] = {6, 10, 14, -6, -10, 1, 2, 3, -2, 127, -128};
    CHECK(std::vector<std::int8_t>(y8, y8 + 11) == std::vector<std::int8_t>(want0, want0 + 11));
    requantize_shift(C, 11, 1, 11, 40, {-3}, y8, 11, isa);
    CHECK(std::vector<std::int8_t>(y8, y8 + 11) == std::vector<std::int8_t>(11, -3));
  }
}

TEST_CASE("requantize by multiplier rounds once where gemmlowp rounds twice", "[int8][requant]") {
  // M0 = 2^30, e = −1: scale 1/4. x = 5: 5/4 = 1.25 → 1 here; gemmlowp's
  // SaturatingRoundingDoublingHighMul gives rnd(2.5) = 3 (half away from zero), then
  // RoundingDivideByPOT(3, 1) = rnd(1.5) = 2. x = 10: 2.5 → 2 (gemmlowp: 5 → 3).
  // M0 = 3·2^29, e = −1: scale 3/8. x = 4: 1.5 → 2; x = 12: 4.5 → 4; x = −4: −1.5 → −2;
  // x = −12: −4.5 → −4.
  const std::int32_t C[] = {5, 10, -5, -10, 6, -6};
  const std::int32_t C2[] = {4, 12, -4, -12, 1, -1};
  for (Isa isa : test::runnable_isas("requantize")) {
    INFO(isa_name(isa));
    std::int8_t y[6];
    requantize(C, 6, 1, 6, Multiplier{1 << 30, -1}, {}, y, 6, isa);
    CHECK(std::vector<int>(y, y + 6) == std::vector<int>{1, 2, -1, -2, 2, -2});
    requantize(C2, 6, 1, 6, Multiplier{3 << 29, -1}, {}, y, 6, isa);
    CHECK(std::vector<int>(y, y + 6) == std::vector<int>{2, 4, -2, -4, 0, 0});
    // Per column: column n scaled by 2^−n (M0 = 2^30, e = 1 − n), x = 6: 6, 3, 1.5 → 2,
    // 0.75 → 1, 0.375 → 0, 0.1875 → 0.
    const std::int32_t six[] = {6, 6, 6, 6, 6, 6};
    std::vector<Multiplier> per(6);
    for (int n = 0; n < 6; ++n) per[n] = {1 << 30, 1 - n};
    requantize(six, 6, 1, 6, per, {}, y, 6, isa);
    CHECK(std::vector<int>(y, y + 6) == std::vector<int>{6, 3, 2, 1, 0, 0});
    // Scale 1 (M0 = 2^30, e = 1): saturation only, also at the int32 ends.
    const std::int32_t ends[] = {INT32_MIN, INT32_MAX, -129, 128, 0, 17};
    requantize(ends, 6, 1, 6, Multiplier{1 << 30, 1}, {}, y, 6, isa);
    CHECK(std::vector<int>(y, y + 6) == std::vector<int>{-128, 127, -128, 127, 0, 17});
  }
}

TEST_CASE("quantize_multiplier represents scales within its bound", "[int8][requant]") {
  CHECK(quantize_multiplier(0.5).m0 == (1 << 30));
  CHECK(quantize_multiplier(0.5).e == 0);
  CHECK(quantize_multiplier(1.0).m0 == (1 << 30));
  CHECK(quantize_multiplier(1.0).e == 1);
  CHECK(quantize_multiplier(0.75).m0 == (3 << 29));
  CHECK(quantize_multiplier(0.75).e == 0);
  // q·2^31 rounding up to 2^31 renormalises: 1 − 2^−40 becomes exactly 1.
  CHECK(quantize_multiplier(1.0 - std::ldexp(1.0, -40)).m0 == (1 << 30));
  CHECK(quantize_multiplier(1.0 - std::ldexp(1.0, -40)).e == 1);
  CHECK(quantize_multiplier(std::ldexp(1.0, 30)).e == 31);  // the largest exponent allowed
  Rng rng(3);
  for (int i = 0; i < 20000; ++i) {
    // Scales from 2^−40 to 2^20, log-uniform.
    const double s = std::exp2(-40.0 + 60.0 * rng.uniform()) * (1.0 + rng.uniform());
    const Multiplier m = quantize_multiplier(s);
    INFO("scale " << s);
    REQUIRE(m.m0 >= (1 << 30));
    REQUIRE(m.e <= 31);
    REQUIRE(std::abs(m.scale() - s) <= std::ldexp(s, -31));
  }
  // Tiny scales are fine and requantize everything to the zero point.
  const Multiplier tiny = quantize_multiplier(1e-300);
  const std::int32_t C[] = {INT32_MIN, INT32_MAX};
  std::uint8_t y[2];
  for (Isa isa : test::runnable_isas("requantize")) {
    requantize(C, 2, 1, 2, tiny, {3}, y, 2, isa);
    CHECK(int(y[0]) == 3);
    CHECK(int(y[1]) == 3);
  }
  CHECK_THROWS_AS(quantize_multiplier(0.0), Error);
  CHECK_THROWS_AS(quantize_multiplier(-1.0), Error);
  CHECK_THROWS_AS(quantize_multiplier(std::nan("")), Error);
  CHECK_THROWS_AS(quantize_multiplier(INFINITY), Error);
  CHECK_THROWS_AS(quantize_multiplier(std::ldexp(1.0, 31)), Error);
  CHECK_THROWS_AS(quantize_multiplier(std::ldexp(1.0, 31) * (1 - std::ldexp(1.0, -40))), Error);
}

TEST_CASE("every requantize-by-shift path is bit-exact against the reference", "[int8][requant]") {
  Rng rng(11);
  for (Isa isa : test::runnable_isas("requantize"))
    for (int shift : {0, 1, 2, 3, 7, 8, 15, 16, 24, 30, 31, 32, 33, 40, 63, 64, 100})
      for (int N : kNs) {
        const int M = 1 + int(rng.uniform_int(5));
        check_shift<std::uint8_t>(isa, M, N, shift, rng);
        check_shift<std::int8_t>(isa, M, N, shift, rng);
      }
}

TEST_CASE("every requantize-by-multiplier path is bit-exact against the reference",
          "[int8][requant]") {
  Rng rng(12);
  // M0: the normalised range's ends, a tie-friendly 3·2^29, and beyond the normalised range
  // (any int32 is computed exactly): 0, ±1, INT32_MIN (x·M0 = 2^62 for x = INT32_MIN).
  const std::int32_t m0s[] = {1 << 30, INT32_MAX, 3 << 29, 0, 1, -1, INT32_MIN, 1518500250};
  // e = 31 (no shift), 30, 1 (shift 30), 0 (31), −1, −31 (62), −32 (63), −33 (64, capped),
  // −1000.
  const int es[] = {31, 30, 1, 0, -1, -31, -32, -33, -1000};
  for (Isa isa : test::runnable_isas("requantize")) {
    for (std::int32_t m0 : m0s)
      for (int e : es) {
        const Multiplier mu{m0, e};
        const int N = kNs[rng.uniform_int(std::size(kNs))];
        // With M0 = 2^30, x·M0 / 2^(31 − e) ties when x is an odd multiple of 2^(−e).
        const int tie = std::clamp(1 - e, 1, 31);
        check_mult<std::uint8_t>(isa, 3, N, {&mu, 1}, rng, tie);
        check_mult<std::int8_t>(isa, 3, N, {&mu, 1}, rng, tie);
      }
    // Per column: each column its own multiplier, mixing the extremes and random scales.
    for (int N : kNs)
      for (int rep = 0; rep < 4; ++rep) {
        std::vector<Multiplier> per(N);
        for (auto& mu : per) {
          if (rng.uniform_int(2))
            mu = {m0s[rng.uniform_int(std::size(m0s))], es[rng.uniform_int(std::size(es))]};
          else
            mu = quantize_multiplier(std::exp2(-45.0 + 50.0 * rng.uniform()));
        }
        const int tie = 1 + int(rng.uniform_int(31));
        check_mult<std::uint8_t>(isa, 1 + int(rng.uniform_int(4)), N, per, rng, tie);
        check_mult<std::int8_t>(isa, 1 + int(rng.uniform_int(4)), N, per, rng, tie);
      }
  }
}

TEST_CASE("requantize equals the exact rational on random scales and data", "[int8][requant]") {
  // Realistic scales (input·weight / output ≈ 2^−6 .. 2^−16) and GEMM-sized accumulators,
  // where exact ties are rare: every element against long double through each path.
  Rng rng(13);
  for (Isa isa : test::runnable_isas("requantize"))
    for (int rep = 0; rep < 20; ++rep) {
      const int M = 17, N = 37;
      std::vector<Multiplier> per(N);
      for (auto& mu : per) mu = quantize_multiplier(std::exp2(-16.0 + 10.0 * rng.uniform()));
      check_mult<std::uint8_t>(isa, M, N, per, rng, 12);
      check_mult<std::int8_t>(isa, M, N, {&per[0], 1}, rng, 12);
    }
}

TEST_CASE("requantize gives the same result on one and two threads", "[int8][requant]") {
  const int saved = omp_get_max_threads();
  Rng rng(14);
  const int M = 1000, N = 300;
  const auto C = adversarial(std::size_t(M) * N, rng, 20);
  std::vector<Multiplier> per(N);
  for (auto& mu : per) mu = quantize_multiplier(std::exp2(-20.0 + 10.0 * rng.uniform()));
  for (Isa isa : test::runnable_isas("requantize")) {
    std::vector<std::uint8_t> one(C.size()), two(C.size()), s1(C.size()), s2(C.size());
    omp_set_num_threads(1);
    requantize(C.data(), N, M, N, per, {128}, one.data(), N, isa);
    requantize_shift(C.data(), N, M, N, 13, {128}, s1.data(), N, isa);
    omp_set_num_threads(2);
    requantize(C.data(), N, M, N, per, {128}, two.data(), N, isa);
    requantize_shift(C.data(), N, M, N, 13, {128}, s2.data(), N, isa);
    INFO(isa_name(isa));
    CHECK(one == two);
    CHECK(s1 == s2);
  }
  omp_set_num_threads(saved);
}

TEST_CASE("requantize refuses bad zero points clamps and exponents", "[int8][requant]") {
  const std::int32_t C[] = {1, 2};
  std::uint8_t yu[2];
  std::int8_t ys[2];
  CHECK_THROWS_AS(requantize_shift(C, 2, 1, 2, 1, {-1}, yu, 2), Error);   // u8 zero point < 0
  CHECK_THROWS_AS(requantize_shift(C, 2, 1, 2, 1, {128}, ys, 2), Error);  // s8 zero point > 127
  CHECK_THROWS_AS(requantize_shift(C, 2, 1, 2, 1, {0, 10, 5}, yu, 2), Error);  // lo > hi
  CHECK_THROWS_AS(requantize_shift(C, 2, 1, 2, 1, {0, 300}, yu, 2), Error);    // above u8
  CHECK_THROWS_AS(requantize(C, 2, 1, 2, Multiplier{1 << 30, 32}, {}, yu, 2), Error);
  CHECK_THROWS_AS(requantize_shift(C, 2, 1, 2, -1, {}, yu, 2), Error);
  CHECK_THROWS_AS(requantize_shift(C, 2, 1, 2, -1, {}, yu, 2, Isa::scalar), Error);
  CHECK_THROWS_AS(requantize_ref(C, 2, 1, 2, {}, {}, yu, 2), InternalError);  // no multiplier
  // A clamp wider than the type is intersected with it.
  const std::int32_t big[] = {100000, -100000};
  requantize_shift(big, 2, 1, 2, 0, {0, -1000, 1000}, ys, 2);
  CHECK(int(ys[0]) == 127);
  CHECK(int(ys[1]) == -128);
}
