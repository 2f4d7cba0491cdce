#include "engine/int8/acc16_models.h"

#include "engine/check.h"
#include "engine/int8/intrinsics.h"

#include <algorithm>
#include <vector>

#define QB_INT8_TARGET QB_INT8_ISA("avx2")

namespace qb::int8 {
namespace {

constexpr int kCols = 16;  // int16 lanes of a vector: output columns per pass

QB_INT8_TARGET __m256i product(std::uint8_t a, const std::int16_t* w) {
  return _mm256_mullo_epi16(_mm256_set1_epi16(std::int16_t(a)),
                            _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w)));
}

// The 16 int16 lanes of v widened into out[0..15].
QB_INT8_TARGET void store_widened(__m256i v, std::int32_t* out) {
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(out),
                      _mm256_cvtepi16_epi32(_mm256_castsi256_si128(v)));
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + 8),
                      _mm256_cvtepi16_epi32(_mm256_extracti128_si256(v, 1)));
}

QB_INT8_TARGET void add_widened(__m256i v, __m256i& lo, __m256i& hi) {
  lo = _mm256_add_epi32(lo, _mm256_cvtepi16_epi32(_mm256_castsi256_si128(v)));
  hi = _mm256_add_epi32(hi, _mm256_cvtepi16_epi32(_mm256_extracti128_si256(v, 1)));
}

// One row against 16 columns: exact sums, pair-wrap and lanes results at once. Lane j of each
// block of 16 k holds products 2j and 2j + 1.
QB_INT8_TARGET void exact_pair_lanes16(int K, const std::uint8_t* a, const std::int16_t* w, int ld,
                                       std::int32_t* exact, std::int32_t* pair_wrap,
                                       std::int32_t* lanes) {
  const __m256i zero = _mm256_setzero_si256();
  __m256i lo = zero, hi = zero, pairs = zero;
  __m256i lane[8] = {zero, zero, zero, zero, zero, zero, zero, zero};
  for (int k0 = 0; k0 < K; k0 += 16)
    for (int j = 0; j < 8; ++j) {
      const int k = k0 + 2 * j;
      if (k >= K) break;
      const __m256i p0 = product(a[k], w + std::size_t(k) * ld);
      const __m256i p1 = k + 1 < K ? product(a[k + 1], w + std::size_t(k + 1) * ld) : zero;
      add_widened(p0, lo, hi);
      add_widened(p1, lo, hi);
      pairs = _mm256_add_epi16(pairs, _mm256_adds_epi16(p0, p1));
      lane[j] = _mm256_add_epi16(lane[j], _mm256_add_epi16(p0, p1));  // modulo 2^16 either way
    }
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(exact), lo);
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(exact + 8), hi);
  store_widened(pairs, pair_wrap);
  __m256i llo = zero, lhi = zero;
  for (const __m256i& l : lane) add_widened(l, llo, lhi);
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(lanes), llo);
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(lanes + 8), lhi);
}

// One row a (K codes) against 16 columns of Wt ([K][ld] int16): the model's 16 results.
template <Acc16 kModel>
QB_INT8_TARGET void dot16(int K, const std::uint8_t* a, const std::int16_t* w, int ld,
                          std::int32_t* out) {
  const __m256i zero = _mm256_setzero_si256();
  if constexpr (kModel == Acc16::saturate) {
    __m256i acc = zero;
    for (int k = 0; k < K; ++k)
      acc = _mm256_adds_epi16(acc, product(a[k], w + std::size_t(k) * ld));
    store_widened(acc, out);
  } else if constexpr (kModel == Acc16::pair_wrap || kModel == Acc16::pair_saturate) {
    __m256i acc = zero, lo = zero, hi = zero;
    for (int k = 0; k < K; k += 2) {
      const __m256i p0 = product(a[k], w + std::size_t(k) * ld);
      const __m256i p1 = k + 1 < K ? product(a[k + 1], w + std::size_t(k + 1) * ld) : zero;
      const __m256i pair = _mm256_adds_epi16(p0, p1);  // sat16 of the pair's sum
      if constexpr (kModel == Acc16::pair_wrap)
        acc = _mm256_add_epi16(acc, pair);
      else
        add_widened(pair, lo, hi);
    }
    if constexpr (kModel == Acc16::pair_wrap) {
      store_widened(acc, out);
    } else {
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(out), lo);
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + 8), hi);
    }
  } else {
    static_assert(kModel == Acc16::lanes);
    alignas(32) std::int32_t exact[kCols], pairs[kCols];  // not needed here
    exact_pair_lanes16(K, a, w, ld, exact, pairs, out);
  }
}

template <Acc16 kModel>
QB_INT8_TARGET std::int64_t rows_avx2(int M, int N, int K, const std::uint8_t* A, int lda,
                                      const std::int16_t* Wt, int ld, const std::int32_t* exact,
                                      int lde, std::int32_t* C, int ldc) {
  std::int64_t differs = 0;
  alignas(32) std::int32_t out[kCols];
  for (int m = 0; m < M; ++m)
    for (int n0 = 0; n0 < N; n0 += kCols) {
      dot16<kModel>(K, A + std::size_t(m) * lda, Wt + n0, ld, out);
      const int cols = std::min(kCols, N - n0);
      std::int32_t* c = C + std::size_t(m) * ldc + n0;
      const std::int32_t* e = exact + std::size_t(m) * lde + n0;
      for (int j = 0; j < cols; ++j) {
        c[j] = out[j];
        differs += out[j] != e[j];
      }
    }
  return differs;
}

QB_INT8_TARGET void exact_pair_lanes_avx2(int M, int N, int K, const std::uint8_t* A, int lda,
                                          const std::int16_t* Wt, int ld, std::int32_t* exact,
                                          std::int32_t* pair_wrap, std::int32_t* lanes, int ldc) {
  alignas(32) std::int32_t e[kCols], p[kCols], l[kCols];
  for (int m = 0; m < M; ++m)
    for (int n0 = 0; n0 < N; n0 += kCols) {
      exact_pair_lanes16(K, A + std::size_t(m) * lda, Wt + n0, ld, e, p, l);
      const int cols = std::min(kCols, N - n0);
      const std::size_t at = std::size_t(m) * ldc + n0;
      std::copy(e, e + cols, exact + at);
      std::copy(p, p + cols, pair_wrap + at);
      std::copy(l, l + cols, lanes + at);
    }
}

// Wt[k][n] = W[n][k] as int16, columns padded with zero weights to whole vectors (ld of them):
// a buffer of this thread's, reused from call to call.
const std::vector<std::int16_t>& transposed(int N, int K, const std::int8_t* W, int ldw, int& ld) {
  thread_local std::vector<std::int16_t> Wt;
  ld = (N + kCols - 1) / kCols * kCols;
  Wt.assign(std::size_t(K) * ld, 0);
  for (int n = 0; n < N; ++n)
    for (int k = 0; k < K; ++k) Wt[std::size_t(k) * ld + n] = W[std::size_t(n) * ldw + k];
  return Wt;
}

}  // namespace

void gemm_exact_pair_lanes(int M, int N, int K, const std::uint8_t* A, int lda,
                           const std::int8_t* W, int ldw, std::int32_t* exact,
                           std::int32_t* pair_wrap, std::int32_t* lanes, int ldc, Isa isa) {
  QB_CHECK_GE(ldc, N);
  if (isa == Isa::scalar) {
    gemm_ref(M, N, K, A, lda, W, ldw, exact, ldc);
    gemm_acc16_ref(Acc16::pair_wrap, M, N, K, A, lda, W, ldw, pair_wrap, ldc, /*count=*/false);
    gemm_acc16_ref(Acc16::lanes, M, N, K, A, lda, W, ldw, lanes, ldc, /*count=*/false);
    return;
  }
  QB_CHECK(cpu_has(Isa::avx2));
  QB_CHECK_GE(lda, K);
  QB_CHECK_GE(ldw, K);
  QB_CHECK_LE(K, kMaxK);
  int ld = 0;
  const std::vector<std::int16_t>& Wt = transposed(N, K, W, ldw, ld);
  exact_pair_lanes_avx2(M, N, K, A, lda, Wt.data(), ld, exact, pair_wrap, lanes, ldc);
}

std::int64_t gemm_acc16_models(Acc16 model, int M, int N, int K, const std::uint8_t* A, int lda,
                               const std::int8_t* W, int ldw, const std::int32_t* exact, int lde,
                               std::int32_t* C, int ldc, Isa isa) {
  QB_CHECK_GE(lde, N);
  QB_CHECK_GE(ldc, N);
  if (model == Acc16::wrap) {
    std::int64_t differs = 0;
    for (int m = 0; m < M; ++m)
      for (int n = 0; n < N; ++n) {
        const std::int32_t e = exact[std::size_t(m) * lde + n];
        const std::int32_t v = std::int16_t(std::uint16_t(std::uint32_t(e)));
        C[std::size_t(m) * ldc + n] = v;
        differs += v != e;
      }
    return differs;
  }
  if (isa == Isa::scalar)
    return gemm_acc16_ref(model, M, N, K, A, lda, W, ldw, C, ldc, /*count=*/true);
  QB_CHECK(cpu_has(Isa::avx2));
  QB_CHECK_GE(lda, K);
  QB_CHECK_GE(ldw, K);
  int ld = 0;
  const std::vector<std::int16_t>& Wt = transposed(N, K, W, ldw, ld);
  switch (model) {
    case Acc16::saturate:
      return rows_avx2<Acc16::saturate>(M, N, K, A, lda, Wt.data(), ld, exact, lde, C, ldc);
    case Acc16::pair_saturate:
      return rows_avx2<Acc16::pair_saturate>(M, N, K, A, lda, Wt.data(), ld, exact, lde, C, ldc);
    case Acc16::pair_wrap:
      return rows_avx2<Acc16::pair_wrap>(M, N, K, A, lda, Wt.data(), ld, exact, lde, C, ldc);
    case Acc16::lanes:
      return rows_avx2<Acc16::lanes>(M, N, K, A, lda, Wt.data(), ld, exact, lde, C, ldc);
    case Acc16::wrap:
      break;
  }
  QB_CHECK(false);
  return 0;
}

}  // namespace qb::int8
