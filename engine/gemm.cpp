#include "engine/gemm.h"

#include "engine/parallel.h"

#include <cblas.h>
#include <omp.h>

#include <algorithm>
#include <cstdint>

namespace qb {

void sgemm(bool trans_a, bool trans_b, int M, int N, int K, float alpha, const float* A, int lda,
           const float* B, int ldb, float beta, float* C, int ldc) {
  cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans,
              trans_b ? CblasTrans : CblasNoTrans, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

void set_blas_single_threaded() { openblas_set_num_threads(1); }

void sgemm_parallel_rows(bool trans_a, bool trans_b, int M, int N, int K, float alpha,
                         const float* A, int lda, const float* B, int ldb, float beta, float* C,
                         int ldc) {
  const int T = std::min(omp_get_max_threads(), std::max(1, M / 8));
  parallel_split(M, T, [&](int, std::int64_t m0, std::int64_t m1) {
    // Row m of op(A) starts at A + m*lda (no transpose) or at column m (transpose).
    const float* a = trans_a ? A + m0 : A + m0 * lda;
    sgemm(trans_a, trans_b, int(m1 - m0), N, K, alpha, a, lda, B, ldb, beta, C + m0 * ldc, ldc);
  });
}

}  // namespace qb
