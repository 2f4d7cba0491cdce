// AVX2 form of wide_requantize_rows (integer/wide_requant.h), four channels per vector in
// int64 lanes, bit-exact against the scalar loop. AVX2 has no 64×64 multiply and no
// variable arithmetic shift of int64 lanes, so the kernel runs only where it can stay exact
// without them (WideAvx2::usable):
//   · |m_acc|, |m_sc| < 2^31: vpmuldq multiplies the low 32 bits of each lane exactly, and
//     x and s − z_sc are int32 values;
//   · every fine bias |B| < 2^61 (what export promises): added in the 64-bit lanes, v stays
//     below 2^62 + 2^61 + 2^39 in magnitude, inside int64;
//   · lo ≤ zero_point ≤ hi and every shift ≤ 54: v is first clamped to
//     [L, H] = [e·2^s, (hi − zp + 1)·2^s], e the even one of lo − zp − 1, lo − zp − 2 —
//     rounding is monotone, so values beyond those bounds give the same clamped code — then
//     u = v − L ∈ [0, 259·2^s] < 2^63 is unsigned, rounded by logical shifts (vpsrlvq):
//     rhe(v / 2^s) = rhe(u / 2^s) + e, since shifting by an even integer keeps ties to even.
#include "integer/wide_requant_avx2.h"

#include "engine/int8/intrinsics.h"

#include <algorithm>
#include <cstring>

#define QB_AVX2 QB_INT8_ISA("avx2")

namespace qb::integer::detail {

WideAvx2::WideAvx2(const Layer& l) {
  const Requant& rq = l.requant;
  const Wide& w = l.wide;
  const int C = l.C_out;
  usable = rq.lo <= rq.zero_point && rq.zero_point <= rq.hi;
  for (int c = 0; c < C && usable; ++c)
    usable = w.shift[c] <= 54 && std::llabs(w.m_acc[c]) < (1ll << 31) &&
             std::llabs(w.m_sc[c]) < (1ll << 31);
  for (std::size_t j = 0; j < rq.bias.size() && usable; ++j)  // per channel or per position
    usable = std::llabs(rq.bias[j]) < (1ll << 61);
  if (!usable) return;
  even_floor = rq.lo - rq.zero_point - 1;
  if (even_floor % 2) --even_floor;
  m_acc.resize(C), m_sc.resize(C), lower.resize(C), upper.resize(C);
  round_add.resize(C), odd.resize(C), shift.resize(C);
  for (int c = 0; c < C; ++c) {
    const int s = w.shift[c];
    m_acc[c] = w.m_acc[c];
    m_sc[c] = w.m_sc[c];
    lower[c] = std::int64_t(even_floor) * (std::int64_t(1) << s);
    upper[c] = std::int64_t(rq.hi - rq.zero_point + 1) * (std::int64_t(1) << s);
    round_add[c] = s > 0 ? (std::int64_t(1) << (s - 1)) - 1 : 0;
    odd[c] = s > 0;
    shift[c] = s;
  }
}

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
QB_AVX2 inline void four(const WideAvx2& k, int c, const std::int32_t* a, const std::int64_t* b,
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

QB_AVX2 void wide_rows_avx2(const WideAvx2& k, const Layer& l, const std::int32_t* acc,
                            const std::uint8_t* shortcut, std::int64_t r0, std::int64_t r1,
                            std::uint8_t* y, const WideScalar& scalar) {
  const Shortcut& s = l.shortcut;
  const int lo = l.requant.lo, hi = l.requant.hi, offset = s.channel_offset;
  const int base = k.even_floor + l.requant.zero_point;
  // Each run of channels four at a time, then one at a time.
  walk_pixels(l, acc, shortcut, r0, r1, y, [&](const WidePixel& p, int b, int e, bool with_sc) {
    int c = b;
    for (; c + 4 <= e; c += 4)
      four(k, c, p.sums, p.bias, with_sc ? p.shortcut + (c - offset) : nullptr, s.zero_point, base,
           lo, hi, p.out);
    for (; c < e; ++c)
      p.out[c] = scalar(c, p.sums[c], with_sc ? int(p.shortcut[c - offset]) : -1, p.bias[c]);
  });
}

}  // namespace qb::integer::detail
