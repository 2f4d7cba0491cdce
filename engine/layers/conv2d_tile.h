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
