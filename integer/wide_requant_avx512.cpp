// AVX-512 form of wide_requantize_rows (integer/wide_requant.h): the AVX2 kernel's arithmetic
// (integer/wide_requant_vector.h says why it is exact, and where: WideVector::usable) on eight
// int64 lanes, with what AVX-512 adds: vpminsq/vpmaxsq for the clamps, vpmovqb to narrow eight
// codes in one instruction, and masked loads and stores for a run of channels that is not a
// multiple of eight, so no channel falls to the scalar loop. Same bits as the scalar loop.
// GCC 12's avx512fintrin.h makes its "undefined" vectors as `__m512i __Y = __Y;`, which
// -Wuninitialized then reports wherever an intrinsic using one is inlined (GCC bug 105593,
// fixed in GCC 13; as in engine/int8/requantize_kernels.cpp: before any include, which may
// bring in the intrinsics). Nothing here reads an uninitialised value. A lambda does not take
// the target of the function it is written in: each one here names QB_AVX512 itself (without
// it, a build for a CPU without AVX-512 cannot inline the intrinsics into it).
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include "integer/wide_requant_vector.h"

#include "engine/int8/intrinsics.h"

#define QB_AVX512 QB_INT8_ISA("avx512f,avx512bw,avx512vl")

namespace qb::integer::detail {
namespace {

// Channels [c, c + lanes) of one pixel, lanes ≤ 8 (`m` their mask): a their sums, b their fine
// biases, sc their shortcut codes (or null).
QB_AVX512 inline void eight(const WideVector& k, int c, __mmask8 m, const std::int32_t* a,
                            const std::int64_t* b, const std::uint8_t* sc, __m512i sc_zero_point,
                            __m512i base, __m512i lo, __m512i hi, std::uint8_t* out) {
  auto load = [&](const std::int64_t* p) QB_AVX512 { return _mm512_maskz_loadu_epi64(m, p + c); };
  const __m512i x = _mm512_cvtepi32_epi64(_mm256_maskz_loadu_epi32(m, a + c));
  __m512i v = _mm512_add_epi64(_mm512_mul_epi32(x, load(k.m_acc.data())), load(b));
  if (sc) {
    const __m512i s =
        _mm512_sub_epi64(_mm512_cvtepu8_epi64(_mm_maskz_loadu_epi8(m, sc)), sc_zero_point);
    v = _mm512_add_epi64(v, _mm512_mul_epi32(s, load(k.m_sc.data())));
  }
  const __m512i lower = load(k.lower.data());
  const __m512i u =
      _mm512_sub_epi64(_mm512_min_epi64(_mm512_max_epi64(v, lower), load(k.upper.data())), lower);
  const __m512i s = load(k.shift.data());
  const __m512i odd = _mm512_and_si512(_mm512_srlv_epi64(u, s), load(k.odd.data()));
  const __m512i q =
      _mm512_srlv_epi64(_mm512_add_epi64(_mm512_add_epi64(u, load(k.round_add.data())), odd), s);
  // q ∈ [0, 259]: code = clamp(q + e + zp, lo, hi) ⊂ [0, 255], narrowed by truncation.
  const __m512i code = _mm512_min_epi64(_mm512_max_epi64(_mm512_add_epi64(q, base), lo), hi);
  _mm512_mask_cvtepi64_storeu_epi8(out + c, m, code);
}

}  // namespace

QB_AVX512 void wide_rows_avx512(const WideVector& k, const Layer& l, const std::int32_t* acc,
                                const std::uint8_t* shortcut, std::int64_t r0, std::int64_t r1,
                                std::uint8_t* y) {
  const Shortcut& s = l.shortcut;
  const int offset = s.channel_offset;
  const __m512i sc_zero_point = _mm512_set1_epi64(s.zero_point);
  const __m512i base = _mm512_set1_epi64(k.even_floor + l.requant.zero_point);
  const __m512i lo = _mm512_set1_epi64(l.requant.lo), hi = _mm512_set1_epi64(l.requant.hi);
  walk_pixels(l, acc, shortcut, r0, r1, y,
              [&](const WidePixel& p, int b, int e, bool with_sc) QB_AVX512 {
                for (int c = b; c < e; c += 8) {
                  const __mmask8 m = e - c >= 8 ? __mmask8(0xff) : __mmask8((1u << (e - c)) - 1);
                  eight(k, c, m, p.sums, p.bias, with_sc ? p.shortcut + (c - offset) : nullptr,
                        sc_zero_point, base, lo, hi, p.out);
                }
              });
}

}  // namespace qb::integer::detail
