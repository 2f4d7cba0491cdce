// Requantisation: the int32 results of an int8 GEMM or convolution (C, M×N row-major, ldc)
// become 8-bit outputs (Y, u8 or s8, M×N row-major, ldy).
//
//   x = sat32(C[m][n] + bias[n])                          bias optional, one per column n;
//                                                         the add saturates to int32
//   by shift:       y = clamp(rhe(x / 2^shift) + zero_point, lo, hi)          shift ≥ 0
//   by multiplier:  y = clamp(rhe(x · M0 / 2^(31 − e)) + zero_point, lo, hi)  e ≤ 31
//
// A fine bias B (int64, optional) enters the same rounding, after the multiplier:
//   by multiplier:  y = clamp(rhe((x · M0 + B[m][n]) / 2^(31 − e)) + zero_point, lo, hi)
//   by shift:       y = clamp(rhe((x · 2^30 + B[m][n]) / 2^(shift + 30)) + zero_point, lo, hi)
// i.e. a bias in accumulator units kept with ~30 fractional bits (B = rint(b · M0), or b·2^30),
// where the int32 bias can only hold the accumulator step itself: an integer network whose real
// bias is not a multiple of s_x·s_w (every BatchNorm shift, every float bias) then rounds its
// outputs where the float network does, not up to ½·s_x·s_w / s_out codes away. B is one value
// per column (fine_bias_ld = 0) or a full M×N table (row m at fine_bias + m·ld: a bias per
// output position, e.g. the exact correction of padded taps whose zero point is not a code).
// Requires |B| < 2^61 and a total right shift 31 − e (or shift + 30) ≤ 62, so that the sum and
// its rounding stay inside int64 (qb::Error otherwise). The shift form is the multiplier form
// with M0 = 2^30, e = 1 − shift: the same kernels compute it.
//
// Rounding rule: rhe is round half to even, applied ONCE to the exact rational value: x·M0 is
// formed exactly in int64 (|x·M0| ≤ 2^62) and divided by 2^(31 − e) with one rounding; a
// quotient exactly halfway between two integers goes to the even one (6/4 → 2, 10/4 → 2,
// −6/4 → −2, −10/4 → −2, 14/4 → 4). This is NOT gemmlowp's/TFLite's
// SaturatingRoundingDoublingHighMul followed by RoundingDivideByPOT, which rounds twice, both
// times half away from zero, and so can differ by one from the single rounding here.
//
// Multipliers follow gemmlowp's representation: a real scale s > 0 is M0 · 2^(e − 31), M0 a
// Q31 value in [2^30, 2^31) (quantize_multiplier returns that; the kernels are exact for any
// int32 M0) and e an exponent. A right shift 31 − e beyond 63 gives 0 for every x, as the
// definition does (|x·M0| < 2^62), and is computed as 63. Per-tensor variants take one
// Multiplier; per-column ("per output channel") variants one for each column n.
//
// The clamp [lo, hi] is intersected with the output type's range, so the defaults only
// saturate; a fused ReLU is lo = zero_point (and ReLU6 hi = zero_point + round(6 / scale)).
// zero_point must lie in the output type's range.
//
// Each function runs the ISA's kernel (default best_isa(); AVX2 serves avx2 and avxvnni,
// AVX-512 avx512bw and avx512vnni, the reference scalar), all bit-exact against the *_ref
// functions, which follow the definitions above in plain int64 arithmetic. Rows are split
// across OpenMP's threads; every element is computed alone, so the split never matters.
// qb::Error for a CPU without `isa`, a zero point outside the output type, an empty clamp,
// a negative shift or an exponent e > 31.
#pragma once

#include "engine/int8/isa.h"

#include <cstdint>
#include <limits>
#include <span>

namespace qb::int8 {

struct Multiplier {
  std::int32_t m0 = std::int32_t(1) << 30;  // Q31 mantissa, [2^30, 2^31) when normalised
  int e = 1;                                // scale = m0 · 2^(e − 31); must be ≤ 31
  double scale() const;                     // the real value represented
};

// scale > 0, finite and below 2^31 (else qb::Error): m0 = round(q · 2^31) where
// scale = q · 2^e, q ∈ [1/2, 1) (frexp), renormalised when the rounding reaches 2^31.
// Error bound: |m0 · 2^(e−31) − scale| ≤ 2^(e−32) ≤ 2^−31 · scale (relative error at most
// 2^−31 ≈ 4.7e-10, since q ≥ 1/2).
Multiplier quantize_multiplier(double scale);

struct OutputParams {
  int zero_point = 0;
  int lo = std::numeric_limits<int>::min();  // intersected with the output type's range
  int hi = std::numeric_limits<int>::max();
  const std::int32_t* bias = nullptr;       // N values (one per column), or none
  const std::int64_t* fine_bias = nullptr;  // after the multiplier (see above), or none
  std::int64_t fine_bias_ld = 0;            // 0: N values for every row; else row stride
  // The caller checked every fine bias it passes with fine_bias_in_range(), once for a table
  // it reuses: the per-call check of |B| < 2^61, a pass over a per-position table as large as
  // the output, is skipped (the shift bound is still checked).
  bool fine_bias_checked = false;
};

// True when every b[0..n) is inside the fine bias's bound (−2^61, 2^61).
bool fine_bias_in_range(const std::int64_t* b, std::size_t n);

// rhe(p / 2^s) for any s ≥ 0, exactly: the rounding every requantisation uses.
std::int64_t round_shift_half_even(std::int64_t p, int s);

// ---- the fast paths ----
void requantize_shift(const std::int32_t* C, int ldc, int M, int N, int shift,
                      const OutputParams& out, std::uint8_t* Y, int ldy, Isa isa = best_isa());
void requantize_shift(const std::int32_t* C, int ldc, int M, int N, int shift,
                      const OutputParams& out, std::int8_t* Y, int ldy, Isa isa = best_isa());
// Per tensor.
void requantize(const std::int32_t* C, int ldc, int M, int N, Multiplier mult,
                const OutputParams& out, std::uint8_t* Y, int ldy, Isa isa = best_isa());
void requantize(const std::int32_t* C, int ldc, int M, int N, Multiplier mult,
                const OutputParams& out, std::int8_t* Y, int ldy, Isa isa = best_isa());
// Per column: mult.size() == N.
void requantize(const std::int32_t* C, int ldc, int M, int N, std::span<const Multiplier> mult,
                const OutputParams& out, std::uint8_t* Y, int ldy, Isa isa = best_isa());
void requantize(const std::int32_t* C, int ldc, int M, int N, std::span<const Multiplier> mult,
                const OutputParams& out, std::int8_t* Y, int ldy, Isa isa = best_isa());

// ---- the scalar references (the definitions, one element at a time) ----
// mult.size() is 1 (per tensor) or N (per column).
void requantize_shift_ref(const std::int32_t* C, int ldc, int M, int N, int shift,
                          const OutputParams& out, std::uint8_t* Y, int ldy);
void requantize_shift_ref(const std::int32_t* C, int ldc, int M, int N, int shift,
                          const OutputParams& out, std::int8_t* Y, int ldy);
void requantize_ref(const std::int32_t* C, int ldc, int M, int N, std::span<const Multiplier> mult,
                    const OutputParams& out, std::uint8_t* Y, int ldy);
void requantize_ref(const std::int32_t* C, int ldc, int M, int N, std::span<const Multiplier> mult,
                    const OutputParams& out, std::int8_t* Y, int ldy);

}  // namespace qb::int8
