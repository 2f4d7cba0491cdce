// The register tile of the direct fp32 convolution kernels (conv2d_direct.h): a 4×24 block of
// outputs held in twelve 8-float FMA accumulators, fed by two packed panels,
//
//   C[r][c] (+)= Σ_k A[k][r] · B[k][c],    r < 4, c < 24, k = 0, 1, …, kc−1 in this order,
//
// A (kc×4) and B (kc×24) packed contiguously, C's rows `ldc` floats apart. Why 4×24: ResNet's
// output channel counts (16, 32, 64) are multiples of 4, and per k the tile does 12 FMAs for 3
// loads of B and 4 broadcasts of A, inside the 16 ymm registers of AVX2.
//
// Each output is one chain of fused multiply-adds in k order starting from C (accumulate) or
// from +0, so the AVX2+FMA kernel and the scalar fallback (std::fma) agree bit for bit.
#pragma once

#include <cstddef>

namespace qb {

// The CPU runs AVX2 and FMA, and QB_MAX_ISA (engine/int8/isa.h) allows them: the fp32 kernels'
// condition for their vector forms (here and conv2d_stem.h).
bool cpu_has_avx2_fma();

inline constexpr std::size_t kTileRows = 4, kTileCols = 24;

using TileKernel = void (*)(std::size_t kc, const float* A, const float* B, float* C,
                            std::size_t ldc, bool accumulate);

void tile_kernel_scalar(std::size_t kc, const float* A, const float* B, float* C, std::size_t ldc,
                        bool accumulate);
// Requires AVX2 and FMA.
void tile_kernel_avx2(std::size_t kc, const float* A, const float* B, float* C, std::size_t ldc,
                      bool accumulate);

// The fastest kernel this CPU runs; QB_MAX_ISA=scalar (engine/int8/isa.h) forces the fallback.
TileKernel best_tile_kernel();

}  // namespace qb

namespace qb {

// The weight-gradient tile: 4 output channels × 3 entries of K, each an 8-lane partial sum
// over pixels (lane l sums the pixels ≡ l mod 8), so both operands are read along pixels as
// they lie in dy and in a gathered column panel (no transposition):
//
//   part[r·ldp + 8c + l] += Σ_v dy[r·ldd + 8v + l] · col[c·ldc + 8v + l],   v = 0 … n8−1 in order
//
// The 8 lanes are added in a fixed order by the caller at the end. As for TileKernel, the AVX2
// kernel and the scalar fallback give the same bits.
inline constexpr std::size_t kGradTileRows = 4, kGradTileCols = 3, kGradLanes = 8;

using GradTileKernel = void (*)(std::size_t n8, const float* dy, std::size_t ldd, const float* col,
                                std::size_t ldc, float* part, std::size_t ldp);

void grad_tile_kernel_scalar(std::size_t n8, const float* dy, std::size_t ldd, const float* col,
                             std::size_t ldc, float* part, std::size_t ldp);
// Requires AVX2 and FMA.
void grad_tile_kernel_avx2(std::size_t n8, const float* dy, std::size_t ldd, const float* col,
                           std::size_t ldc, float* part, std::size_t ldp);

GradTileKernel best_grad_tile_kernel();

}  // namespace qb
