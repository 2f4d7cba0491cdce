#include "engine/int8/gemm_s16.h"

#include "engine/check.h"
#include "engine/int8/intrinsics.h"
#include "engine/int8/reference.h"
#include "engine/parallel.h"

#include <algorithm>
#include <cstdlib>

namespace qb::int8 {
namespace {

std::int32_t max_abs_s16(const std::int16_t* X, int rows, int K, int ld) {
  std::int32_t m = 0;
  for (int r = 0; r < rows; ++r) {
    const std::int16_t* x = X + std::int64_t(r) * ld;
    for (int k = 0; k < K; ++k) m = std::max(m, std::abs(std::int32_t(x[k])));
  }
  return m;
}

// Σ of the four int64 lanes.
QB_INT8_ISA("avx2") std::int64_t sum_lanes(__m256i v) {
  const __m128i s = _mm_add_epi64(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
  return _mm_cvtsi128_si64(s) + _mm_extract_epi64(s, 1);
}

// acc64 += the eight int32 lanes of acc32, sign-extended.
QB_INT8_ISA("avx2") __m256i widen_add(__m256i acc64, __m256i acc32) {
  acc64 = _mm256_add_epi64(acc64, _mm256_cvtepi32_epi64(_mm256_castsi256_si128(acc32)));
  return _mm256_add_epi64(acc64, _mm256_cvtepi32_epi64(_mm256_extracti128_si256(acc32, 1)));
}

// Rows [m0, m1): for each row of A, four rows of B at a time (A's 16 values loaded once for
// four vpmaddwd), K in steps of 16, the tail (K mod 16) in scalar int64.
QB_INT8_ISA("avx2")
void rows_avx2(int m0, int m1, int N, int K, const std::int16_t* A, int lda, const std::int16_t* B,
               int ldb, std::int64_t* C, int ldc, int block) {
  constexpr int kNB = 4;
  const int K16 = K / 16 * 16;
  for (int m = m0; m < m1; ++m) {
    const std::int16_t* a = A + std::int64_t(m) * lda;
    for (int n0 = 0; n0 < N; n0 += kNB) {
      const int nb = std::min(kNB, N - n0);
      const std::int16_t* b[kNB];
      for (int j = 0; j < kNB; ++j) b[j] = B + std::int64_t(n0 + std::min(j, nb - 1)) * ldb;
      __m256i acc64[kNB];
      for (int j = 0; j < kNB; ++j) acc64[j] = _mm256_setzero_si256();
      for (int k0 = 0; k0 < K16;) {
        const int k_end = std::min(K16, k0 + 16 * block);
        __m256i acc32[kNB];
        for (int j = 0; j < kNB; ++j) acc32[j] = _mm256_setzero_si256();
        for (int k = k0; k < k_end; k += 16) {
          const __m256i va = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a + k));
          for (int j = 0; j < kNB; ++j) {
            const __m256i vb = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b[j] + k));
            acc32[j] = _mm256_add_epi32(acc32[j], _mm256_madd_epi16(va, vb));
          }
        }
        for (int j = 0; j < kNB; ++j) acc64[j] = widen_add(acc64[j], acc32[j]);
        k0 = k_end;
      }
      for (int j = 0; j < nb; ++j) {
        std::int64_t s = sum_lanes(acc64[j]);
        for (int k = K16; k < K; ++k) s += std::int32_t(a[k]) * std::int32_t(b[j][k]);
        C[std::int64_t(m) * ldc + n0 + j] = s;
      }
    }
  }
}

}  // namespace

int gemm_s16_block(std::int32_t max_a, std::int32_t max_b) {
  QB_CHECK_LE(max_a, 32768);
  QB_CHECK_LE(max_b, 32768);
  const std::int64_t pair = 2 * std::int64_t(max_a) * max_b;
  constexpr std::int64_t kCap = 1 << 20;  // so that 16·block stays an int
  if (pair == 0) return int(kCap);        // all zeros: any block
  return int(std::min(kCap, ((std::int64_t(1) << 31) - 1) / pair));
}

void gemm_s16(int M, int N, int K, const std::int16_t* A, int lda, const std::int16_t* B, int ldb,
              std::int64_t* C, int ldc, Isa isa) {
  check_gemm_s16_shape(M, N, K, lda, ldb, ldc);
  if (M == 0 || N == 0) return;
  const bool vector = isa != Isa::scalar && cpu_has(Isa::avx2);
  const int block =
      vector ? gemm_s16_block(max_abs_s16(A, M, K, lda), max_abs_s16(B, N, K, ldb)) : 0;
  // At least 32 rows a thread, so small M stays on one (as int8::gemm).
  const int T = std::min(omp_get_max_threads(), std::max(1, M / 32));
  parallel_split(M, T, [&](int, std::int64_t m0, std::int64_t m1) {
    if (block > 0)
      rows_avx2(int(m0), int(m1), N, K, A, lda, B, ldb, C, ldc, block);
    else
      gemm_s16_ref(int(m1 - m0), N, K, A + m0 * lda, lda, B, ldb, C + m0 * ldc, ldc);
  });
}

}  // namespace qb::int8
