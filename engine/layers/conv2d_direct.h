// Direct fp32 convolution kernels (implicit GEMM) for ungrouped convolutions: ResNet-20's 3×3
// convolutions at stride 1 and 2, and any other k, s, p with g = 1.
//
// The im2col + OpenBLAS path (conv2d_kernels.h) moves every input value twice before
// multiplying it: im2col writes the column matrix to memory, then sgemm repacks it into its
// own panels; a profile of a ResNet-20 step showed ~30% of the time in im2col and ~15% in
// OpenBLAS's packing. Here the column matrix is never formed: each 24-pixel panel is gathered
// straight from the image into the layout the 4×24 register tile (conv2d_tile.h) reads, while
// it sits in L1, and multiplied there.
//
//   forward   y (O × pixels)  = W (O × K) · col (K × pixels): a tile is 4 output channels × 24
//             output pixels (counted across images, so 7×7 maps leave no ragged tail), summed
//             over K = C·k·k in (c, i, j) order.
//   dL/dW     dW (O × K) += dy (O × pixels) · colᵀ (pixels × K): a tile is 4 output channels ×
//             3 entries of K, each held as 8 lanes that sum every 8th pixel of the batch, so
//             dy and the gathered rows of col are both read along pixels, as they lie; the 8
//             lanes are added in a fixed order at the end (conv2d_tile.h).
//   dL/dx     stride 1: the forward kernel on dy with flipped weights (conv2d_kernels.cpp).
//
// Threads: forward splits pixel panels, dL/dW splits triples of K, by parallel_split.
// Every output is summed by one thread in one fixed order, so results do not depend on the
// thread count (unlike the GEMM path's per-thread partial weight gradients).
#pragma once

#include "engine/layers/conv2d_geometry.h"

#include <vector>

namespace qb {

// Consecutive output pixels of one output row of one image, at columns [col, col + len) of a
// panel of pixels.
struct Conv2dPixelRun {
  std::size_t col, len, n, oh, ow;
};

// Buffers reused from call to call (allocate once, reuse every step).
struct Conv2dDirectScratch {
  struct PerThread {
    std::vector<float> floats;         // gathered pixels, and the outputs (forward) or dy (dL/dW)
    std::vector<Conv2dPixelRun> runs;  // the panel's pixels as runs
  };
  std::vector<float> packed_weights;     // forward: W as ⌈O/4⌉ panels of (K, 4)
  std::vector<float> weight_grad_tiles;  // dL/dW: 8 lanes of partial sums per weight
  std::vector<PerThread> threads;
};

// The direct kernels handle this geometry (ungrouped, kernels up to 11×11).
bool conv2d_direct_supported(const Conv2dGeometry& q);

// y = x ⊛ w, overwritten. Shapes as conv2d_forward's.
void conv2d_forward_direct(float* y, const float* x, const float* w, const Conv2dGeometry& q,
                           Conv2dDirectScratch& scratch);

// dw += dL/dw for the output gradient dy. Shapes as conv2d_backward's.
void conv2d_weight_grad_direct(float* dw, const float* dy, const float* x, const Conv2dGeometry& q,
                               Conv2dDirectScratch& scratch);

}  // namespace qb
