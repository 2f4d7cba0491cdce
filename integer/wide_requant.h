// The requantisation of a conv that ends a residual block or is globally average-pooled
// (network.h, Wide): per output pixel p and channel c
//   v_p = m_acc[c] · x_p + B + m_sc[c] · (s_p − shortcut.zero_point)      int64
// (B = requant.bias_at(p, c): the fine bias, per channel or per position)
// then one rounding, half to even, by 2^shift[c] (pooled: of Σ_p clamp(v_p, v_lo, v_hi)).
// The integer engine's fast path; the exact simulation (integer/reference.cpp) computes the
// same by its own plain loops, and the engine is tested equal to it bit for bit. `isa` above
// scalar runs the AVX2 kernel (integer/wide_requant_avx2.cpp) where it is exact, else the
// scalar loop.
#pragma once

#include "engine/int8/isa.h"
#include "integer/network.h"

#include <cstdint>

namespace qb::integer {

// The whole batch: acc the conv's sums [N][Ho][Wo][C_out]; shortcut layer l.shortcut.from's
// codes (or null); y [N][Ho][Wo][C_out] codes, or [N][C_out] when pooled. Split across threads.
void wide_requantize(const Layer& l, const std::int32_t* acc, const std::uint8_t* shortcut, int N,
                     std::uint8_t* y, int8::Isa isa);

// Output pixels [r0, r1) of a layer that is not pooled (pixel r = (n·Ho + oy)·Wo + ox), on the
// calling thread: acc holds their sums, pixel r0 first; y is the whole output.
void wide_requantize_rows(const Layer& l, const std::int32_t* acc, const std::uint8_t* shortcut,
                          std::int64_t r0, std::int64_t r1, std::uint8_t* y, int8::Isa isa);

}  // namespace qb::integer
