// int8 requantisation with a fine (int64) bias added after the multiplier: hand-computed ties,
// every ISA path bit-exact against the reference and against long double on adversarial
// values (biases near ±2^61, int32 ends, total shifts up to 62, per-column and per-row tables,
// column tails), the shift form equal to the multiplier form with M0 = 2^30, and the refusals.
#include "engine/check.h"
#include "engine/int8/requantize.h"
#include "engine/rng.h"
#include "tests/int8_isas.h"

#include <catch2/catch.hpp>

#include <climits>
#include <cmath>
#include <limits>
#include <vector>

using namespace qb;
using namespace qb::int8;

namespace {

constexpr std::int64_t kBound = std::int64_t(1) << 61;  // |B| < 2^61

std::int64_t random_fine_bias(Rng& rng, int s) {
  switch (rng.uniform_int(5)) {
    case 0:
      return rng.uniform_int(2) ? kBound - 1 : 1 - kBound;
    case 1: {  // a tie of the rounding when x·M0 is a multiple of 2^s: an odd multiple of half
      if (s < 1 || s > 61) return 0;
      const std::int64_t half = std::int64_t(1) << (s - 1);
      const std::int64_t kmax = std::min<std::int64_t>(20, (kBound - half) / (2 * half));
      const std::int64_t k = std::int64_t(rng.uniform_int(std::uint64_t(2 * kmax + 2))) - kmax - 1;
      return k * 2 * half + half;  // |·| ≤ (2·kmax + 1)·half < 2^61
    }
    case 2:
      return std::int64_t(rng.uniform_int(2001)) - 1000;
    default:
      return std::int64_t(rng.next() % std::uint64_t(2 * kBound - 1)) - (kBound - 1);
  }
}

std::int32_t random_x(Rng& rng) {
  switch (rng.uniform_int(4)) {
    case 0: {
      const std::int32_t ends[] = {INT32_MIN, INT32_MAX, 0, 1, -1};
      return ends[rng.uniform_int(5)];
    }
    case 1:
      return std::int32_t(rng.uniform_int(2001)) - 1000;
    default:
      return std::int32_t(std::uint32_t(rng.next()));
  }
}

// The definition in long double: x·M0 + B (|·| < 2^63) is exact in a 64-bit mantissa.
std::uint8_t exact(std::int32_t x, Multiplier mu, std::int64_t b, int zp, int lo, int hi) {
  const long double p = (long double)(std::int64_t(x) * mu.m0 + b);
  const std::int64_t r = std::int64_t(std::nearbyint(std::ldexp(p, mu.e - 31)));
  return std::uint8_t(std::clamp<std::int64_t>(r + zp, std::max(lo, 0), std::min(hi, 255)));
}

}  // namespace

TEST_CASE("a fine bias enters the one rounding, ties to even", "[int8][requant][fine]") {
  // x = 3 at scale 1/2 (M0 = 2^30, e = 0: x·M0 / 2^31) is 1.5; B, in units of 2^−31, moves it.
  const Multiplier half{1 << 30, 0};
  const std::int32_t C[] = {3, 3, 3, 3, 3, 3};
  const std::int64_t B[] = {0, -(1 << 30), 1 << 30, 1, -1, std::int64_t(1) << 31};
  const int want[] = {2, 1, 2, 2, 1, 2};  // 1.5 → 2, 1, 2, 1.5⁺ → 2, 1.5⁻ → 1, 2.5 → 2
  // The shift form, shift 0: (x·2^30 + B) / 2^30 = 3, 3.5 → 4, 2.5 → 2.
  const std::int64_t Bs[] = {0, 1 << 29, -(1 << 29)};
  const int want_s[] = {3, 4, 2};
  for (Isa isa : test::runnable_isas("requantize fine bias")) {
    INFO(isa_name(isa));
    std::uint8_t y[6];
    OutputParams o{10};
    o.fine_bias = B;
    requantize(C, 6, 1, 6, half, o, y, 6, isa);
    for (int n = 0; n < 6; ++n) CHECK(int(y[n]) == 10 + want[n]);
    o.fine_bias = Bs;
    requantize_shift(C, 3, 1, 3, 0, o, y, 3, isa);
    for (int n = 0; n < 3; ++n) CHECK(int(y[n]) == 10 + want_s[n]);
  }
}

TEST_CASE("every fine-bias requantize path is bit-exact against the reference",
          "[int8][requant][fine]") {
  Rng rng(21);
  for (Isa isa : test::runnable_isas("requantize fine bias"))
    for (int N : {1, 3, 7, 8, 9, 15, 16, 17, 31, 33, 70})
      for (int rep = 0; rep < 6; ++rep) {
        const int M = 1 + int(rng.uniform_int(4)), ldc = N + 2, ldy = N + 1;
        const bool per_row = rng.uniform_int(2), per_column = rng.uniform_int(2);
        std::vector<Multiplier> mult(per_column ? N : 1);
        for (auto& mu : mult)  // total shifts 31 − e from 0 to 62, normalised or extreme M0
          mu = {rng.uniform_int(3) ? std::int32_t((1u << 30) + rng.uniform_int(1u << 30))
                                   : std::int32_t(rng.uniform_int(2) ? INT32_MIN : INT32_MAX),
                31 - int(rng.uniform_int(63))};
        std::vector<std::int32_t> C(std::size_t(M) * ldc);
        for (auto& x : C) x = random_x(rng);
        const std::int64_t ld = per_row ? N + 3 : 0;
        std::vector<std::int64_t> B(std::size_t(per_row ? M : 1) * (N + 3));
        for (std::size_t i = 0; i < B.size(); ++i)
          B[i] = random_fine_bias(rng, 31 - mult[(i % (N + 3)) % mult.size()].e);
        OutputParams o{int(rng.uniform_int(256))};
        if (rng.uniform_int(2)) o.lo = o.zero_point;
        o.fine_bias = B.data();
        o.fine_bias_ld = ld;
        std::vector<std::uint8_t> want(std::size_t(M) * ldy, 7), got(want);
        requantize_ref(C.data(), ldc, M, N, mult, o, want.data(), ldy);
        if (per_column)
          requantize(C.data(), ldc, M, N, std::span<const Multiplier>(mult), o, got.data(), ldy,
                     isa);
        else
          requantize(C.data(), ldc, M, N, mult[0], o, got.data(), ldy, isa);
        std::size_t bad = 0, bad_exact = 0;
        for (int m = 0; m < M; ++m)
          for (int n = 0; n < ldy; ++n) {
            const std::size_t i = std::size_t(m) * ldy + n;
            bad += want[i] != got[i];
            if (n < N)
              bad_exact += want[i] != exact(C[std::size_t(m) * ldc + n], mult[n % mult.size()],
                                            B[m * ld + n], o.zero_point, o.lo, o.hi);
          }
        INFO(isa_name(isa) << " M " << M << " N " << N << " per-row " << per_row << " per-column "
                           << per_column);
        CHECK(bad == 0);
        CHECK(bad_exact == 0);
      }
}

TEST_CASE("the shift form with a fine bias is the multiplier form with M0 = 2^30",
          "[int8][requant][fine]") {
  Rng rng(22);
  const int M = 5, N = 19;
  std::vector<std::int32_t> C(M * N);
  for (auto& x : C) x = random_x(rng);
  for (Isa isa : test::runnable_isas("requantize fine bias"))
    for (int shift : {0, 1, 5, 13, 31, 32}) {
      std::vector<std::int64_t> B(N);
      for (auto& b : B) b = random_fine_bias(rng, shift + 30);
      OutputParams o{128};
      o.fine_bias = B.data();
      std::vector<std::uint8_t> by_shift(M * N), by_mult(M * N), ref(M * N);
      requantize_shift(C.data(), N, M, N, shift, o, by_shift.data(), N, isa);
      requantize(C.data(), N, M, N, Multiplier{1 << 30, 1 - shift}, o, by_mult.data(), N, isa);
      requantize_shift_ref(C.data(), N, M, N, shift, o, ref.data(), N);
      INFO(isa_name(isa) << " shift " << shift);
      CHECK(by_shift == by_mult);
      CHECK(by_shift == ref);
    }
}

TEST_CASE("a fine bias beyond 2^61 or a total shift beyond 62 is refused",
          "[int8][requant][fine]") {
  const std::int32_t C[] = {1};
  std::uint8_t y[1];
  std::int64_t b[] = {kBound};
  OutputParams o{0};
  o.fine_bias = b;
  for (Isa isa : test::runnable_isas("requantize fine bias")) {
    CHECK_THROWS_AS(requantize(C, 1, 1, 1, Multiplier{1 << 30, 1}, o, y, 1, isa), Error);
    b[0] = 0;
    CHECK_THROWS_AS(requantize(C, 1, 1, 1, Multiplier{1 << 30, -32}, o, y, 1, isa), Error);
    CHECK_THROWS_AS(requantize_shift(C, 1, 1, 1, 33, o, y, 1, isa), Error);
    CHECK_NOTHROW(requantize(C, 1, 1, 1, Multiplier{1 << 30, -31}, o, y, 1, isa));
    b[0] = kBound;
  }
  // The bounds themselves, anywhere in a per-position table (the check runs over the whole
  // table at once): ±(2^61 − 1) pass, ±2^61 and beyond are refused wherever they sit.
  constexpr int M = 37, N = 3;
  std::vector<std::int32_t> sums(M * N, 5);
  std::vector<std::uint8_t> out(M * N);
  std::vector<std::int64_t> table(M * N, 0);
  OutputParams t{0};
  t.fine_bias = table.data();
  t.fine_bias_ld = N;
  for (Isa isa : test::runnable_isas("requantize fine bias"))
    for (int at : {0, 50, M * N - 1})
      for (std::int64_t v :
           {kBound - 1, -(kBound - 1), kBound, -kBound, std::int64_t(-1) << 62,
            std::numeric_limits<std::int64_t>::min(), std::numeric_limits<std::int64_t>::max()}) {
        table[at] = v;
        const bool inside = v > -kBound && v < kBound;
        INFO(isa_name(isa) << " bias " << v << " at " << at);
        if (inside)
          CHECK_NOTHROW(
              requantize(sums.data(), N, M, N, Multiplier{1 << 30, 1}, t, out.data(), N, isa));
        else
          CHECK_THROWS_AS(
              requantize(sums.data(), N, M, N, Multiplier{1 << 30, 1}, t, out.data(), N, isa),
              Error);
        table[at] = 0;
      }
  // fine_bias_in_range is that check, done once by a caller that then promises it
  // (fine_bias_checked): a table it has checked is not scanned again.
  for (std::int64_t v : {kBound - 1, -(kBound - 1), kBound, -kBound}) {
    table[M * N - 1] = v;
    CHECK(fine_bias_in_range(table.data(), table.size()) == (v > -kBound && v < kBound));
  }
  table[M * N - 1] = 0;
  CHECK(fine_bias_in_range(table.data(), table.size()));
}
