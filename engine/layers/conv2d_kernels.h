// The fp32 convolution kernels behind Conv2d, as free functions over one convolution's
// geometry: the layer keeps parameters, hooks and shapes; the arithmetic lives here, where it
// can be tested alone against a direct loop and made faster without touching the layer.
//
//   x (N,C,H,W)  ⊛  w (O,C/g,k,k)  ->  y (N,O,Ho,Wo),   Ho = (H + 2p - k) / s + 1, Wo likewise
//
// Ungrouped convolutions of at least 6 input channels run on oneDNN's primitives
// (conv2d_onednn.h; 1.4-1.7× faster than ours on ResNet-20's layers, 1.2-2.9× on LeNet-5's
// conv2, measured in conv2d_kernels.cpp). The rest — stems, depthwise and grouped layers — on
// qbench's own:
//
// Stems (ungrouped, stride 1, ≤ 4 input channels, 3×3 to 7×7, ≤ 32 output channels): the direct
// kernels of conv2d_stem.h for the forward and dL/dW, the GEMM path for dL/dx when it is wanted.
// General path: per image and group, im2col into a (C/g·k·k, Ho·Wo) matrix and one sgemm
// (skipped for 1×1/stride-1/no-padding kernels, where the input already is that matrix); a few
// images share one sgemm when their images are small. With stride 1 and C/g ≥ 8, dL/dx is computed
// as the forward convolution of dy with the flipped, channel-swapped weights (no col2im). Depthwise
// (g = C = O): a direct loop, since each output channel is a tiny 2-D stencil and a GEMM per
// channel would be all overhead. Ungrouped convolutions can also run on the direct (implicit
// GEMM) kernels of conv2d_direct.h: where they do is a measured table in conv2d_kernels.cpp,
// and QB_CONV_PATH forces either path.
//
// Threads: images are split over qbench's threads by parallel_split (a fixed partition for a
// thread count). Weight gradients are summed per thread into private partial sums, then added
// in thread order, so results are bitwise reproducible for a given thread count. Columns are
// recomputed in backward rather than stored: they fit in L2 per image, and storing them for a
// batch of 128 costs ~1 GB on ResNet-20.
#pragma once

#include "engine/layers/conv2d_direct.h"
#include "engine/layers/conv2d_geometry.h"
#include "engine/layers/conv2d_onednn.h"
#include "engine/layers/conv2d_stem.h"

#include <cstddef>
#include <vector>

namespace qb {

// Buffers the kernels reuse from call to call (allocate once, reuse every step).
struct Conv2dScratch {
  std::vector<std::vector<float>> columns;   // per thread: columns, their gradient, gathered dy
  std::vector<std::vector<float>> dw_parts;  // per thread: partial weight gradients
  std::vector<float> depthwise_dx;           // dx when the caller wants none: the depthwise loop
                                             // computes dx and dw together
  std::vector<float> flipped_weights;        // stride-1 dx as a convolution: W flipped, (C,O/g,k,k)
  Conv2dDirectScratch direct;                // the direct kernels' panels
  Conv2dStemScratch stem;                    // the stem kernels' padded images and lanes
  Conv2dOnednnCache onednn;                  // oneDNN's primitives, made on first use
};

// Which kernels run a pass: `auto` chooses by shape (the measured tables in conv2d_kernels.cpp),
// `gemm` forces im2col + OpenBLAS, `direct` the direct kernels, `onednn` oneDNN's primitives
// and `stem` the stem kernels, wherever they apply.
// Process-wide, like the thread count: taken from the environment variable QB_CONV_PATH at
// the first convolution (default auto; an unknown value throws qb::Error), so benchmarks can
// compare the paths on one binary; tests switch it with set_conv_path.
enum class ConvPath { automatic, gemm, direct, onednn, stem };
ConvPath conv_path_setting();  // QB_CONV_PATH parsed now
ConvPath conv_path();          // the path in force
void set_conv_path(ConvPath path);

// y = x ⊛ w, overwritten; no bias. Chooses the depthwise, direct or GEMM path.
// y is (N,O,Ho,Wo), x is (N,C,H,W), w is (O,C/g,k,k).
void conv2d_forward(float* y, const float* x, const float* w, const Conv2dGeometry& q,
                    Conv2dScratch& scratch);

// The adjoint: dx = dL/dx overwritten (skipped when null), dw += dL/dw.
// dx is (N,C,H,W), dw is (O,C/g,k,k), dy is (N,O,Ho,Wo), x and w as in forward. `input` as in
// conv2d_onednn.h: `forwarded` lets the oneDNN path reuse the forward's copy of x.
void conv2d_backward(float* dx, float* dw, const float* dy, const float* x, const float* w,
                     const Conv2dGeometry& q, Conv2dScratch& scratch,
                     ConvInput input = ConvInput::unknown);

// The GEMM and depthwise paths on their own (conv2d_forward/backward choose between them and
// the direct kernels of conv2d_direct.h). conv2d_backward_gemm skips dw when it is null.
void conv2d_forward_gemm(float* y, const float* x, const float* w, const Conv2dGeometry& q,
                         Conv2dScratch& scratch);
void conv2d_backward_gemm(float* dx, float* dw, const float* dy, const float* x, const float* w,
                          const Conv2dGeometry& q, Conv2dScratch& scratch);
void conv2d_forward_depthwise(float* y, const float* x, const float* w, const Conv2dGeometry& q);
void conv2d_backward_depthwise(float* dx, float* dw, const float* dy, const float* x,
                               const float* w, const Conv2dGeometry& q, Conv2dScratch& scratch);

// y[n,o,:,:] += b[o]. y is (N,O,HW), b is (O).
void add_channel_bias(float* y, const float* b, std::size_t N, std::size_t O, std::size_t HW);

// db[o] += Σ_{n,i} dy[n,o,i]. dy is (N,O,HW), db is (O).
void accumulate_channel_bias_grad(float* db, const float* dy, std::size_t N, std::size_t O,
                                  std::size_t HW);

}  // namespace qb
