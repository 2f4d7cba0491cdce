#include "engine/layers/code_layout.h"

#include <cfloat>
#include <cmath>

#if defined(__SSE2__)
#include <emmintrin.h>
#include <xmmintrin.h>
#endif

namespace qb {
namespace {

#if defined(__SSE2__)
// r[c] byte p becomes r[p] byte c: four rounds of interleaving (bytes, 16-, 32-, 64-bit pairs).
inline void transpose16x16_u8(__m128i (&r)[16]) {
  __m128i a[16], b[16];
  for (int i = 0; i < 8; ++i) {
    a[2 * i] = _mm_unpacklo_epi8(r[2 * i], r[2 * i + 1]);
    a[2 * i + 1] = _mm_unpackhi_epi8(r[2 * i], r[2 * i + 1]);
  }
  for (int g = 0; g < 16; g += 4) {
    b[g] = _mm_unpacklo_epi16(a[g], a[g + 2]);
    b[g + 1] = _mm_unpackhi_epi16(a[g], a[g + 2]);
    b[g + 2] = _mm_unpacklo_epi16(a[g + 1], a[g + 3]);
    b[g + 3] = _mm_unpackhi_epi16(a[g + 1], a[g + 3]);
  }
  for (int g = 0; g < 16; g += 8)
    for (int i = 0; i < 4; ++i) {
      a[g + 2 * i] = _mm_unpacklo_epi32(b[g + i], b[g + i + 4]);
      a[g + 2 * i + 1] = _mm_unpackhi_epi32(b[g + i], b[g + i + 4]);
    }
  for (int i = 0; i < 8; ++i) {
    r[2 * i] = _mm_unpacklo_epi64(a[i], a[i + 8]);
    r[2 * i + 1] = _mm_unpackhi_epi64(a[i], a[i + 8]);
  }
}
#endif

inline std::uint8_t code_u8(float v, float inv) {
  return std::uint8_t(std::int32_t(v * inv) + 128);
}

}  // namespace

void codes_to_nhwc_u8(const float* x, std::size_t C, std::size_t HW, int shift, std::uint8_t* out) {
  const float inv = std::ldexp(1.0f, -shift);
  std::size_t c0 = 0, blocked_pixels = 0;
#if defined(__SSE2__)
  blocked_pixels = HW / 16 * 16;
  const __m128 vinv = _mm_set1_ps(inv);
  const __m128i k128 = _mm_set1_epi32(128);
  for (; c0 + 16 <= C; c0 += 16)
    for (std::size_t i0 = 0; i0 < blocked_pixels; i0 += 16) {
      __m128i r[16];
      for (std::size_t c = 0; c < 16; ++c) {
        const float* xc = x + (c0 + c) * HW + i0;
        __m128i q[4];
        for (int v = 0; v < 4; ++v)  // truncation, as the scalar int32 conversion
          q[v] = _mm_add_epi32(_mm_cvttps_epi32(_mm_mul_ps(_mm_loadu_ps(xc + 4 * v), vinv)), k128);
        // 0 … 255 in int32: both packs keep them
        r[c] = _mm_packus_epi16(_mm_packs_epi32(q[0], q[1]), _mm_packs_epi32(q[2], q[3]));
      }
      transpose16x16_u8(r);
      for (std::size_t p = 0; p < 16; ++p)
        _mm_storeu_si128(reinterpret_cast<__m128i*>(out + (i0 + p) * C + c0), r[p]);
    }
#endif
  for (std::size_t c = 0; c < C; ++c) {
    const float* xc = x + c * HW;
    for (std::size_t i = c < c0 ? blocked_pixels : 0; i < HW; ++i)
      out[i * C + c] = code_u8(xc[i], inv);
  }
}

void store_planes_i32(const std::int32_t* sums, const std::int32_t* bias, std::size_t pixels,
                      std::size_t channels, double step, float* out) {
  if (!(step >= double(FLT_MIN) && step <= 0x1p64)) {
    for (std::size_t ch = 0; ch < channels; ++ch)
      for (std::size_t pix = 0; pix < pixels; ++pix)
        out[ch * pixels + pix] =
            float(double(std::int64_t(sums[pix * channels + ch]) + bias[ch]) * step);
    return;
  }
  const float fstep = float(step);  // a power of two in float's normal range: exact
  std::size_t ch0 = 0, blocked_pixels = 0;
#if defined(__SSE2__)
  blocked_pixels = pixels / 4 * 4;
  const __m128 vstep = _mm_set1_ps(fstep);
  for (; ch0 + 4 <= channels; ch0 += 4) {
    const __m128i vb = _mm_loadu_si128(reinterpret_cast<const __m128i*>(bias + ch0));
    for (std::size_t p0 = 0; p0 < blocked_pixels; p0 += 4) {
      __m128 r[4];
      for (std::size_t p = 0; p < 4; ++p) {
        const auto* row = reinterpret_cast<const __m128i*>(sums + (p0 + p) * channels + ch0);
        r[p] = _mm_mul_ps(_mm_cvtepi32_ps(_mm_add_epi32(_mm_loadu_si128(row), vb)), vstep);
      }
      _MM_TRANSPOSE4_PS(r[0], r[1], r[2], r[3]);
      for (std::size_t c = 0; c < 4; ++c) _mm_storeu_ps(out + (ch0 + c) * pixels + p0, r[c]);
    }
  }
#endif
  for (std::size_t ch = 0; ch < channels; ++ch)
    for (std::size_t pix = ch < ch0 ? blocked_pixels : 0; pix < pixels; ++pix)
      out[ch * pixels + pix] = float(std::int64_t(sums[pix * channels + ch]) + bias[ch]) * fstep;
}

void store_planes_i64(const std::int64_t* sums, std::size_t pixels, std::size_t channels,
                      double step, float* out) {
  for (std::size_t ch = 0; ch < channels; ++ch)
    for (std::size_t pix = 0; pix < pixels; ++pix)
      out[ch * pixels + pix] = float(double(sums[pix * channels + ch]) * step);
}

}  // namespace qb
