// int8::gemm_s16, the integer training path's 16-bit GEMM, against its scalar reference on every
// ISA this CPU runs (scalar, the AVX2 tile for avx2 … avx512bw, the vpdpwssd tile for
// avx512vnni); the emulation build runs the same cases on SIMDe's model of each instruction.
#include "engine/int8/gemm_s16.h"
#include "engine/int8/reference.h"
#include "tests/int8_isas.h"

#include <catch2/catch.hpp>

#include <random>
#include <tuple>
#include <utility>
#include <vector>

using namespace qb;

namespace {

std::vector<std::int16_t> random_s16(std::size_t n, int lo, int hi, std::mt19937& rng) {
  std::uniform_int_distribution<int> d(lo, hi);
  std::vector<std::int16_t> v(n);
  for (auto& x : v) x = std::int16_t(d(rng));
  return v;
}

void check_s16(int M, int N, int K, std::vector<std::int16_t> A, std::vector<std::int16_t> B,
               int8::Isa isa) {
  std::vector<std::int64_t> got(std::size_t(M) * N, -1), want(std::size_t(M) * N, -2);
  int8::gemm_s16(M, N, K, A.data(), K, B.data(), K, got.data(), N, isa);
  int8::gemm_s16_ref(M, N, K, A.data(), K, B.data(), K, want.data(), N);
  CHECK(got == want);
}

}  // namespace

TEST_CASE("gemm_s16: exact int64 sums, equal to the reference", "[fixed][int16]") {
  std::mt19937 rng(7);
  using Size = std::tuple<int, int, int>;
  // Tails of every tile dimension (rows mod 4 and mod 8, columns mod 16, K odd), K = 0, APT's
  // short dX reductions (K = output channels), and K long enough to widen 16 × 8-bit sums twice.
  const Size sizes[] = {{1, 1, 1},      {3, 5, 17},     {33, 7, 100}, {64, 9, 1024},
                        {100, 150, 16}, {7, 33, 6},     {6, 17, 15},  {4, 16, 0},
                        {5, 32, 1},     {37, 48, 1031}, {10, 16, 64}};
  for (const int8::Isa isa : int8::test::runnable_isas("gemm_s16"))
    for (const auto& [M, N, K] : sizes) {
      INFO(int8::isa_name(isa) << " M=" << M << " N=" << N << " K=" << K);
      const std::size_t a = std::size_t(M) * K, b = std::size_t(N) * K;
      // Full range on one side, −32768 excluded on the other: one step per block.
      check_s16(M, N, K, random_s16(a, -32768, 32767, rng), random_s16(b, -32767, 32767, rng), isa);
      // 16 × 8 bits: long int32 blocks.
      check_s16(M, N, K, random_s16(a, -32768, 32767, rng), random_s16(b, -128, 127, rng), isa);
      // Both hold −32768: the pair vpmaddwd wraps, so the reference runs.
      std::vector<std::int16_t> A(a, -32768), B(b, -32768);
      check_s16(M, N, K, A, B, isa);
    }
}

TEST_CASE("gemm_s16: a PackedS16 repacked smaller computes the new product", "[fixed][int16]") {
  std::mt19937 rng(11);
  int8::PackedS16 packed;
  for (const auto& [N, K] : {std::pair{40, 33}, std::pair{9, 7}, std::pair{17, 20}}) {
    INFO("N=" << N << " K=" << K);
    const int M = 6;
    const auto A = random_s16(std::size_t(M) * K, -32767, 32767, rng);
    const auto B = random_s16(std::size_t(N) * K, -32767, 32767, rng);
    packed.pack(B.data(), N, K, K);
    std::vector<std::int64_t> got(std::size_t(M) * N, -1), want(std::size_t(M) * N, -2);
    int8::gemm_s16(M, A.data(), K, packed, got.data(), N);
    int8::gemm_s16_ref(M, N, K, A.data(), K, B.data(), K, want.data(), N);
    CHECK(got == want);
  }
}

TEST_CASE("gemm_s16: the int32 block follows the operands' maxima", "[fixed][int16]") {
  CHECK(int8::gemm_s16_block(32768, 32768) == 0);  // 2·2^30 = 2^31 leaves int32
  CHECK(int8::gemm_s16_block(32767, 32768) == 1);  // one pair fits, two do not
  CHECK(int8::gemm_s16_block(32768, 128) == 255);  // ⌊(2^31 − 1) / 2^23⌋
  CHECK(int8::gemm_s16_block(128, 128) == 65535);  // (2^31 − 1) / 2^15
  CHECK(int8::gemm_s16_block(0, 5) == (1 << 20));  // zeros: any block
}
