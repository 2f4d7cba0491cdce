// Direct fp32 kernels for stem convolutions: ungrouped, stride 1, at most 4 input channels (a
// grey or colour image), odd kernels of 3, 5 or 7 — LeNet-5's conv1 (1 → 6, 5×5) and the
// ResNet-20 and MobileNet-tiny stems (1 or 3 → 16 or 32, 3×3); conv2d_kernels.cpp runs them
// where they measured faster (up to 32 output channels: not VGG-small's 128).
//
// im2col + OpenBLAS serves them badly: K = C·k·k is only 9-75, so each GEMM is all packing and
// little arithmetic (LeNet-5's conv1 took a third of the perf samples of its training step on a
// Zen 3, 1 thread; both paths measured in conv2d_kernels.cpp). Here each image is copied once
// into a zero-bordered tile whose rows hold a whole number of 8-float vectors plus k − 1, so
// every shifted load of a row stays inside the tile:
//
//   forward  y[o, h, w..w+7] = Σ_(c,i,j) W[o,c,i,j] · xpad[c, h+i, w+j .. w+j+7], for 2 output
//            channels × up to 4 vectors of one output row in 8 accumulators: one FMA chain per
//            output, in (c, i, j) order from +0.
//   dL/dW    8 lanes of partial sums per weight, lane l summing the output columns ≡ l (mod 8):
//            2 output channels × the k taps j of one (c, i) in 2k accumulators, fed per vector
//            of dy by k shifted loads of xpad; over the thread's images, then rows, then vectors,
//            in order. The lanes, then the threads' parts, are added in a fixed order at the end,
//            so dW depends on the thread count (as on the GEMM path) and on nothing else.
//
// dL/dx is not here: a stem's input is the image, whose gradient Conv2d skips unless an input
// hook learns; then the GEMM path computes it (conv2d_kernels.cpp).
//
// The AVX2+FMA kernels and the scalar fallback perform the same fused multiply-adds in the same
// order, so they agree bit for bit; QB_MAX_ISA=scalar (engine/int8/isa.h) forces the fallback.
#pragma once

#include "engine/layers/conv2d_geometry.h"

#include <array>
#include <cstddef>
#include <vector>

namespace qb {

// Buffers reused from call to call (allocated once per geometry and thread count).
struct Conv2dStemScratch {
  std::vector<std::vector<float>> padded;     // per thread: one image, zero-bordered (C, Hp, Wp)
  std::vector<std::vector<float>> lanes;      // per thread: dL/dW as 8 lanes per weight
  std::array<std::size_t, 5> padded_shape{};  // C, H, W, p, Wp of the tiles: their zeros
                                              // are borders for this shape only
};

// The stem kernels handle this geometry.
bool conv2d_stem_supported(const Conv2dGeometry& q);

enum class StemKernel { best, scalar };  // `scalar`: the fallback, for tests

// y = x ⊛ w, overwritten. Shapes as conv2d_forward's.
void conv2d_forward_stem(float* y, const float* x, const float* w, const Conv2dGeometry& q,
                         Conv2dStemScratch& scratch, StemKernel kernel = StemKernel::best);

// dw += dL/dw for the output gradient dy. Shapes as conv2d_backward's.
void conv2d_weight_grad_stem(float* dw, const float* dy, const float* x, const Conv2dGeometry& q,
                             Conv2dStemScratch& scratch, StemKernel kernel = StemKernel::best);

}  // namespace qb
