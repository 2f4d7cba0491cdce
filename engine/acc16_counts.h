// What methods/ (OAQ's overflow counter, methods/accumulation.h) sees of engine/int8's
// counting kernel; methods/ does not include engine/int8 (tests/layering_test.py).
#pragma once

#include <cstdint>

namespace qb {

// For A (M×K u8, row-major) and W (N×K s8): the exact sums of A·Wᵀ and what the pair-wrap and
// lanes 16-bit accumulators make of them (engine/int8/reference.h), M×N each, on the best ISA
// this CPU has (int8::gemm_exact_pair_lanes).
void exact_pair_lanes(int M, int N, int K, const std::uint8_t* A, const std::int8_t* W,
                      std::int32_t* exact, std::int32_t* pair_wrap, std::int32_t* lanes);

}  // namespace qb
