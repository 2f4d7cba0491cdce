// int16 GEMM with exact sums: the integer training path's kernel for 16-bit operands (APT's
// gradients grow to 16 bits; an 8-bit operand multiplied with one runs here too, widened).
//
//   C[m][n] = Σ_k A[m][k] · B[n][k]      A: M×K, B: N×K, int16, row-major (K contiguous)
//                                        C: M×N int64, row-major
//
// Accumulator: int64, so any K is exact. The AVX2 kernel multiplies with vpmaddwd (16 products
// per instruction, adjacent pairs summed into int32 lanes) and keeps int32 lane sums for a
// block of `block` steps before widening them into int64 accumulators, where
//   block = ⌊(2^31 − 1) / (2 · max|A| · max|B|)⌋      (from the operands' actual maxima)
// so no lane can leave int32: 16×8-bit operands (max 2^15 · 2^7) widen every 255 steps, full
// 16×16-bit ones every step. block = 0 means both operands hold −32768, whose pair
// (−32768)² + (−32768)² = 2^31 vpmaddwd wraps: then the scalar reference runs (APT's codes
// reach −32768 only when a stale shift saturates a gradient). Bit-exact against gemm_s16_ref.
// Rows of C are split over OpenMP's threads (inside an outer parallel loop, one thread).
#pragma once

#include "engine/int8/isa.h"

#include <cstdint>

namespace qb::int8 {

void gemm_s16(int M, int N, int K, const std::int16_t* A, int lda, const std::int16_t* B, int ldb,
              std::int64_t* C, int ldc, Isa isa = best_isa());

// The block above (0: the vector kernel cannot run exactly); max_a, max_b ≤ 32768.
int gemm_s16_block(std::int32_t max_a, std::int32_t max_b);

}  // namespace qb::int8
