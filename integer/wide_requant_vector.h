// The vector kernels of wide_requantize_rows (internal to integer/wide_requant.cpp), AVX2 and
// AVX-512, and the per-channel constants they share. One arithmetic on int64 lanes: AVX2 has
// no 64×64 multiply and no variable arithmetic shift of int64 lanes, so the kernels run only
// where they stay exact without them (WideVector::usable):
//   · |m_acc|, |m_sc| < 2^31: vpmuldq multiplies the low 32 bits of each lane exactly, and
//     x and s − z_sc are int32 values;
//   · every fine bias |B| < 2^61 (what export promises): added in the 64-bit lanes, v stays
//     below 2^62 + 2^61 + 2^39 in magnitude, inside int64;
//   · lo ≤ zero_point ≤ hi and every shift ≤ 54: v is first clamped to
//     [L, H] = [e·2^s, (hi − zp + 1)·2^s], e the even one of lo − zp − 1, lo − zp − 2 —
//     rounding is monotone, so values beyond those bounds give the same clamped code — then
//     u = v − L ∈ [0, 259·2^s] < 2^63 is unsigned, rounded by logical shifts (vpsrlvq):
//     rhe(v / 2^s) = rhe(u / 2^s) + e, since shifting by an even integer keeps ties to even.
#pragma once

#include "integer/network.h"
#include "integer/wide_requant.h"

#include <cstdint>
#include <vector>

namespace qb::integer::detail {

// A layer's per-channel constants in int64 lanes.
struct WideVector {
  explicit WideVector(const Layer& l);
  bool usable = false;  // false: run the scalar loop
  int even_floor = 0;   // e: L = e·2^s
  std::vector<std::int64_t> m_acc, m_sc, lower, upper, round_add, odd, shift;
};

// wide_requantize_rows on AVX2; `scalar` computes the channels left over when a run is not a
// multiple of four.
void wide_rows_avx2(const WideVector& k, const Layer& l, const std::int32_t* acc,
                    const std::uint8_t* shortcut, std::int64_t r0, std::int64_t r1, std::uint8_t* y,
                    const WideScalar& scalar);

// The same on AVX-512 (integer/wide_requant_avx512.cpp): every channel in vectors of eight,
// the last one masked.
void wide_rows_avx512(const WideVector& k, const Layer& l, const std::int32_t* acc,
                      const std::uint8_t* shortcut, std::int64_t r0, std::int64_t r1,
                      std::uint8_t* y);

}  // namespace qb::integer::detail
