// The vector kernels of wide_requantize_rows (internal to integer/wide_requant.cpp): AVX2 and
// AVX-512, one arithmetic; wide_requant_avx2.cpp says when it is exact (WideAvx2::usable) and
// how.
#pragma once

#include "integer/network.h"
#include "integer/wide_requant.h"

#include <cstdint>
#include <vector>

namespace qb::integer::detail {

// A layer's per-channel constants in int64 lanes.
struct WideAvx2 {
  explicit WideAvx2(const Layer& l);
  bool usable = false;  // false: run the scalar loop
  int even_floor = 0;   // e: L = e·2^s
  std::vector<std::int64_t> m_acc, m_sc, lower, upper, round_add, odd, shift;
};

// wide_requantize_rows on AVX2; `scalar` computes the channels left over when a run is not a
// multiple of four.
void wide_rows_avx2(const WideAvx2& k, const Layer& l, const std::int32_t* acc,
                    const std::uint8_t* shortcut, std::int64_t r0, std::int64_t r1, std::uint8_t* y,
                    const WideScalar& scalar);

// The same on AVX-512 (integer/wide_requant_avx512.cpp): every channel in vectors of eight,
// the last one masked.
void wide_rows_avx512(const WideAvx2& k, const Layer& l, const std::int32_t* acc,
                      const std::uint8_t* shortcut, std::int64_t r0, std::int64_t r1,
                      std::uint8_t* y);

}  // namespace qb::integer::detail
