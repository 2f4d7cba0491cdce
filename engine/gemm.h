// fp32 GEMM, row-major, through OpenBLAS.
//
// This is the only translation unit that includes OpenBLAS's cblas.h (xtensor-blas ships a
// conflicting cblas.h; keeping BLAS behind this header means the two never meet).
#pragma once

namespace qb {

// C[M,N] = alpha * op(A)[M,K] * op(B)[K,N] + beta * C, all row-major with leading dimensions.
void sgemm(bool trans_a, bool trans_b, int M, int N, int K, float alpha, const float* A, int lda,
           const float* B, int ldb, float beta, float* C, int ldc);

void set_blas_single_threaded();

}  // namespace qb

namespace qb {

// sgemm with the M rows of C split across qbench's threads (a fixed partition; each element's
// K-reduction happens inside one single-threaded call, so results do not depend on the split).
void sgemm_parallel_rows(bool trans_a, bool trans_b, int M, int N, int K, float alpha,
                         const float* A, int lda, const float* B, int ldb, float beta, float* C,
                         int ldc);

}  // namespace qb
