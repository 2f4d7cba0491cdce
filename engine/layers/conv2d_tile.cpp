#include "engine/layers/conv2d_tile.h"

#include "engine/int8/isa.h"

#include <immintrin.h>

#include <cmath>

namespace qb {

void tile_kernel_scalar(std::size_t kc, const float* A, const float* B, float* C, std::size_t ldc,
                        bool accumulate) {
  for (std::size_t r = 0; r < kTileRows; ++r)
    for (std::size_t c = 0; c < kTileCols; ++c) {
      float acc = accumulate ? C[r * ldc + c] : 0.0f;
      for (std::size_t k = 0; k < kc; ++k)
        acc = std::fma(A[k * kTileRows + r], B[k * kTileCols + c], acc);
      C[r * ldc + c] = acc;
    }
}

// Twelve named accumulators, not arrays: GCC kept an array tile on the stack and stored it
// back on every k (half the speed of OpenBLAS's kernel), as it did in engine/int8 before.
__attribute__((target("avx2,fma"))) void tile_kernel_avx2(std::size_t kc, const float* A,
                                                          const float* B, float* C, std::size_t ldc,
                                                          bool accumulate) {
  float* C0 = C;
  float* C1 = C + ldc;
  float* C2 = C + 2 * ldc;
  float* C3 = C + 3 * ldc;
  __m256 c00 = _mm256_setzero_ps(), c01 = c00, c02 = c00, c10 = c00, c11 = c00, c12 = c00;
  __m256 c20 = c00, c21 = c00, c22 = c00, c30 = c00, c31 = c00, c32 = c00;
  if (accumulate) {
    c00 = _mm256_loadu_ps(C0), c01 = _mm256_loadu_ps(C0 + 8), c02 = _mm256_loadu_ps(C0 + 16);
    c10 = _mm256_loadu_ps(C1), c11 = _mm256_loadu_ps(C1 + 8), c12 = _mm256_loadu_ps(C1 + 16);
    c20 = _mm256_loadu_ps(C2), c21 = _mm256_loadu_ps(C2 + 8), c22 = _mm256_loadu_ps(C2 + 16);
    c30 = _mm256_loadu_ps(C3), c31 = _mm256_loadu_ps(C3 + 8), c32 = _mm256_loadu_ps(C3 + 16);
  }
  for (std::size_t k = 0; k < kc; ++k, A += kTileRows, B += kTileCols) {
    __m256 b0 = _mm256_loadu_ps(B), b1 = _mm256_loadu_ps(B + 8), b2 = _mm256_loadu_ps(B + 16);
    // Keeps b0..b2 in registers: GCC otherwise folds them into each FMA as a memory operand,
    // 16 loads per 12 FMAs instead of 7, more than the two load ports keep up with.
    __asm__("" : "+x"(b0), "+x"(b1), "+x"(b2));
    __m256 a = _mm256_broadcast_ss(A);
    c00 = _mm256_fmadd_ps(a, b0, c00);
    c01 = _mm256_fmadd_ps(a, b1, c01);
    c02 = _mm256_fmadd_ps(a, b2, c02);
    a = _mm256_broadcast_ss(A + 1);
    c10 = _mm256_fmadd_ps(a, b0, c10);
    c11 = _mm256_fmadd_ps(a, b1, c11);
    c12 = _mm256_fmadd_ps(a, b2, c12);
    a = _mm256_broadcast_ss(A + 2);
    c20 = _mm256_fmadd_ps(a, b0, c20);
    c21 = _mm256_fmadd_ps(a, b1, c21);
    c22 = _mm256_fmadd_ps(a, b2, c22);
    a = _mm256_broadcast_ss(A + 3);
    c30 = _mm256_fmadd_ps(a, b0, c30);
    c31 = _mm256_fmadd_ps(a, b1, c31);
    c32 = _mm256_fmadd_ps(a, b2, c32);
  }
  _mm256_storeu_ps(C0, c00), _mm256_storeu_ps(C0 + 8, c01), _mm256_storeu_ps(C0 + 16, c02);
  _mm256_storeu_ps(C1, c10), _mm256_storeu_ps(C1 + 8, c11), _mm256_storeu_ps(C1 + 16, c12);
  _mm256_storeu_ps(C2, c20), _mm256_storeu_ps(C2 + 8, c21), _mm256_storeu_ps(C2 + 16, c22);
  _mm256_storeu_ps(C3, c30), _mm256_storeu_ps(C3 + 8, c31), _mm256_storeu_ps(C3 + 16, c32);
}

void grad_tile_kernel_scalar(std::size_t n8, const float* dy, std::size_t ldd, const float* col,
                             std::size_t ldc, float* part, std::size_t ldp) {
  for (std::size_t r = 0; r < kGradTileRows; ++r)
    for (std::size_t c = 0; c < kGradTileCols; ++c)
      for (std::size_t l = 0; l < kGradLanes; ++l) {
        float acc = part[r * ldp + c * kGradLanes + l];
        for (std::size_t v = 0; v < n8; ++v)
          acc = std::fma(dy[r * ldd + v * kGradLanes + l], col[c * ldc + v * kGradLanes + l], acc);
        part[r * ldp + c * kGradLanes + l] = acc;
      }
}

// Twelve accumulators, the three column vectors, and one dy vector at a time: 16 registers.
__attribute__((target("avx2,fma"))) void grad_tile_kernel_avx2(std::size_t n8, const float* dy,
                                                               std::size_t ldd, const float* col,
                                                               std::size_t ldc, float* part,
                                                               std::size_t ldp) {
  float* P0 = part;
  float* P1 = part + ldp;
  float* P2 = part + 2 * ldp;
  float* P3 = part + 3 * ldp;
  __m256 a00 = _mm256_loadu_ps(P0), a01 = _mm256_loadu_ps(P0 + 8), a02 = _mm256_loadu_ps(P0 + 16);
  __m256 a10 = _mm256_loadu_ps(P1), a11 = _mm256_loadu_ps(P1 + 8), a12 = _mm256_loadu_ps(P1 + 16);
  __m256 a20 = _mm256_loadu_ps(P2), a21 = _mm256_loadu_ps(P2 + 8), a22 = _mm256_loadu_ps(P2 + 16);
  __m256 a30 = _mm256_loadu_ps(P3), a31 = _mm256_loadu_ps(P3 + 8), a32 = _mm256_loadu_ps(P3 + 16);
  const float* D0 = dy;
  const float* D1 = dy + ldd;
  const float* D2 = dy + 2 * ldd;
  const float* D3 = dy + 3 * ldd;
  const float* X0 = col;
  const float* X1 = col + ldc;
  const float* X2 = col + 2 * ldc;
  for (std::size_t i = 0; i < n8 * kGradLanes; i += kGradLanes) {
    __m256 x0 = _mm256_loadu_ps(X0 + i), x1 = _mm256_loadu_ps(X1 + i), x2 = _mm256_loadu_ps(X2 + i);
    // Keeps every operand in a register: GCC otherwise folds the loads into the FMAs, 15 loads
    // per 12 FMAs where 7 suffice.
    __asm__("" : "+x"(x0), "+x"(x1), "+x"(x2));
    __m256 d = _mm256_loadu_ps(D0 + i);
    __asm__("" : "+x"(d));
    a00 = _mm256_fmadd_ps(d, x0, a00);
    a01 = _mm256_fmadd_ps(d, x1, a01);
    a02 = _mm256_fmadd_ps(d, x2, a02);
    d = _mm256_loadu_ps(D1 + i);
    __asm__("" : "+x"(d));
    a10 = _mm256_fmadd_ps(d, x0, a10);
    a11 = _mm256_fmadd_ps(d, x1, a11);
    a12 = _mm256_fmadd_ps(d, x2, a12);
    d = _mm256_loadu_ps(D2 + i);
    __asm__("" : "+x"(d));
    a20 = _mm256_fmadd_ps(d, x0, a20);
    a21 = _mm256_fmadd_ps(d, x1, a21);
    a22 = _mm256_fmadd_ps(d, x2, a22);
    d = _mm256_loadu_ps(D3 + i);
    __asm__("" : "+x"(d));
    a30 = _mm256_fmadd_ps(d, x0, a30);
    a31 = _mm256_fmadd_ps(d, x1, a31);
    a32 = _mm256_fmadd_ps(d, x2, a32);
  }
  _mm256_storeu_ps(P0, a00), _mm256_storeu_ps(P0 + 8, a01), _mm256_storeu_ps(P0 + 16, a02);
  _mm256_storeu_ps(P1, a10), _mm256_storeu_ps(P1 + 8, a11), _mm256_storeu_ps(P1 + 16, a12);
  _mm256_storeu_ps(P2, a20), _mm256_storeu_ps(P2 + 8, a21), _mm256_storeu_ps(P2 + 16, a22);
  _mm256_storeu_ps(P3, a30), _mm256_storeu_ps(P3 + 8, a31), _mm256_storeu_ps(P3 + 16, a32);
}

bool cpu_has_avx2_fma() {
  return int8::best_isa() >= int8::Isa::avx2 && __builtin_cpu_supports("fma");
}

TileKernel best_tile_kernel() { return cpu_has_avx2_fma() ? tile_kernel_avx2 : tile_kernel_scalar; }

GradTileKernel best_grad_tile_kernel() {
  return cpu_has_avx2_fma() ? grad_tile_kernel_avx2 : grad_tile_kernel_scalar;
}

}  // namespace qb
