// AVX2 form of wide_requantize_rows (integer/wide_requant.h), four channels per vector in
// int64 lanes, bit-exact against the scalar loop, where WideVector::usable
// (integer/wide_requant_vector.h says why it is exact there and how).
#include "integer/wide_requant_vector.h"

#include "engine/int8/intrinsics.h"

#include <algorithm>
#include <cstring>

#define QB_AVX2 QB_INT8_ISA("avx2")

namespace qb::integer::detail {

namespace {

QB_AVX2 inline __m256i load4(const std::int64_t* p) {
  return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
}

// max(lo, min(v, hi)) per int64 lane.
QB_AVX2 inline __m256i clamp64(__m256i v, __m256i lo, __m256i hi) {
  v = _mm256_blendv_epi8(v, hi, _mm256_cmpgt_epi64(v, hi));
  return _mm256_blendv_epi8(v, lo, _mm256_cmpgt_epi64(lo, v));
}

// Channels [c, c + 4) of one pixel: a their sums, b their fine biases, sc their shortcut codes
// (or null).
QB_AVX2 inline void four(const WideVector& k, int c, const std::int32_t* a, const std::int64_t* b,
                         const std::uint8_t* sc, int sc_zero_point, int base, int lo, int hi,
                         std::uint8_t* out) {
  const __m256i x = _mm256_cvtepi32_epi64(_mm_loadu_si128(reinterpret_cast<const __m128i*>(a + c)));
  __m256i v = _mm256_add_epi64(_mm256_mul_epi32(x, load4(k.m_acc.data() + c)), load4(b + c));
  if (sc) {
    std::int32_t codes;
    std::memcpy(&codes, sc, 4);
    const __m256i s = _mm256_sub_epi64(_mm256_cvtepu8_epi64(_mm_cvtsi32_si128(codes)),
                                       _mm256_set1_epi64x(sc_zero_point));
    v = _mm256_add_epi64(v, _mm256_mul_epi32(s, load4(k.m_sc.data() + c)));
  }
  const __m256i lower = load4(k.lower.data() + c);
  const __m256i u = _mm256_sub_epi64(clamp64(v, lower, load4(k.upper.data() + c)), lower);
  const __m256i s = load4(k.shift.data() + c);
  const __m256i odd = _mm256_and_si256(_mm256_srlv_epi64(u, s), load4(k.odd.data() + c));
  const __m256i q = _mm256_srlv_epi64(
      _mm256_add_epi64(_mm256_add_epi64(u, load4(k.round_add.data() + c)), odd), s);
  // q ∈ [0, 259]: code = clamp(q + e + zp, lo, hi), in int32 lanes (the low halves of the
  // int64 ones), packed to four bytes: no round trip through memory and scalar clamps.
  const __m128i q32 = _mm256_castsi256_si128(
      _mm256_permutevar8x32_epi32(q, _mm256_setr_epi32(0, 2, 4, 6, 0, 2, 4, 6)));
  const __m128i code =
      _mm_min_epi32(_mm_max_epi32(_mm_add_epi32(q32, _mm_set1_epi32(base)), _mm_set1_epi32(lo)),
                    _mm_set1_epi32(hi));
  const __m128i words = _mm_packus_epi32(code, code);  // lo, hi ⊂ [0, 255]: no saturation
  const std::int32_t bytes = _mm_cvtsi128_si32(_mm_packus_epi16(words, words));
  std::memcpy(out + c, &bytes, 4);
}

}  // namespace

QB_AVX2 void wide_rows_avx2(const WideVector& k, const Layer& l, const std::int32_t* acc,
                            const std::uint8_t* shortcut, std::int64_t r0, std::int64_t r1,
                            std::uint8_t* y, const WideScalar& scalar) {
  const Shortcut& s = l.shortcut;
  const int lo = l.requant.lo, hi = l.requant.hi, offset = s.channel_offset;
  const int base = k.even_floor + l.requant.zero_point;
  // Each run of channels four at a time, then one at a time.
  // QB_AVX2 on the lambda too: it does not take its enclosing function's target.
  walk_pixels(
      l, acc, shortcut, r0, r1, y, [&](const WidePixel& p, int b, int e, bool with_sc) QB_AVX2 {
        int c = b;
        for (; c + 4 <= e; c += 4)
          four(k, c, p.sums, p.bias, with_sc ? p.shortcut + (c - offset) : nullptr, s.zero_point,
               base, lo, hi, p.out);
        for (; c < e; ++c)
          p.out[c] = scalar(c, p.sums[c], with_sc ? int(p.shortcut[c - offset]) : -1, p.bias[c]);
      });
}

}  // namespace qb::integer::detail
