// int8 GEMM: every ISA path bit-exact against the scalar reference (random and adversarial
// data, awkward shapes, strides, threads), the QB_MAX_ISA cap, and the 16-bit accumulation
// models on crafted inputs with hand-computed results and overflow counts.
#include "engine/check.h"
#include "engine/int8/acc16_models.h"
#include "engine/int8/gemm.h"
#include "engine/int8/reference.h"
#include "engine/rng.h"
#include "tests/int8_isas.h"

#include <omp.h>
#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdlib>
#include <string>
#include <type_traits>
#include <vector>

using namespace qb;
using namespace qb::int8;

namespace {

enum class Fill { random, extremes, max_pos, max_neg, min_min };

const char* fill_name(Fill f) {
  switch (f) {
    case Fill::random:
      return "random";
    case Fill::extremes:
      return "extremes";
    case Fill::max_pos:
      return "max_pos";
    case Fill::max_neg:
      return "max_neg";
    case Fill::min_min:
      return "min_min";
  }
  return "?";
}

// Activations (u8 in [0, 255] or s8 in [-128, 127]) and s8 weights. `extremes` draws only the
// range ends; the constant fills make every product equal: max_pos 255·127 (s8: 127·127),
// max_neg 255·(−128) (s8: 127·(−128)), min_min 0 (s8: (−128)·(−128) = 16384). With u8 the
// first two make every vpmaddubsw pair saturate and the int32 sums reach ±255·128·K.
template <class T>
std::vector<T> make(std::size_t n, Fill f, Rng& rng, bool is_weight) {
  std::vector<T> v(n);
  constexpr int lo = std::is_signed_v<T> ? -128 : 0, hi = std::is_signed_v<T> ? 127 : 255;
  for (auto& x : v) {
    switch (f) {
      case Fill::random:
        x = T(lo + int(rng.uniform_int(hi - lo + 1)));
        break;
      case Fill::extremes:
        x = T(rng.uniform_int(2) ? hi : lo);
        break;
      case Fill::max_pos:
        x = T(hi);
        break;
      case Fill::max_neg:
        x = T(is_weight ? lo : hi);
        break;
      case Fill::min_min:
        x = T(lo);
        break;
    }
  }
  return v;
}

struct Shape {
  int M, N, K;
};

// M = 1, odd M and N, K below / not a multiple of every group (2, 4) and tile, N below and
// across the panel widths (8, 16) and the two-panel tile (16, 32).
constexpr Shape kShapes[] = {{1, 1, 1},  {1, 17, 3},   {7, 5, 13},    {13, 33, 67},  {25, 16, 144},
                             {3, 40, 1}, {12, 48, 64}, {37, 23, 301}, {1, 64, 1001}, {19, 70, 5}};

// The operand ranges a test draws from: the whole of u8/s8, weights clamped to [-64, 63]
// (PackedWeights::narrow() by the weights), or u8 activations clamped to [0, 127] and packed
// with Activations::u7 (narrow() by the promise). The last two run the vpmaddubsw kernels of
// AVX2 and AVX-512BW.
enum class Range { full, narrow_weights, u7_activations };

// Runs one shape through `isa` with padded strides and checks C against gemm_ref, and that
// the padding of C was left alone.
template <class AT>
void check_against_ref(Isa isa, Shape s, Fill fill, std::uint64_t seed, Range range = Range::full) {
  Rng rng(seed);
  const int lda = s.K + 3, ldw = s.K + 1, ldc = s.N + 5;
  auto A = make<AT>(std::size_t(s.M) * lda, fill, rng, false);
  auto W = make<std::int8_t>(std::size_t(s.N) * ldw, fill, rng, true);
  if (range == Range::narrow_weights)
    for (auto& w : W) w = std::int8_t(std::clamp<int>(w, -64, 63));
  if (range == Range::u7_activations)
    for (auto& a : A) a = AT(std::min<int>(a, 127));
  std::vector<std::int32_t> want(std::size_t(s.M) * ldc, -7), got(std::size_t(s.M) * ldc, -7);
  gemm_ref(s.M, s.N, s.K, A.data(), lda, W.data(), ldw, want.data(), ldc);
  const PackedWeights packed(W.data(), s.N, s.K, ldw, isa, Accumulator::int32,
                             range == Range::u7_activations ? Activations::u7 : Activations::any);
  gemm(A.data(), lda, s.M, packed, got.data(), ldc);
  INFO(isa_name(isa) << " A " << (std::is_signed_v<AT> ? "s8" : "u8") << " M " << s.M << " N "
                     << s.N << " K " << s.K << " fill " << fill_name(fill) << " narrow "
                     << packed.narrow());
  if (range != Range::full) CHECK(packed.narrow());
  std::size_t bad = 0;
  for (std::size_t i = 0; i < want.size(); ++i) bad += want[i] != got[i];
  CHECK(bad == 0);
}

}  // namespace

TEST_CASE("int8 reference GEMM equals a product computed by hand", "[int8]") {
  // A (2×3) · Wᵀ with W 2×3.
  const std::uint8_t A[] = {1, 2, 3, 255, 0, 128};
  const std::int8_t W[] = {1, -1, 2, -128, 127, 0};
  std::int32_t C[4];
  gemm_ref(2, 2, 3, A, 3, W, 3, C, 2);
  CHECK(C[0] == 1 - 2 + 6);
  CHECK(C[1] == -128 + 254);
  CHECK(C[2] == 255 + 256);
  CHECK(C[3] == -255 * 128);
  const std::int8_t As[] = {-128, 127, -1};
  gemm_ref(1, 2, 3, As, 3, W, 3, C, 2);
  CHECK(C[0] == -128 - 127 - 2);
  CHECK(C[1] == 128 * 128 + 127 * 127);
}

TEST_CASE("every int8 GEMM path is bit-exact against the scalar reference", "[int8]") {
  std::uint64_t seed = 1;
  for (Isa isa : test::runnable_isas("int8 GEMM"))
    for (Shape s : kShapes)
      for (Fill f : {Fill::random, Fill::extremes, Fill::max_pos, Fill::max_neg, Fill::min_min}) {
        check_against_ref<std::uint8_t>(isa, s, f, ++seed);
        check_against_ref<std::int8_t>(isa, s, f, ++seed);
      }
}

TEST_CASE("int8 GEMM paths are bit-exact on narrow weights", "[int8]") {
  std::uint64_t seed = 500;
  for (Isa isa : test::runnable_isas("int8 GEMM"))
    for (Shape s : kShapes)
      for (Fill f : {Fill::random, Fill::extremes, Fill::max_pos, Fill::max_neg, Fill::min_min}) {
        check_against_ref<std::uint8_t>(isa, s, f, ++seed, Range::narrow_weights);
        check_against_ref<std::int8_t>(isa, s, f, ++seed, Range::narrow_weights);
      }
  // One weight outside [-64, 63] takes the general path.
  std::vector<std::int8_t> W(6 * 5, 63);
  CHECK(PackedWeights(W.data(), 6, 5, 5).narrow());
  W[17] = -65;
  CHECK(!PackedWeights(W.data(), 6, 5, 5).narrow());
  W[17] = -64;
  CHECK(PackedWeights(W.data(), 6, 5, 5).narrow());
  W[29] = 64;
  CHECK(!PackedWeights(W.data(), 6, 5, 5).narrow());
}

// repack keeps the ISA but not the shape, the narrowness or the padding of the weights before:
// large, then smaller (storage reused: stale panels must not leak into the padding), then wide
// weights after narrow ones (another kernel), then larger again (storage grown).
TEST_CASE("PackedWeights::repack computes each new product on every ISA", "[int8]") {
  const Shape shapes[] = {{9, 40, 301}, {7, 5, 13}, {12, 48, 64}, {13, 70, 1001}};
  for (Isa isa : test::runnable_isas("int8 GEMM")) {
    Rng rng(900);
    PackedWeights packed;
    bool first = true;
    for (std::size_t i = 0; i < std::size(shapes); ++i) {
      const Shape s = shapes[i];
      INFO(isa_name(isa) << " repack " << i << ": M " << s.M << " N " << s.N << " K " << s.K);
      auto A = make<std::uint8_t>(std::size_t(s.M) * s.K, Fill::random, rng, false);
      auto W = make<std::int8_t>(std::size_t(s.N) * s.K, Fill::random, rng, true);
      if (i == 1)
        for (auto& w : W) w = std::int8_t(std::clamp<int>(w, -64, 63));
      if (first)
        packed = PackedWeights(W.data(), s.N, s.K, s.K, isa);
      else
        packed.repack(W.data(), s.N, s.K, s.K);
      first = false;
      CHECK(packed.isa() == isa);
      CHECK(packed.narrow() == (i == 1));
      std::vector<std::int32_t> want(std::size_t(s.M) * s.N), got(want.size(), -7);
      gemm_ref(s.M, s.N, s.K, A.data(), s.K, W.data(), s.K, want.data(), s.N);
      gemm(A.data(), s.K, s.M, packed, got.data(), s.N);
      CHECK(got == want);
    }
  }
}

TEST_CASE("int8 GEMM paths are bit-exact on activations promised u7", "[int8]") {
  std::uint64_t seed = 900;
  for (Isa isa : test::runnable_isas("int8 GEMM"))
    for (Shape s : kShapes)
      for (Fill f : {Fill::random, Fill::extremes, Fill::max_pos, Fill::max_neg, Fill::min_min})
        check_against_ref<std::uint8_t>(isa, s, f, ++seed, Range::u7_activations);
  // The promise makes any weights narrow(); s8 activations are not covered by it.
  const std::vector<std::int8_t> W(4 * 6, -128);
  const PackedWeights u7(W.data(), 4, 6, 6, best_isa(), Accumulator::int32, Activations::u7);
  CHECK(u7.narrow());
  CHECK(!PackedWeights(W.data(), 4, 6, 6).narrow());
  const std::vector<std::int8_t> As(6, 1);
  std::vector<std::int32_t> C(4);
  CHECK_THROWS_AS(gemm(As.data(), 6, 1, u7, C.data(), 4), Error);
}

TEST_CASE("a broken u7 promise saturates pairs on the vpmaddubsw kernels, as documented",
          "[int8]") {
  // 255·(−128) + 255·(−128) = −65280 saturates to −32768 per pair on AVX2 and AVX-512BW (the
  // pair_saturate model); scalar and VNNI kernels still give the exact sum.
  Rng rng(31);
  const int M = 7, N = 19, K = 36;
  auto A = make<std::uint8_t>(std::size_t(M) * K, Fill::extremes, rng, false);
  auto W = make<std::int8_t>(std::size_t(N) * K, Fill::extremes, rng, true);
  std::vector<std::int32_t> exact(std::size_t(M) * N), saturated(exact.size());
  gemm_ref(M, N, K, A.data(), K, W.data(), K, exact.data(), N);
  CHECK(gemm_acc16_ref(Acc16::pair_saturate, M, N, K, A.data(), K, W.data(), K, saturated.data(), N,
                       true) > 0);
  for (Isa isa : test::runnable_isas("int8 GEMM")) {
    INFO(isa_name(isa));
    const PackedWeights packed(W.data(), N, K, K, isa, Accumulator::int32, Activations::u7);
    std::vector<std::int32_t> got(exact.size());
    gemm(A.data(), K, M, packed, got.data(), N);
    const bool pairs = isa == Isa::avx2 || isa == Isa::avx512bw;
    CHECK(got == (pairs ? saturated : exact));
  }
}

TEST_CASE("int8 GEMM paths stay exact at the largest K", "[int8]") {
  // Σ 255·(−128) over K = kMaxK is −2,139,095,040: the int32 range nearly used up.
  for (Isa isa : test::runnable_isas("int8 GEMM")) {
    check_against_ref<std::uint8_t>(isa, {2, 17, kMaxK}, Fill::max_neg, 11);
    check_against_ref<std::uint8_t>(isa, {2, 17, kMaxK}, Fill::max_pos, 12);
    check_against_ref<std::int8_t>(isa, {2, 17, kMaxK}, Fill::max_neg, 13);
    check_against_ref<std::uint8_t>(isa, {2, 17, kMaxK}, Fill::max_neg, 14, Range::narrow_weights);
    check_against_ref<std::int8_t>(isa, {2, 17, kMaxK}, Fill::max_pos, 15, Range::narrow_weights);
    check_against_ref<std::uint8_t>(isa, {2, 17, kMaxK}, Fill::max_neg, 16, Range::u7_activations);
  }
}

TEST_CASE("int8 GEMM gives the same result on one and two threads", "[int8]") {
  const int saved = omp_get_max_threads();
  for (Isa isa : test::runnable_isas("int8 GEMM")) {
    Rng rng(5);
    const int M = 203, N = 37, K = 99;
    auto A = make<std::uint8_t>(std::size_t(M) * K, Fill::random, rng, false);
    auto W = make<std::int8_t>(std::size_t(N) * K, Fill::random, rng, true);
    const PackedWeights packed(W.data(), N, K, K, isa);
    std::vector<std::int32_t> one(std::size_t(M) * N), two(std::size_t(M) * N);
    omp_set_num_threads(1);
    gemm(A.data(), K, M, packed, one.data(), N);
    omp_set_num_threads(2);
    gemm(A.data(), K, M, packed, two.data(), N);
    INFO(isa_name(isa));
    CHECK(one == two);
  }
  omp_set_num_threads(saved);
}

TEST_CASE("QB_MAX_ISA caps the int8 ISA and unknown names are refused", "[int8]") {
  test::MaxIsaGuard guard;
  for (Isa isa : kAllIsas) CHECK(parse_isa(isa_name(isa)) == isa);
  setenv("QB_MAX_ISA", "scalar", 1);
  CHECK(best_isa() == Isa::scalar);
  std::vector<std::int8_t> W(4 * 3, 1);
  CHECK(PackedWeights(W.data(), 4, 3, 3).isa() == Isa::scalar);
  for (Isa cap : kAllIsas) {
    setenv("QB_MAX_ISA", isa_name(cap), 1);
    const Isa got = best_isa();
    CHECK(got <= cap);
    CHECK(cpu_has(got));
    if (cpu_has(cap)) CHECK(got == cap);
  }
  setenv("QB_MAX_ISA", "avx9000", 1);
  CHECK_THROWS_AS(best_isa(), Error);
  unsetenv("QB_MAX_ISA");
  CHECK(cpu_has(best_isa()));
}

TEST_CASE("16-bit accumulation models equal their definitions on crafted dot products", "[int8]") {
  std::int32_t c = 0;
  auto one = [&](Acc16 model, auto a, const std::int8_t* w, int K) {
    gemm_acc16_ref(model, 1, 1, K, a, K, w, K, &c, 1, false);
    return c;
  };
  {
    // 255·127 twice: 64770 exact.
    const std::uint8_t a[] = {255, 255};
    const std::int8_t w[] = {127, 127};
    CHECK(one(Acc16::wrap, a, w, 2) == 64770 - 65536);
    CHECK(one(Acc16::saturate, a, w, 2) == 32767);
    CHECK(one(Acc16::pair_saturate, a, w, 2) == 32767);
  }
  {
    // Exact −510 (inside int16) through partial sums that leave it: 32385, 64770, 32130, −510.
    const std::uint8_t a[] = {255, 255, 255, 255};
    const std::int8_t w[] = {127, 127, -128, -128};
    CHECK(one(Acc16::wrap, a, w, 4) == -510);  // wrapping is exact whenever the end fits
    // 32385, then 32767 (saturated), 127, −32513.
    CHECK(one(Acc16::saturate, a, w, 4) == -32513);
    // sat16(64770) + sat16(−65280) = 32767 − 32768.
    CHECK(one(Acc16::pair_saturate, a, w, 4) == -1);
    // The same pairs added in 16 bits: 32767 + (−32768) = −1, no wrap needed.
    CHECK(one(Acc16::pair_wrap, a, w, 4) == -1);
  }
  {
    // pair-wrap: saturated pairs 32767 three times wrap: 98301 − 65536.
    const std::uint8_t a[] = {255, 255, 255, 255, 255, 255};
    const std::int8_t w[] = {127, 127, 127, 127, 127, 127};
    CHECK(one(Acc16::pair_wrap, a, w, 6) == 3 * 32767 - 65536);
    CHECK(one(Acc16::wrap, a, w, 6) == 6 * 32385 - 3 * 65536);
    // Pairs that do not saturate (7-bit activations) make pair-wrap equal wrap.
    const std::uint8_t a7[] = {127, 127, 127, 127, 127, 127};
    CHECK(one(Acc16::pair_wrap, a7, w, 6) == one(Acc16::wrap, a7, w, 6));
    CHECK(one(Acc16::pair_wrap, a7, w, 6) == 6 * 127 * 127 - 65536);
  }
  {
    // Odd K: the last product is paired with 0.
    const std::uint8_t a[] = {255, 255, 255};
    const std::int8_t w[] = {127, 127, 127};
    CHECK(one(Acc16::pair_saturate, a, w, 3) == 32767 + 32385);
    CHECK(one(Acc16::saturate, a, w, 3) == 32767);
    CHECK(one(Acc16::wrap, a, w, 3) == 3 * 32385 - 65536);
    CHECK(one(Acc16::pair_wrap, a, w, 3) == 32767 + 32385 - 65536);
  }
  {
    // s8 × s8: (−128)·(−128) twice is 32768, one past int16.
    const std::int8_t a[] = {-128, -128};
    const std::int8_t w[] = {-128, -128};
    CHECK(one(Acc16::wrap, a, w, 2) == -32768);
    CHECK(one(Acc16::saturate, a, w, 2) == 32767);
    CHECK(one(Acc16::pair_saturate, a, w, 2) == 32767);
  }
  for (Acc16 m : {Acc16::wrap, Acc16::saturate, Acc16::pair_saturate, Acc16::pair_wrap})
    CHECK(parse_acc16(acc16_name(m)) == m);
  CHECK_THROWS_AS(parse_acc16("round"), Error);
}

TEST_CASE("16-bit accumulation counts the dot products that differ from the exact sum", "[int8]") {
  // Exact sums: row 0 · (−515, 10), row 1 · (−510, 1020), row 2 · (64770, 510).
  const std::uint8_t A[] = {1, 2, 3, 4, 255, 255, 255, 255, 255, 255, 0, 0};
  const std::int8_t W[] = {127, 127, -128, -128, 1, 1, 1, 1};
  std::int32_t C[6];
  // wrap differs only where the exact sum leaves int16 (64770).
  CHECK(gemm_acc16_ref(Acc16::wrap, 3, 2, 4, A, 4, W, 4, C, 2, true) == 1);
  // saturate: row 1 (partial sums leave int16) and row 2 (the end does).
  CHECK(gemm_acc16_ref(Acc16::saturate, 3, 2, 4, A, 4, W, 4, C, 2, true) == 2);
  CHECK(C[2] == -32513);
  CHECK(C[4] == 32767);
  // pair-saturate: both pairs of row 1 saturate (to different sides), row 2's first does.
  CHECK(gemm_acc16_ref(Acc16::pair_saturate, 3, 2, 4, A, 4, W, 4, C, 2, true) == 2);
  CHECK(C[2] == -1);
  CHECK(C[0] == -515);
  CHECK(gemm_acc16_ref(Acc16::saturate, 3, 2, 4, A, 4, W, 4, C, 2, false) == 0);

  // On random data, wrap is the exact sum mod 2^16, and the count matches a direct count.
  Rng rng(9);
  const int M = 9, N = 11, K = 300;
  auto Ar = make<std::uint8_t>(std::size_t(M) * K, Fill::random, rng, false);
  auto Wr = make<std::int8_t>(std::size_t(N) * K, Fill::random, rng, true);
  std::vector<std::int32_t> exact(M * N), wrapped(M * N);
  gemm_ref(M, N, K, Ar.data(), K, Wr.data(), K, exact.data(), N);
  const auto n =
      gemm_acc16_ref(Acc16::wrap, M, N, K, Ar.data(), K, Wr.data(), K, wrapped.data(), N, true);
  std::int64_t direct = 0;
  for (int i = 0; i < M * N; ++i) {
    CHECK(wrapped[i] == std::int32_t(std::int16_t(std::uint16_t(exact[i]))));
    direct += wrapped[i] != exact[i];
  }
  CHECK(n == direct);
  CHECK(n > 0);
}

TEST_CASE("16-bit accumulation GEMM is bit-exact against the pair-wrap reference", "[int8]") {
  std::uint64_t seed = 100;
  for (Isa isa : {Isa::scalar, Isa::avx2}) {
    if (!cpu_has(isa)) {
      WARN("int8 GEMM: this CPU lacks " << isa_name(isa) << "; gemm_acc16 is not tested there");
      continue;
    }
    for (Shape s : kShapes)
      for (Fill f : {Fill::random, Fill::extremes, Fill::max_pos, Fill::max_neg, Fill::min_min}) {
        Rng rng(++seed);
        const int lda = s.K + 3, ldw = s.K + 1, ldc = s.N + 5;
        auto A = make<std::uint8_t>(std::size_t(s.M) * lda, f, rng, false);
        auto W = make<std::int8_t>(std::size_t(s.N) * ldw, f, rng, true);
        std::vector<std::int32_t> want(std::size_t(s.M) * ldc, -7), got(want);
        gemm_acc16_ref(Acc16::pair_wrap, s.M, s.N, s.K, A.data(), lda, W.data(), ldw, want.data(),
                       ldc, false);
        const PackedWeights packed(W.data(), s.N, s.K, ldw, isa, Accumulator::int16);
        gemm_acc16(A.data(), lda, s.M, packed, got.data(), ldc);
        INFO(isa_name(isa) << " M " << s.M << " N " << s.N << " K " << s.K << " fill "
                           << fill_name(f));
        CHECK(want == got);
      }
  }
}

TEST_CASE("16-bit accumulation GEMM on 7-bit activations wraps exactly", "[int8]") {
  // Activations ≤ 127 never saturate a pair, so the kernel computes the exact sum mod 2^16 —
  // the exact sum itself wherever that fits in int16.
  Rng rng(3);
  const int M = 50, N = 40, K = 200;
  std::vector<std::uint8_t> A(std::size_t(M) * K);
  for (auto& a : A) a = std::uint8_t(rng.uniform_int(128));
  auto W = make<std::int8_t>(std::size_t(N) * K, Fill::random, rng, true);
  std::vector<std::int32_t> exact(std::size_t(M) * N), got(exact.size());
  gemm_ref(M, N, K, A.data(), K, W.data(), K, exact.data(), N);
  const PackedWeights packed(W.data(), N, K, K, best_isa(), Accumulator::int16);
  gemm_acc16(A.data(), K, M, packed, got.data(), N);
  int fits = 0;
  for (std::size_t i = 0; i < exact.size(); ++i) {
    CHECK(got[i] == std::int32_t(std::int16_t(std::uint16_t(exact[i]))));
    fits += exact[i] >= -32768 && exact[i] <= 32767;
  }
  CHECK(fits > 0);
  CHECK(fits < M * N);  // both kinds occur, so the check sees wrapped sums too
}

TEST_CASE("16-bit accumulation GEMM packing and threads", "[int8]") {
  Rng rng(8);
  const int M = 203, N = 37, K = 99;
  auto A = make<std::uint8_t>(std::size_t(M) * K, Fill::random, rng, false);
  auto W = make<std::int8_t>(std::size_t(N) * K, Fill::random, rng, true);
  const PackedWeights packed(W.data(), N, K, K, best_isa(), Accumulator::int16);
  CHECK(packed.isa() <= Isa::avx2);  // the 16-bit kernel is AVX2 on every wider CPU
  const int saved = omp_get_max_threads();
  std::vector<std::int32_t> one(std::size_t(M) * N), two(std::size_t(M) * N);
  omp_set_num_threads(1);
  gemm_acc16(A.data(), K, M, packed, one.data(), N);
  omp_set_num_threads(2);
  gemm_acc16(A.data(), K, M, packed, two.data(), N);
  omp_set_num_threads(saved);
  CHECK(one == two);
  // Weights packed for one product are refused by the other.
  const PackedWeights packed32(W.data(), N, K, K);
  CHECK_THROWS_AS(gemm_acc16(A.data(), K, M, packed32, one.data(), N), Error);
  CHECK_THROWS_AS(gemm(A.data(), K, M, packed, one.data(), N), Error);
}

TEST_CASE("int8 GEMM called inside a parallel region computes every row", "[int8]") {
  // A nested region gets a team of one: the row split must follow the team, not the request.
  Rng rng(21);
  const int M = 130, N = 9, K = 40;
  auto A = make<std::uint8_t>(std::size_t(M) * K, Fill::random, rng, false);
  auto W = make<std::int8_t>(std::size_t(N) * K, Fill::random, rng, true);
  std::vector<std::int32_t> want(std::size_t(M) * N);
  gemm_ref(M, N, K, A.data(), K, W.data(), K, want.data(), N);
  const PackedWeights packed(W.data(), N, K, K);
  const int saved = omp_get_max_threads();
  omp_set_num_threads(2);
  std::vector<std::vector<std::int32_t>> got(2, std::vector<std::int32_t>(want.size(), -1));
#pragma omp parallel num_threads(2)
  gemm(A.data(), K, M, packed, got[omp_get_thread_num()].data(), N);
  omp_set_num_threads(saved);
  CHECK(got[0] == want);
  if (omp_get_max_threads() > 1) CHECK(got[1] == want);
}

// The integer engine's counting paths: gemm_acc16_models equals the reference model by model,
// result and count, on every ISA; full-range codes overflow often, small ones never; odd K
// (the last pair's partner is 0), N not a multiple of 16, K across several lane blocks, strides.
TEST_CASE("gemm_acc16_models and gemm_exact_pair_lanes equal the references on every ISA",
          "[int8][acc16]") {
  struct Shape {
    int M, N, K, lda, ldw, ldc;
  };
  const Shape shapes[] = {{5, 1, 9, 9, 9, 1},         {7, 17, 33, 33, 33, 17},
                          {3, 40, 144, 150, 144, 41}, {2, 16, 577, 577, 580, 16},
                          {4, 3, 1, 1, 1, 3},         {6, 32, 16, 16, 16, 32}};
  Rng rng(2026);
  for (const Shape& s : shapes)
    for (const int range : {256, 12}) {  // full range overflows 16 bits; 0..11 never does
      std::vector<std::uint8_t> A(std::size_t(s.M) * s.lda);
      std::vector<std::int8_t> W(std::size_t(s.N) * s.ldw);
      for (auto& a : A) a = std::uint8_t(rng.uniform_int(range));
      for (auto& w : W) w = std::int8_t(int(rng.uniform_int(range)) - range / 2);
      std::vector<std::int32_t> exact(std::size_t(s.M) * s.N);
      gemm_ref(s.M, s.N, s.K, A.data(), s.lda, W.data(), s.ldw, exact.data(), s.N);
      {  // OAQ's counter: exact, pair-wrap and lanes in one pass
        std::vector<std::int32_t> pair(exact.size()), lanes(exact.size());
        gemm_acc16_ref(Acc16::pair_wrap, s.M, s.N, s.K, A.data(), s.lda, W.data(), s.ldw,
                       pair.data(), s.N, false);
        gemm_acc16_ref(Acc16::lanes, s.M, s.N, s.K, A.data(), s.lda, W.data(), s.ldw, lanes.data(),
                       s.N, false);
        for (Isa isa : test::runnable_isas("gemm_exact_pair_lanes")) {
          INFO("exact/pair/lanes M" << s.M << " N" << s.N << " K" << s.K << " " << isa_name(isa));
          std::vector<std::int32_t> e(exact.size(), -1), p(exact.size(), -1), l(exact.size(), -1);
          gemm_exact_pair_lanes(s.M, s.N, s.K, A.data(), s.lda, W.data(), s.ldw, e.data(), p.data(),
                                l.data(), s.N, isa);
          CHECK(e == exact);
          CHECK(p == pair);
          CHECK(l == lanes);
        }
      }
      for (const auto& row : kAcc16Rows) {
        std::vector<std::int32_t> want(std::size_t(s.M) * s.ldc, -1);
        const std::int64_t want_count = gemm_acc16_ref(row.value, s.M, s.N, s.K, A.data(), s.lda,
                                                       W.data(), s.ldw, want.data(), s.ldc, true);
        if (range == 256 && s.K >= 144) CHECK(want_count > 0);  // the check can fail
        if (range == 12) CHECK(want_count == 0);
        for (Isa isa : test::runnable_isas("gemm_acc16_models")) {
          INFO(row.name << " M" << s.M << " N" << s.N << " K" << s.K << " range " << range << " "
                        << isa_name(isa));
          std::vector<std::int32_t> got(want.size(), -1);
          const std::int64_t count =
              gemm_acc16_models(row.value, s.M, s.N, s.K, A.data(), s.lda, W.data(), s.ldw,
                                exact.data(), s.N, got.data(), s.ldc, isa);
          CHECK(count == want_count);
          for (int m = 0; m < s.M; ++m)
            for (int n = 0; n < s.N; ++n)
              CHECK(got[std::size_t(m) * s.ldc + n] == want[std::size_t(m) * s.ldc + n]);
        }
      }
    }
}
