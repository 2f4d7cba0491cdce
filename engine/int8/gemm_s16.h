// int16 GEMM with exact sums: the integer training path's kernel for 16-bit operands (APT's
// gradients grow to 16 bits; an 8-bit operand multiplied with one runs here too, widened).
//
//   C[m][n] = Σ_k A[m][k] · B[n][k]      A: M×K, B: N×K, int16, row-major (K contiguous)
//                                        C: M×N int64, row-major
//
// Accumulator: int64, so any K is exact. B is packed once (PackedS16) into panels of 16
// columns holding, for each pair of k, the 16 columns' (B[n][2j], B[n][2j+1]) as one int32 —
// the layout vpmaddwd multiplies against a broadcast pair (A[m][2j], A[m][2j+1]). The AVX2
// kernel computes a 4-row × 16-column tile: per pair of k, two loads of B, four broadcasts of A,
// eight vpmaddwd, so its cost does not depend on K being long (APT's dX GEMM has K = the
// output channels, 6–64) — unlike dot products along K, which pay a horizontal sum per result.
// With AVX-512 VNNI (isa avx512vnni) an 8-row tile holds a panel in one zmm and vpdpwssd
// multiplies and adds in one instruction (1.4–1.9× the AVX2 tile in bench_int8_gemm's apt_*
// rows on a Zen 4).
// Lanes keep int32 sums for a block of `block` pairs before widening them into C's int64, where
//   block = ⌊(2^31 − 1) / (2 · max|A| · max|B|)⌋      (from the operands' actual maxima)
// so no lane can leave int32: 16×8-bit operands (max 2^15 · 2^7) widen every 255 pairs, full
// 16×16-bit ones every pair. block = 0 means both operands hold −32768, whose pair
// (−32768)² + (−32768)² = 2^31 vpmaddwd wraps: then the scalar kernel runs (APT's codes reach
// −32768 only when a stale shift saturates a gradient). Bit-exact against gemm_s16_ref.
// Rows of C are split over OpenMP's threads (inside an outer parallel loop, one thread).
#pragma once

#include "engine/int8/isa.h"

#include <cstdint>
#include <vector>

namespace qb::int8 {

// B (N×K, K contiguous) in vpmaddwd panels; K odd is padded with a zero column, N with zero rows
// up to a multiple of kPanel. Packing reuses the storage, so a long-lived PackedS16 repacked
// every step allocates only when it grows.
class PackedS16 {
 public:
  static constexpr int kPanel = 16;

  PackedS16() = default;
  PackedS16(const std::int16_t* B, int N, int K, int ldb) { pack(B, N, K, ldb); }
  void pack(const std::int16_t* B, int N, int K, int ldb);

  int n() const { return n_; }
  int k() const { return k_; }
  int pairs() const { return (k_ + 1) / 2; }
  int panels() const { return (n_ + kPanel - 1) / kPanel; }
  std::int32_t max_abs() const { return max_abs_; }
  // Panel p: pairs() × kPanel int32, pair j of column 16p + i at [j · kPanel + i].
  const std::int32_t* panel(int p) const {
    return data_.data() + std::int64_t(p) * pairs() * kPanel;
  }

 private:
  std::vector<std::int32_t> data_;
  int n_ = 0, k_ = 0;
  std::int32_t max_abs_ = 0;
};

// C = A · Bᵀ with B packed.
void gemm_s16(int M, const std::int16_t* A, int lda, const PackedS16& B, std::int64_t* C, int ldc,
              Isa isa = best_isa());

// The same with B packed on the way (an allocation per call: for tests and one-off products).
void gemm_s16(int M, int N, int K, const std::int16_t* A, int lda, const std::int16_t* B, int ldb,
              std::int64_t* C, int ldc, Isa isa = best_isa());

// The block above (0: the vector kernel cannot run exactly); max_a, max_b ≤ 32768.
int gemm_s16_block(std::int32_t max_a, std::int32_t max_b);

}  // namespace qb::int8
