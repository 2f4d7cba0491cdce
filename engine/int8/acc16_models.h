// The 16-bit accumulation models of reference.h (wrap, saturate, pair-saturate, pair-wrap,
// lanes) over a whole GEMM, fast, for the integer engine's counting paths: C receives each dot
// product as the model computes it and the return value counts those that differ from the
// exact sum. Bit for bit gemm_acc16_ref(model, ..., count=true), for every ISA (tested).
//
// How, given the exact int32 sums of the same GEMM (the caller's fast kernel has them):
//   wrap         C = exact mod 2^16: modular addition does not care about order, so the
//                sequential wrapped sum is the wrapped exact sum. No pass over K.
//   the others   AVX2, 16 output columns per vector, k in the model's order: each product
//                a·w fits int16 (|a·w| ≤ 255·128) so vpmullw forms it exactly; vpaddw is
//                the wrapping add, vpaddsw the saturating one, and vpaddsw of two products is
//                sat16 of their pair sum; `lanes` keeps its 8 lane accumulators per column in
//                8 vectors. The weights are transposed to [K][N] int16 once per call.
//   scalar       gemm_acc16_ref.
#pragma once

#include "engine/int8/isa.h"
#include "engine/int8/reference.h"

#include <cstdint>

namespace qb::int8 {

// A: M×K u8 (lda), W: N×K s8 (ldw), exact: M×N (lde) = A·Wᵀ exactly, C: M×N (ldc).
std::int64_t gemm_acc16_models(Acc16 model, int M, int N, int K, const std::uint8_t* A, int lda,
                               const std::int8_t* W, int ldw, const std::int32_t* exact, int lde,
                               std::int32_t* C, int ldc, Isa isa);

// One pass for OAQ's overflow counter (methods/accumulation.h): the exact sums of A·Wᵀ and its
// pair-wrap and lanes results, each as gemm_ref / gemm_acc16_ref computes it (tested), the
// same way 16 columns a vector on AVX2 (exact: the vpmullw products widened to int32), by the
// references on scalar. All three outputs M×N with leading dimension ldc. Allocates nothing
// once a thread has seen its largest K·N (OAQ counts inside the training loop).
void gemm_exact_pair_lanes(int M, int N, int K, const std::uint8_t* A, int lda,
                           const std::int8_t* W, int ldw, std::int32_t* exact,
                           std::int32_t* pair_wrap, std::int32_t* lanes, int ldc, Isa isa);

}  // namespace qb::int8
