#include "engine/int8/gemm_s16.h"

#include "engine/check.h"
#include "engine/int8/intrinsics.h"

// GCC 12's avx512fintrin.h makes its "undefined" vectors as `__m512i __Y = __Y;`, which
// -Wuninitialized then reports wherever an intrinsic using one is inlined (GCC bug 105593,
// fixed in GCC 13; as in requantize_kernels.cpp). Nothing here reads an uninitialised value.
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include "engine/int8/reference.h"
#include "engine/parallel.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>

namespace qb::int8 {
namespace {

constexpr int kP = PackedS16::kPanel;
constexpr int kMR = 4;  // rows of A per tile: 4 × 2 accumulators + 2 of B + 1 of A = 11 ymm

std::int32_t max_abs_s16(const std::int16_t* X, int rows, int K, int ld) {
  std::int32_t m = 0;
  for (int r = 0; r < rows; ++r) {
    const std::int16_t* x = X + std::int64_t(r) * ld;
    for (int k = 0; k < K; ++k) m = std::max(m, std::abs(std::int32_t(x[k])));
  }
  return m;
}

std::int32_t pair_of(std::int16_t lo, std::int16_t hi) {
  return std::int32_t(std::uint32_t(std::uint16_t(lo)) | std::uint32_t(std::uint16_t(hi)) << 16);
}

// Rows [m0, m1) in plain int64 arithmetic on the packed panels: the ISA-less path, and the one
// for operands whose pairs vpmaddwd would wrap.
void rows_scalar(int m0, int m1, const std::int16_t* A, int lda, const PackedS16& B,
                 std::int64_t* C, int ldc) {
  const int N = B.n(), K = B.k(), J = B.pairs();
  for (int m = m0; m < m1; ++m) {
    const std::int16_t* a = A + std::int64_t(m) * lda;
    for (int p = 0; p < B.panels(); ++p) {
      const std::int32_t* panel = B.panel(p);
      for (int i = 0; i < std::min(kP, N - p * kP); ++i) {
        std::int64_t s = 0;
        for (int j = 0; j < J; ++j) {
          const std::int32_t w = panel[j * kP + i];
          s += std::int64_t(a[2 * j]) * std::int16_t(w & 0xffff);
          if (2 * j + 1 < K) s += std::int64_t(a[2 * j + 1]) * std::int16_t(w >> 16);
        }
        C[std::int64_t(m) * ldc + p * kP + i] = s;
      }
    }
  }
}

// c[0..n) (+)= the 16 int32 lanes of (lo, hi), sign-extended; `first` stores instead of adding.
QB_INT8_ISA("avx2")
void widen_into(__m256i lo, __m256i hi, std::int64_t* c, int n, bool first) {
  const __m256i w[4] = {_mm256_cvtepi32_epi64(_mm256_castsi256_si128(lo)),
                        _mm256_cvtepi32_epi64(_mm256_extracti128_si256(lo, 1)),
                        _mm256_cvtepi32_epi64(_mm256_castsi256_si128(hi)),
                        _mm256_cvtepi32_epi64(_mm256_extracti128_si256(hi, 1))};
  if (n == kP) {
    for (int q = 0; q < 4; ++q) {
      auto* cq = reinterpret_cast<__m256i*>(c + 4 * q);
      _mm256_storeu_si256(cq, first ? w[q] : _mm256_add_epi64(_mm256_loadu_si256(cq), w[q]));
    }
    return;
  }
  alignas(32) std::int64_t t[kP];
  for (int q = 0; q < 4; ++q) _mm256_store_si256(reinterpret_cast<__m256i*>(t + 4 * q), w[q]);
  for (int i = 0; i < n; ++i) c[i] = first ? t[i] : c[i] + t[i];
}

// acc[r] += the products of A's pair pa[r] with pair j of the panel, for the MR rows.
template <int MR>
QB_INT8_ISA("avx2")
inline void pair_step(__m256i (&acc)[MR][2], const std::int32_t* panel, int j,
                      const std::int32_t (&pa)[MR]) {
  const __m256i b0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(panel + j * kP));
  const __m256i b1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(panel + j * kP + 8));
  for (int r = 0; r < MR; ++r) {
    const __m256i a = _mm256_set1_epi32(pa[r]);
    acc[r][0] = _mm256_add_epi32(acc[r][0], _mm256_madd_epi16(a, b0));
    acc[r][1] = _mm256_add_epi32(acc[r][1], _mm256_madd_epi16(a, b1));
  }
}

// The MR × 16 tile of C at rows A[0..MR) and one panel (n of its columns real).
template <int MR>
QB_INT8_ISA("avx2")
void tile_avx2(const std::int16_t* A, int lda, int K, const std::int32_t* panel, int block,
               std::int64_t* C, int ldc, int n) {
  const int J = (K + 1) / 2, full = K / 2;
  for (int j0 = 0; j0 < J;) {
    const int j1 = std::min(J, j0 + block);
    __m256i acc[MR][2];
    for (int r = 0; r < MR; ++r) acc[r][0] = acc[r][1] = _mm256_setzero_si256();
    std::int32_t pa[MR];
    for (int j = j0; j < std::min(j1, full); ++j) {
      for (int r = 0; r < MR; ++r) std::memcpy(&pa[r], A + std::int64_t(r) * lda + 2 * j, 4);
      pair_step<MR>(acc, panel, j, pa);
    }
    if (j1 > full) {  // K odd: its last column, paired with the zero the panel holds
      for (int r = 0; r < MR; ++r) pa[r] = pair_of(A[std::int64_t(r) * lda + K - 1], 0);
      pair_step<MR>(acc, panel, full, pa);
    }
    for (int r = 0; r < MR; ++r)
      widen_into(acc[r][0], acc[r][1], C + std::int64_t(r) * ldc, n, j0 == 0);
    j0 = j1;
  }
}

// AVX-512 VNNI: one panel is one zmm of 16 int32 lanes, and vpdpwssd multiplies the pairs and
// adds them into the lanes in one instruction (AVX2 needs vpmaddwd then vpaddd). An 8-row tile:
// per pair of k, one load of B and eight vpdpwssd on broadcast pairs of A (8 + 1 of 32 zmm).
// The lanes wrap like vpaddd's, so the same block keeps every sum exact.
constexpr int kMR512 = 8;

#define QB_S16_VNNI QB_INT8_ISA("avx512f,avx512bw,avx512vl,avx512vnni")

// c[0..n) (+)= the 16 int32 lanes of acc, sign-extended; `first` stores instead of adding.
QB_S16_VNNI
void widen_into_512(__m512i acc, std::int64_t* c, int n, bool first) {
  const __m512i w[2] = {_mm512_cvtepi32_epi64(_mm512_castsi512_si256(acc)),
                        _mm512_cvtepi32_epi64(_mm512_extracti64x4_epi64(acc, 1))};
  for (int h = 0; h < 2; ++h) {
    const int lanes = std::clamp(n - 8 * h, 0, 8);
    if (lanes == 0) return;
    const __mmask8 k = __mmask8((1u << lanes) - 1);
    std::int64_t* ch = c + 8 * h;
    const __m512i v = first ? w[h] : _mm512_add_epi64(_mm512_maskz_loadu_epi64(k, ch), w[h]);
    _mm512_mask_storeu_epi64(ch, k, v);
  }
}

// The MR × 16 tile of C at rows A[0..MR) and one panel (n of its columns real).
template <int MR>
QB_S16_VNNI void tile_avx512vnni(const std::int16_t* A, int lda, int K, const std::int32_t* panel,
                                 int block, std::int64_t* C, int ldc, int n) {
  const int J = (K + 1) / 2, full = K / 2;
  for (int j0 = 0; j0 < J;) {
    const int j1 = std::min(J, j0 + block);
    __m512i acc[MR];
    for (int r = 0; r < MR; ++r) acc[r] = _mm512_setzero_si512();
    for (int j = j0; j < std::min(j1, full); ++j) {
      const __m512i b = _mm512_loadu_si512(panel + j * kP);
      for (int r = 0; r < MR; ++r) {
        std::int32_t pa;
        std::memcpy(&pa, A + std::int64_t(r) * lda + 2 * j, 4);
        acc[r] = _mm512_dpwssd_epi32(acc[r], _mm512_set1_epi32(pa), b);
      }
    }
    if (j1 > full) {  // K odd: its last column, paired with the zero the panel holds
      const __m512i b = _mm512_loadu_si512(panel + full * kP);
      for (int r = 0; r < MR; ++r)
        acc[r] = _mm512_dpwssd_epi32(
            acc[r], _mm512_set1_epi32(pair_of(A[std::int64_t(r) * lda + K - 1], 0)), b);
    }
    for (int r = 0; r < MR; ++r) widen_into_512(acc[r], C + std::int64_t(r) * ldc, n, j0 == 0);
    j0 = j1;
  }
}

#undef QB_S16_VNNI

// Each vector kernel's tiles: tile<R> for R = 1 … kRows rows of A, against one panel.
struct Avx2Tiles {
  static constexpr int kRows = kMR;
  template <int R, class... Args>
  static void tile(Args... args) {
    tile_avx2<R>(args...);
  }
};
struct Avx512VnniTiles {
  static constexpr int kRows = kMR512;
  template <int R, class... Args>
  static void tile(Args... args) {
    tile_avx512vnni<R>(args...);
  }
};

// The tile of mr ≤ R rows (kRows for all but the last rows of a share).
template <class Tiles, int R = Tiles::kRows>
void tile_of(int mr, const std::int16_t* a, int lda, int K, const std::int32_t* panel, int block,
             std::int64_t* c, int ldc, int n) {
  if constexpr (R > 0) {
    if (mr == R) return Tiles::template tile<R>(a, lda, K, panel, block, c, ldc, n);
    tile_of<Tiles, R - 1>(mr, a, lda, K, panel, block, c, ldc, n);
  }
}

// Rows [m0, m1) of C, tile by tile and panel by panel.
template <class Tiles>
void rows_tiled(int m0, int m1, const std::int16_t* A, int lda, const PackedS16& B, int block,
                std::int64_t* C, int ldc) {
  for (int m = m0; m < m1; m += Tiles::kRows) {
    const int mr = std::min(Tiles::kRows, m1 - m);
    const std::int16_t* a = A + std::int64_t(m) * lda;
    for (int p = 0; p < B.panels(); ++p)
      tile_of<Tiles>(mr, a, lda, B.k(), B.panel(p), block, C + std::int64_t(m) * ldc + p * kP, ldc,
                     std::min(kP, B.n() - p * kP));
  }
}

}  // namespace

void PackedS16::pack(const std::int16_t* B, int N, int K, int ldb) {
  check_gemm_s16_shape(0, N, K, K, ldb, N);
  n_ = N;
  k_ = K;
  const std::size_t size = std::size_t(panels()) * std::size_t(pairs()) * kP;
  if (data_.size() < size) data_.resize(size);
  max_abs_ = max_abs_s16(B, N, K, ldb);
  for (int p = 0; p < panels(); ++p) {
    std::int32_t* panel = data_.data() + std::int64_t(p) * pairs() * kP;
    for (int i = 0; i < kP; ++i) {
      const int n = p * kP + i;
      if (n >= N) {
        for (int j = 0; j < pairs(); ++j) panel[j * kP + i] = 0;
        continue;
      }
      const std::int16_t* b = B + std::int64_t(n) * ldb;
      for (int j = 0; j < pairs(); ++j)
        panel[j * kP + i] = pair_of(b[2 * j], 2 * j + 1 < K ? b[2 * j + 1] : std::int16_t(0));
    }
  }
}

int gemm_s16_block(std::int32_t max_a, std::int32_t max_b) {
  QB_CHECK_LE(max_a, 32768);
  QB_CHECK_LE(max_b, 32768);
  const std::int64_t pair = 2 * std::int64_t(max_a) * max_b;
  constexpr std::int64_t kCap = 1 << 20;
  if (pair == 0) return int(kCap);  // all zeros: any block
  return int(std::min(kCap, ((std::int64_t(1) << 31) - 1) / pair));
}

void gemm_s16(int M, const std::int16_t* A, int lda, const PackedS16& B, std::int64_t* C, int ldc,
              Isa isa) {
  const int N = B.n(), K = B.k();
  check_gemm_s16_shape(M, N, K, lda, K, ldc);
  if (M == 0 || N == 0) return;
  const bool vector = isa != Isa::scalar && cpu_has(Isa::avx2) && K > 0;
  const bool vnni = vector && isa == Isa::avx512vnni && cpu_has(Isa::avx512vnni);
  const int block = vector ? gemm_s16_block(max_abs_s16(A, M, K, lda), B.max_abs()) : 0;
  // At least 32 rows a thread, so small M stays on one (as int8::gemm).
  const int T = std::min(omp_get_max_threads(), std::max(1, M / 32));
  parallel_split(M, T, [&](int, std::int64_t m0, std::int64_t m1) {
    if (block > 0 && vnni)
      rows_tiled<Avx512VnniTiles>(int(m0), int(m1), A, lda, B, block, C, ldc);
    else if (block > 0)
      rows_tiled<Avx2Tiles>(int(m0), int(m1), A, lda, B, block, C, ldc);
    else
      rows_scalar(int(m0), int(m1), A, lda, B, C, ldc);
  });
}

void gemm_s16(int M, int N, int K, const std::int16_t* A, int lda, const std::int16_t* B, int ldb,
              std::int64_t* C, int ldc, Isa isa) {
  gemm_s16(M, A, lda, PackedS16(B, N, K, ldb), C, ldc, isa);  // both check their shapes
}

}  // namespace qb::int8
