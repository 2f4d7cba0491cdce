// AVX2 and AVX-512 requantisation kernels, bit-exact against requantize_ref.
//
// Multiplier kernels. x · M0 is formed exactly as int64 with vpmuldq (_mm*_mul_epi32), which
// multiplies the low int32 of each 64-bit lane: once on x and M0 as they are (the even
// columns), once on both shifted right by 32 (the odd columns). Each int64 product p is then
// divided by 2^s (s = 31 − e in [0, 63], per column) with a single round half to even:
//
//   rhe(p / 2^s) = (p + (2^(s−1) − 1) + ((p >> s) & 1)) >> s      (s ≥ 1, >> flooring)
//
// Why: with r = p mod 2^s and q = floor(p / 2^s), adding 2^(s−1) − 1 carries into q exactly
// when r > 2^(s−1), and adding 1 more (q's parity) carries also at the tie r = 2^(s−1) when q
// is odd, which rounds the tie to the even neighbour. The sum cannot overflow: |p| ≤ 2^62 and
// 2^(s−1) ≤ 2^62, with p = 2^62 only for x = M0 = −2^31, whose parity bit at s = 63 is 0.
// For s = 0 both addends are 0 (the offset is computed as (2^63 − 1) >> (64 − s), which is
// 2^(s−1) − 1 for s ≥ 1 and 0 for s = 0, as vpsrlvq gives 0 for counts of 64; the parity bit
// is masked off). AVX2 has no 64-bit arithmetic shift: the floor shift is done as
// ((t ^ m) >>> s) ^ m with m = (t < 0 ? −1 : 0), since ~t >>> s = ~(t >> s) for t < 0.
// The rounded value is clamped in 64 bits to [lo − zp, hi − zp], so that the int32 that
// remains, plus zp, is the result inside [lo, hi] with no further overflow.
//
// Shift kernels (shift in [0, 31]; the caller handles ≥ 32, where every result is 0) stay in
// int32: q = x >> s (arithmetic), r = x & (2^s − 1); round up when r − 2^(s−1) + (q & 1) > 0,
// i.e. r above half, or at half with q odd. r − 2^(s−1) lies in [−2^30, 2^30), so nothing
// overflows; q + 1 neither, since |q| ≤ 2^30 for s ≥ 1. For s = 0, half is set to 1 and the
// parity masked off, so nothing is ever rounded up.
//
// Fine bias (int64, added to x · M0 before the rounding): 8 (16) consecutive columns are loaded
// as two (two) vectors and split into the even and odd columns' 64-bit lanes the products sit
// in. |p + B| < 2^62 + 2^61 and s ≤ 62 (checked by the caller), so the rounding's sum
// p + B + 2^(s−1) stays below 2^63.
//
// Bias: sat32(x + b) as (x + b) with wrap-around replaced by INT32_MAX or INT32_MIN where
// x and b have the same sign and the sum has the other one.
//
// Column tails (N not a multiple of the vector): AVX2 copies them into zero-padded vectors;
// AVX-512 uses masked loads and a masked narrowing store.
#include "engine/int8/requantize_kernels.h"

#include "engine/int8/intrinsics.h"

// GCC 12's avx512fintrin.h makes its "undefined" vectors as `__m512i __Y = __Y;`, which
// -Wuninitialized then reports wherever an intrinsic using one is inlined (GCC bug 105593,
// fixed in GCC 13). Nothing here reads an uninitialised value.
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

#include <cstdint>
#include <cstring>
#include <type_traits>

#define QB_AVX2 QB_INT8_ISA("avx2")
#define QB_AVX512 QB_INT8_ISA("avx512f,avx512bw")

namespace qb::int8::detail {
namespace {

// ---------------------------------------------------------------- AVX2

QB_AVX2 inline __m256i sat_add_avx2(__m256i a, __m256i b) {
  const __m256i s = _mm256_add_epi32(a, b);
  const __m256i ovf = _mm256_andnot_si256(_mm256_xor_si256(a, b), _mm256_xor_si256(a, s));
  const __m256i sat = _mm256_xor_si256(_mm256_srai_epi32(a, 31), _mm256_set1_epi32(INT32_MAX));
  return _mm256_castps_si256(
      _mm256_blendv_ps(_mm256_castsi256_ps(s), _mm256_castsi256_ps(sat), _mm256_castsi256_ps(ovf)));
}

// Per-column constants of 8 columns: M0 as loaded, and per 64-bit lane (even columns _e,
// odd _o) the shift s, the offset 2^(s−1) − 1 and the parity mask (1, or 0 when s = 0).
struct ColsAvx2 {
  __m256i m, s_e, s_o, off_e, off_o, bm_e, bm_o;
};

QB_AVX2 inline ColsAvx2 cols_avx2(__m256i m, __m256i s) {
  const __m256i max64 = _mm256_set1_epi64x(INT64_MAX), c64 = _mm256_set1_epi64x(64);
  const __m256i one = _mm256_set1_epi64x(1), zero = _mm256_setzero_si256();
  ColsAvx2 c;
  c.m = m;
  c.s_e = _mm256_and_si256(s, _mm256_set1_epi64x(0xFFFFFFFF));
  c.s_o = _mm256_srli_epi64(s, 32);
  c.off_e = _mm256_srlv_epi64(max64, _mm256_sub_epi64(c64, c.s_e));
  c.off_o = _mm256_srlv_epi64(max64, _mm256_sub_epi64(c64, c.s_o));
  c.bm_e = _mm256_and_si256(_mm256_cmpgt_epi64(c.s_e, zero), one);
  c.bm_o = _mm256_and_si256(_mm256_cmpgt_epi64(c.s_o, zero), one);
  return c;
}

QB_AVX2 inline __m256i round_shift_avx2(__m256i p, __m256i s, __m256i off, __m256i bm) {
  const __m256i bit = _mm256_and_si256(_mm256_srlv_epi64(p, s), bm);
  const __m256i t = _mm256_add_epi64(_mm256_add_epi64(p, off), bit);
  const __m256i neg = _mm256_cmpgt_epi64(_mm256_setzero_si256(), t);
  return _mm256_xor_si256(_mm256_srlv_epi64(_mm256_xor_si256(t, neg), s), neg);
}

QB_AVX2 inline __m256i clamp64_avx2(__m256i v, __m256i lo, __m256i hi) {
  v = _mm256_blendv_epi8(v, lo, _mm256_cmpgt_epi64(lo, v));
  return _mm256_blendv_epi8(v, hi, _mm256_cmpgt_epi64(v, hi));
}

// 8 int32 already inside the output type's range -> 8 bytes.
template <class Out>
QB_AVX2 inline void store8_avx2(__m256i v, Out* y) {
  const __m128i w = _mm_packs_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
  __m128i b;
  if constexpr (std::is_signed_v<Out>)
    b = _mm_packs_epi16(w, w);
  else
    b = _mm_packus_epi16(w, w);
  _mm_storel_epi64(reinterpret_cast<__m128i*>(y), b);
}

// Fine biases of 8 columns: (b0, b2, b4, b6) and (b1, b3, b5, b7); zero without one.
struct FineAvx2 {
  __m256i e, o;
};

QB_AVX2 inline FineAvx2 fine8_avx2(const std::int64_t* b) {
  if (!b) return {_mm256_setzero_si256(), _mm256_setzero_si256()};
  const __m256i lo = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b));
  const __m256i hi = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b + 4));
  // unpack gives (b0, b4, b2, b6) and (b1, b5, b3, b7); 0xD8 swaps the middle 64-bit lanes.
  return {_mm256_permute4x64_epi64(_mm256_unpacklo_epi64(lo, hi), 0xD8),
          _mm256_permute4x64_epi64(_mm256_unpackhi_epi64(lo, hi), 0xD8)};
}

template <class Out>
QB_AVX2 inline void mult8_avx2(__m256i x, const ColsAvx2& c, FineAvx2 b, __m256i lo64, __m256i hi64,
                               __m256i zp, Out* y) {
  const __m256i p_e = _mm256_add_epi64(_mm256_mul_epi32(x, c.m), b.e);
  const __m256i p_o =
      _mm256_add_epi64(_mm256_mul_epi32(_mm256_srli_epi64(x, 32), _mm256_srli_epi64(c.m, 32)), b.o);
  const __m256i r_e = clamp64_avx2(round_shift_avx2(p_e, c.s_e, c.off_e, c.bm_e), lo64, hi64);
  const __m256i r_o = clamp64_avx2(round_shift_avx2(p_o, c.s_o, c.off_o, c.bm_o), lo64, hi64);
  // The low int32 of each 64-bit lane holds the (small) result: interleave them back.
  const __m256i r = _mm256_blend_epi32(r_e, _mm256_slli_epi64(r_o, 32), 0xAA);
  store8_avx2(_mm256_add_epi32(r, zp), y);
}

template <bool kPerColumn, class Out>
QB_AVX2 void mult_rows_avx2(const RequantArgs& a, int r0, int r1) {
  const __m256i lo64 = _mm256_set1_epi64x(a.lo - a.zero_point);
  const __m256i hi64 = _mm256_set1_epi64x(a.hi - a.zero_point);
  const __m256i zp = _mm256_set1_epi32(a.zero_point);
  const int N = a.N, n8 = N / 8 * 8, rem = N - n8;
  ColsAvx2 fixed{};
  if constexpr (!kPerColumn)
    fixed = cols_avx2(_mm256_set1_epi32(a.m0[0]), _mm256_set1_epi32(a.shift[0]));
  // The tail's columns, zero-padded (padding lanes compute 0 · 0 and are never stored).
  alignas(32) std::int32_t tm[8] = {}, ts[8] = {}, tb[8] = {};
  if (rem) {
    if constexpr (kPerColumn) {
      std::memcpy(tm, a.m0 + n8, sizeof(std::int32_t) * rem);
      std::memcpy(ts, a.shift + n8, sizeof(std::int32_t) * rem);
    }
    if (a.bias) std::memcpy(tb, a.bias + n8, sizeof(std::int32_t) * rem);
  }
  const ColsAvx2 tail = kPerColumn
                            ? cols_avx2(_mm256_load_si256(reinterpret_cast<const __m256i*>(tm)),
                                        _mm256_load_si256(reinterpret_cast<const __m256i*>(ts)))
                            : fixed;
  for (int r = r0; r < r1; ++r) {
    const std::int32_t* c = a.C + std::int64_t(r) * a.ldc;
    Out* y = static_cast<Out*>(a.Y) + std::int64_t(r) * a.ldy;
    const std::int64_t* fb = a.fine_bias ? a.fine_bias + r * a.fine_bias_ld : nullptr;
    for (int n = 0; n < n8; n += 8) {
      __m256i x = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(c + n));
      if (a.bias)
        x = sat_add_avx2(x, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a.bias + n)));
      const FineAvx2 b = fine8_avx2(fb ? fb + n : nullptr);
      if constexpr (kPerColumn)
        mult8_avx2(x,
                   cols_avx2(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(a.m0 + n)),
                             _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a.shift + n))),
                   b, lo64, hi64, zp, y + n);
      else
        mult8_avx2(x, fixed, b, lo64, hi64, zp, y + n);
    }
    if (rem) {
      alignas(32) std::int32_t tx[8] = {};
      std::memcpy(tx, c + n8, sizeof(std::int32_t) * rem);
      __m256i x = _mm256_load_si256(reinterpret_cast<const __m256i*>(tx));
      if (a.bias) x = sat_add_avx2(x, _mm256_load_si256(reinterpret_cast<const __m256i*>(tb)));
      std::int64_t tf[8] = {};
      if (fb) std::memcpy(tf, fb + n8, sizeof(std::int64_t) * rem);
      Out ty[8];
      mult8_avx2(x, tail, fine8_avx2(fb ? tf : nullptr), lo64, hi64, zp, ty);
      std::memcpy(y + n8, ty, sizeof(Out) * rem);
    }
  }
}

template <class Out>
QB_AVX2 inline void shift8_avx2(__m256i x, __m128i cnt, __m256i mask, __m256i half, __m256i bm,
                                __m256i lo, __m256i hi, __m256i zp, Out* y) {
  __m256i q = _mm256_sra_epi32(x, cnt);
  const __m256i d = _mm256_sub_epi32(_mm256_and_si256(x, mask), half);
  const __m256i up =
      _mm256_cmpgt_epi32(_mm256_add_epi32(d, _mm256_and_si256(q, bm)), _mm256_setzero_si256());
  q = _mm256_sub_epi32(q, up);  // up is −1 where rounding up
  q = _mm256_min_epi32(_mm256_max_epi32(q, lo), hi);
  store8_avx2(_mm256_add_epi32(q, zp), y);
}

template <class Out>
QB_AVX2 void shift_rows_avx2(const RequantArgs& a, int r0, int r1) {
  const int s = a.shift[0];
  const __m128i cnt = _mm_cvtsi32_si128(s);
  const __m256i mask = _mm256_set1_epi32(std::int32_t((std::uint32_t(1) << s) - 1));
  const __m256i half = _mm256_set1_epi32(s >= 1 ? std::int32_t(1) << (s - 1) : 1);
  const __m256i bm = _mm256_set1_epi32(s >= 1 ? 1 : 0);
  const __m256i lo = _mm256_set1_epi32(a.lo - a.zero_point);
  const __m256i hi = _mm256_set1_epi32(a.hi - a.zero_point);
  const __m256i zp = _mm256_set1_epi32(a.zero_point);
  const int N = a.N, n8 = N / 8 * 8, rem = N - n8;
  alignas(32) std::int32_t tb[8] = {};
  if (rem && a.bias) std::memcpy(tb, a.bias + n8, sizeof(std::int32_t) * rem);
  for (int r = r0; r < r1; ++r) {
    const std::int32_t* c = a.C + std::int64_t(r) * a.ldc;
    Out* y = static_cast<Out*>(a.Y) + std::int64_t(r) * a.ldy;
    for (int n = 0; n < n8; n += 8) {
      __m256i x = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(c + n));
      if (a.bias)
        x = sat_add_avx2(x, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a.bias + n)));
      shift8_avx2(x, cnt, mask, half, bm, lo, hi, zp, y + n);
    }
    if (rem) {
      alignas(32) std::int32_t tx[8] = {};
      std::memcpy(tx, c + n8, sizeof(std::int32_t) * rem);
      __m256i x = _mm256_load_si256(reinterpret_cast<const __m256i*>(tx));
      if (a.bias) x = sat_add_avx2(x, _mm256_load_si256(reinterpret_cast<const __m256i*>(tb)));
      Out ty[8];
      shift8_avx2(x, cnt, mask, half, bm, lo, hi, zp, ty);
      std::memcpy(y + n8, ty, sizeof(Out) * rem);
    }
  }
}

// ---------------------------------------------------------------- AVX-512 (F + BW)

QB_AVX512 inline __m512i sat_add_512(__m512i a, __m512i b) {
  const __m512i s = _mm512_add_epi32(a, b);
  const __m512i ovf = _mm512_andnot_si512(_mm512_xor_si512(a, b), _mm512_xor_si512(a, s));
  const __mmask16 k = _mm512_cmplt_epi32_mask(ovf, _mm512_setzero_si512());
  const __m512i sat = _mm512_xor_si512(_mm512_srai_epi32(a, 31), _mm512_set1_epi32(INT32_MAX));
  return _mm512_mask_mov_epi32(s, k, sat);
}

struct Cols512 {
  __m512i m, s_e, s_o, off_e, off_o, bm_e, bm_o;
};

QB_AVX512 inline Cols512 cols_512(__m512i m, __m512i s) {
  const __m512i max64 = _mm512_set1_epi64(INT64_MAX), c64 = _mm512_set1_epi64(64);
  const __m512i one = _mm512_set1_epi64(1);
  Cols512 c;
  c.m = m;
  c.s_e = _mm512_and_si512(s, _mm512_set1_epi64(0xFFFFFFFF));
  c.s_o = _mm512_srli_epi64(s, 32);
  c.off_e = _mm512_srlv_epi64(max64, _mm512_sub_epi64(c64, c.s_e));
  c.off_o = _mm512_srlv_epi64(max64, _mm512_sub_epi64(c64, c.s_o));
  c.bm_e = _mm512_min_epu64(c.s_e, one);  // 1 where s ≥ 1, else 0
  c.bm_o = _mm512_min_epu64(c.s_o, one);
  return c;
}

QB_AVX512 inline __m512i round_shift_512(__m512i p, __m512i s, __m512i off, __m512i bm) {
  const __m512i bit = _mm512_and_si512(_mm512_srlv_epi64(p, s), bm);
  return _mm512_srav_epi64(_mm512_add_epi64(_mm512_add_epi64(p, off), bit), s);
}

// Fine biases of 16 columns (masked-off ones 0): the even and the odd columns' 64-bit lanes.
struct Fine512 {
  __m512i e, o;
};

QB_AVX512 inline Fine512 fine16_512(const std::int64_t* b, __mmask16 k) {
  if (!b) return {_mm512_setzero_si512(), _mm512_setzero_si512()};
  const __m512i lo = _mm512_maskz_loadu_epi64(__mmask8(k), b);
  const __m512i hi = _mm512_maskz_loadu_epi64(__mmask8(k >> 8), b + 8);
  const __m512i even = _mm512_set_epi64(14, 12, 10, 8, 6, 4, 2, 0);
  const __m512i odd = _mm512_set_epi64(15, 13, 11, 9, 7, 5, 3, 1);
  return {_mm512_permutex2var_epi64(lo, even, hi), _mm512_permutex2var_epi64(lo, odd, hi)};
}

template <class Out>
QB_AVX512 inline void mult16_512(__m512i x, const Cols512& c, Fine512 b, __m512i lo64, __m512i hi64,
                                 __m512i zp, Out* y, __mmask16 k) {
  const __m512i p_e = _mm512_add_epi64(_mm512_mul_epi32(x, c.m), b.e);
  const __m512i p_o =
      _mm512_add_epi64(_mm512_mul_epi32(_mm512_srli_epi64(x, 32), _mm512_srli_epi64(c.m, 32)), b.o);
  const __m512i r_e =
      _mm512_min_epi64(_mm512_max_epi64(round_shift_512(p_e, c.s_e, c.off_e, c.bm_e), lo64), hi64);
  const __m512i r_o =
      _mm512_min_epi64(_mm512_max_epi64(round_shift_512(p_o, c.s_o, c.off_o, c.bm_o), lo64), hi64);
  const __m512i r = _mm512_mask_blend_epi32(0xAAAA, r_e, _mm512_slli_epi64(r_o, 32));
  // Inside the output type's range: the truncating vpmovdb is exact.
  _mm512_mask_cvtepi32_storeu_epi8(y, k, _mm512_add_epi32(r, zp));
}

template <bool kPerColumn, class Out>
QB_AVX512 void mult_rows_512(const RequantArgs& a, int r0, int r1) {
  const __m512i lo64 = _mm512_set1_epi64(a.lo - a.zero_point);
  const __m512i hi64 = _mm512_set1_epi64(a.hi - a.zero_point);
  const __m512i zp = _mm512_set1_epi32(a.zero_point);
  const int N = a.N;
  Cols512 fixed{};
  if constexpr (!kPerColumn)
    fixed = cols_512(_mm512_set1_epi32(a.m0[0]), _mm512_set1_epi32(a.shift[0]));
  for (int r = r0; r < r1; ++r) {
    const std::int32_t* c = a.C + std::int64_t(r) * a.ldc;
    Out* y = static_cast<Out*>(a.Y) + std::int64_t(r) * a.ldy;
    const std::int64_t* fb = a.fine_bias ? a.fine_bias + r * a.fine_bias_ld : nullptr;
    for (int n = 0; n < N; n += 16) {
      // Masked-off lanes load 0 (x, bias, M0 and shift): they compute 0 and are not stored.
      const __mmask16 k = N - n >= 16 ? __mmask16(0xFFFF) : __mmask16((1u << (N - n)) - 1);
      __m512i x = _mm512_maskz_loadu_epi32(k, c + n);
      if (a.bias) x = sat_add_512(x, _mm512_maskz_loadu_epi32(k, a.bias + n));
      const Fine512 b = fine16_512(fb ? fb + n : nullptr, k);
      if constexpr (kPerColumn)
        mult16_512(x,
                   cols_512(_mm512_maskz_loadu_epi32(k, a.m0 + n),
                            _mm512_maskz_loadu_epi32(k, a.shift + n)),
                   b, lo64, hi64, zp, y + n, k);
      else
        mult16_512(x, fixed, b, lo64, hi64, zp, y + n, k);
    }
  }
}

template <class Out>
QB_AVX512 void shift_rows_512(const RequantArgs& a, int r0, int r1) {
  const int s = a.shift[0];
  const __m128i cnt = _mm_cvtsi32_si128(s);
  const __m512i mask = _mm512_set1_epi32(std::int32_t((std::uint32_t(1) << s) - 1));
  const __m512i half = _mm512_set1_epi32(s >= 1 ? std::int32_t(1) << (s - 1) : 1);
  const __m512i bm = _mm512_set1_epi32(s >= 1 ? 1 : 0);
  const __m512i lo = _mm512_set1_epi32(a.lo - a.zero_point);
  const __m512i hi = _mm512_set1_epi32(a.hi - a.zero_point);
  const __m512i zp = _mm512_set1_epi32(a.zero_point);
  const int N = a.N;
  for (int r = r0; r < r1; ++r) {
    const std::int32_t* c = a.C + std::int64_t(r) * a.ldc;
    Out* y = static_cast<Out*>(a.Y) + std::int64_t(r) * a.ldy;
    for (int n = 0; n < N; n += 16) {
      const __mmask16 k = N - n >= 16 ? __mmask16(0xFFFF) : __mmask16((1u << (N - n)) - 1);
      __m512i x = _mm512_maskz_loadu_epi32(k, c + n);
      if (a.bias) x = sat_add_512(x, _mm512_maskz_loadu_epi32(k, a.bias + n));
      __m512i q = _mm512_sra_epi32(x, cnt);
      const __m512i d = _mm512_sub_epi32(_mm512_and_si512(x, mask), half);
      const __mmask16 up = _mm512_cmpgt_epi32_mask(_mm512_add_epi32(d, _mm512_and_si512(q, bm)),
                                                   _mm512_setzero_si512());
      q = _mm512_mask_add_epi32(q, up, q, _mm512_set1_epi32(1));
      q = _mm512_min_epi32(_mm512_max_epi32(q, lo), hi);
      _mm512_mask_cvtepi32_storeu_epi8(y + n, k, _mm512_add_epi32(q, zp));
    }
  }
}

}  // namespace

void requant_mult_avx2(const RequantArgs& a, int r0, int r1) {
  if (a.per_column)
    a.y_signed ? mult_rows_avx2<true, std::int8_t>(a, r0, r1)
               : mult_rows_avx2<true, std::uint8_t>(a, r0, r1);
  else
    a.y_signed ? mult_rows_avx2<false, std::int8_t>(a, r0, r1)
               : mult_rows_avx2<false, std::uint8_t>(a, r0, r1);
}

void requant_shift_avx2(const RequantArgs& a, int r0, int r1) {
  a.y_signed ? shift_rows_avx2<std::int8_t>(a, r0, r1) : shift_rows_avx2<std::uint8_t>(a, r0, r1);
}

void requant_mult_avx512(const RequantArgs& a, int r0, int r1) {
  if (a.per_column)
    a.y_signed ? mult_rows_512<true, std::int8_t>(a, r0, r1)
               : mult_rows_512<true, std::uint8_t>(a, r0, r1);
  else
    a.y_signed ? mult_rows_512<false, std::int8_t>(a, r0, r1)
               : mult_rows_512<false, std::uint8_t>(a, r0, r1);
}

void requant_shift_avx512(const RequantArgs& a, int r0, int r1) {
  a.y_signed ? shift_rows_512<std::int8_t>(a, r0, r1) : shift_rows_512<std::uint8_t>(a, r0, r1);
}

}  // namespace qb::int8::detail
