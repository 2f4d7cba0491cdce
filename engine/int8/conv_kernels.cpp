// AVX2 depthwise convolution, exact in int32 (see conv_kernels.h for the sum it computes).
//
// Channels are innermost in both x (NHWC) and w ([kh][kw][C]), so one output pixel's 16
// channels read 16 consecutive bytes per tap from each. Per tap: x widened to int16 minus the
// zero point (in [−255, 255]), w widened to int16, one vpmullw (|product| ≤ 255·128 = 32640,
// exact in int16), then both halves sign-extended and added to two int32 accumulators. A
// remainder of 8 channels uses int32 lanes throughout (vpmulld); fewer than 8 are done one
// at a time. The taps a pixel's window loses to padding are skipped: their z·w are already
// in the accumulators' starting value (base).
#include "engine/int8/conv_kernels.h"

#include "engine/int8/intrinsics.h"

#include <cstdint>

#define QB_AVX2 QB_INT8_ISA("avx2")

namespace qb::int8::detail {

namespace {

void taps(int start, int k, int in, int& k0, int& k1) {
  k0 = start < 0 ? (-start < k ? -start : k) : 0;
  k1 = in - start < k ? in - start : k;
  if (k1 < k0) k1 = k0;
}

}  // namespace

QB_AVX2 void depthwise_rows_avx2(const DepthwiseArgs& a, int r0, int r1) {
  const ConvGeometry& g = a.g;
  const int C = a.C;
  const std::int64_t ldrow = std::int64_t(a.W) * C;  // one input row, bytes
  const __m256i z16 = _mm256_set1_epi16(std::int16_t(a.z));
  const __m256i z32 = _mm256_set1_epi32(a.z);
  for (int r = r0; r < r1; ++r) {
    const int n = r / a.Ho, oy = r % a.Ho;
    const int iy0 = oy * g.stride_h - g.pad_top;
    int ky0, ky1;
    taps(iy0, g.kh, a.H, ky0, ky1);
    const std::uint8_t* img = a.x + std::int64_t(n) * a.H * ldrow;
    for (int ox = 0; ox < a.Wo; ++ox) {
      const int ix0 = ox * g.stride_w - g.pad_left;
      int kx0, kx1;
      taps(ix0, g.kw, a.W, kx0, kx1);
      const int nkx = kx1 - kx0;
      // Offsets of tap (ky, kx0) for channel 0: inside the image for every valid ky.
      const std::int64_t xoff = std::int64_t(iy0) * ldrow + std::int64_t(ix0 + kx0) * C;
      const std::int64_t woff = std::int64_t(kx0) * C;
      std::int32_t* yp = a.y + (std::int64_t(r) * a.Wo + ox) * C;
      int c = 0;
      for (; c + 16 <= C; c += 16) {
        __m256i acc0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a.base + c));
        __m256i acc1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a.base + c + 8));
        for (int ky = ky0; ky < ky1; ++ky) {
          const std::uint8_t* xr = img + (xoff + ky * ldrow + c);
          const std::int8_t* wr = a.w + (std::int64_t(ky) * g.kw * C + woff + c);
          for (int j = 0; j < nkx; ++j) {
            const __m256i xv = _mm256_sub_epi16(
                _mm256_cvtepu8_epi16(
                    _mm_loadu_si128(reinterpret_cast<const __m128i*>(xr + std::int64_t(j) * C))),
                z16);
            const __m256i wv = _mm256_cvtepi8_epi16(
                _mm_loadu_si128(reinterpret_cast<const __m128i*>(wr + std::int64_t(j) * C)));
            const __m256i p = _mm256_mullo_epi16(xv, wv);
            acc0 = _mm256_add_epi32(acc0, _mm256_cvtepi16_epi32(_mm256_castsi256_si128(p)));
            acc1 = _mm256_add_epi32(acc1, _mm256_cvtepi16_epi32(_mm256_extracti128_si256(p, 1)));
          }
        }
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(yp + c), acc0);
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(yp + c + 8), acc1);
      }
      for (; c + 8 <= C; c += 8) {
        __m256i acc = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a.base + c));
        for (int ky = ky0; ky < ky1; ++ky) {
          const std::uint8_t* xr = img + (xoff + ky * ldrow + c);
          const std::int8_t* wr = a.w + (std::int64_t(ky) * g.kw * C + woff + c);
          for (int j = 0; j < nkx; ++j) {
            const __m256i xv = _mm256_sub_epi32(
                _mm256_cvtepu8_epi32(
                    _mm_loadl_epi64(reinterpret_cast<const __m128i*>(xr + std::int64_t(j) * C))),
                z32);
            const __m256i wv = _mm256_cvtepi8_epi32(
                _mm_loadl_epi64(reinterpret_cast<const __m128i*>(wr + std::int64_t(j) * C)));
            acc = _mm256_add_epi32(acc, _mm256_mullo_epi32(xv, wv));
          }
        }
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(yp + c), acc);
      }
      for (; c < C; ++c) {
        std::int32_t acc = a.base[c];
        for (int ky = ky0; ky < ky1; ++ky)
          for (int j = 0; j < nkx; ++j)
            acc += (std::int32_t(img[xoff + ky * ldrow + std::int64_t(j) * C + c]) - a.z) *
                   a.w[std::int64_t(ky) * g.kw * C + woff + std::int64_t(j) * C + c];
        yp[c] = acc;
      }
    }
  }
}

}  // namespace qb::int8::detail
