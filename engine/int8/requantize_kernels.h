// The SIMD kernels behind qb::int8::requantize* (internal to engine/int8). Compiled with
// function-level target attributes, as engine/int8/kernels.h explains.
#pragma once

#include <cstdint>

namespace qb::int8::detail {

struct RequantArgs {
  const std::int32_t* C;
  int ldc, N;
  const std::int32_t* bias;  // N values or null
  // Multiplier kernels: added to x · M0 before the rounding; row r at fine_bias + r · ld.
  const std::int64_t* fine_bias;  // or null
  std::int64_t fine_bias_ld;
  // Multiplier kernels: m0 and the total right shift 31 − e, capped to [0, 63], one per column
  // when per_column, else one. Shift kernels: shift[0] in [0, 31].
  const std::int32_t* m0;
  const std::int32_t* shift;
  bool per_column;
  int zero_point, lo, hi;  // lo, hi already inside the output type's range
  void* Y;                 // std::uint8_t or std::int8_t, by y_signed
  bool y_signed;
  int ldy;
};

// Rows [r0, r1).
using RequantKernel = void (*)(const RequantArgs& args, int r0, int r1);

void requant_mult_avx2(const RequantArgs& args, int r0, int r1);
void requant_shift_avx2(const RequantArgs& args, int r0, int r1);
void requant_mult_avx512(const RequantArgs& args, int r0, int r1);
void requant_shift_avx512(const RequantArgs& args, int r0, int r1);

}  // namespace qb::int8::detail
