// The integer path of Conv2d's three GEMMs, for fixed-point operands (engine/fixed_point.h):
// the same im2col products as conv2d_kernels.h, on codes, summed exactly, scaled once.
//
//   forward  y_n  = W · col(x_n)        A = col(x_n)ᵀ (HWo × K, "im2row", K contiguous as
//                                       the kernels want), B = W (O × K), packed
//                                       once per call; the (HWo × O) result is stored
//                                       transposed into y.
//   dx       dx_n = col⁻¹(Wᵀ · dy_n)    A = dy_nᵀ (HWo × O, transposed while converted),
//                                       B = Wᵀ (K × O), packed once per call; the (HWo × K)
//                                       result is added back to image positions (col2im) in
//                                       int64, then scaled once: exact sums, one rounding.
//   dW       dW  += Σ_n dy_n · col(x_n)ᵀ  A = [col(x_n) …] (K × m·HWo), B = [dy_n …] (O × m·HWo):
//                                       m images side by side along the reduction (up to
//                                       dw_columns), B packed per chunk (the smaller
//                                       operand); int64 sums per thread over its images,
//                                       added in thread order and scaled once: exact whatever
//                                       the thread count and chunk.
// So every output (y, dx, dW) is its exact sum rounded once to float. Cost beyond the GEMMs: one
// conversion of each image to zero-padded codes of the GEMM's type, then a branch-free gather
// (im2row or im2col), one packing of B per call (W, Wᵀ) or per chunk of images (dy), and the int32
// → float scaling of every result. Images are split over qbench's threads as in conv2d_kernels; the
// int8 GEMM then runs single-threaded inside. Depthwise convolutions stay on their float loop.
//
// The int8 forward of an ungrouped convolution skips the im2row matrix (it was a quarter of
// ResNet-20's APT step under perf): x_n's codes are written once as u8, code + 128, in NHWC,
// and int8::Conv2dInt8 (the integer inference's convolution) has its GEMM kernel build each
// tile of patch rows straight from that image in L1 (engine/int8/kernels.h, Patches), padding
// read as 128 (code 0). Its sums Σ (code + 128)·w drop 128·Σ_k w per output channel
// (zero_point_bias) to become Σ code·w: the same exact sums as the im2row path. dx of a
// stride-1 one goes the same way: the transposed convolution is a convolution of dy (padded
// k − 1 − p) with the filters flipped and their channels swapped, so neither dyᵀ nor the
// int64 col2im (a tenth of the step) is made. On the int16 path (APT's 16-bit gradients) that
// convolution is im2row of dy's codes times the flipped filters on int8::gemm_s16: K = O·k·k
// instead of O, and no col2im; dy's codes are laid out channel-last, so a patch row is k copies
// of k·O codes.
#pragma once

#include "engine/fixed_point_gemm.h"
#include "engine/int8/conv.h"
#include "engine/layers/conv2d_kernels.h"

#include <cstdint>
#include <vector>

namespace qb {

struct Conv2dFixedScratch {
  struct Thread {
    FixedGemmScratch gemm;              // A, the per-image B, products
    std::vector<std::int16_t> codes;    // one image's group as codes, zero-padded: int16
    std::vector<std::int8_t> codes8;    // and int8 (the int8 path's)
    std::vector<std::int64_t> sums;     // dx's exact sums, zero-padded
    std::vector<std::uint8_t> image;    // the int8 forward: one image's codes + 128, NHWC
    std::vector<std::uint8_t> columns;  // Conv2dInt8's im2col block (its scalar fallback only)
  };
  std::vector<Thread> threads;
  // The int8 forward's weights, [O][k][k][C], or dx's flipped ones, [C][k][k][O]; packed
  int8::Conv2dInt8 conv;
  std::vector<std::int32_t> conv_bias;              // −128·Σ w per output channel of `conv`
  std::vector<CodeMatrix> weights;                  // per group: W_g or W_gᵀ, packed
  std::vector<std::vector<std::int64_t>> dw_parts;  // per thread: exact weight-gradient sums
  // The reduction length a dW GEMM aims for: images' pixels side by side up to this many (at
  // least one image). The sums are exact whatever it is; tests lower it to cross chunks.
  std::size_t dw_columns = 4096;
};

// y = x ⊛ w, overwritten (no bias); path = fixed_path(fx, fw) ≠ none; not depthwise.
void conv2d_forward_fixed(float* y, const float* x, FixedPoint fx, const float* w, FixedPoint fw,
                          FixedPath path, const Conv2dGeometry& q, Conv2dFixedScratch& s);

// dx = dL/dx, overwritten; path = fixed_path(fdy, fw).
void conv2d_data_grad_fixed(float* dx, const float* dy, FixedPoint fdy, const float* w,
                            FixedPoint fw, FixedPath path, const Conv2dGeometry& q,
                            Conv2dFixedScratch& s);

// dw += dL/dw; path = fixed_path(fdy, fx).
void conv2d_weight_grad_fixed(float* dw, const float* dy, FixedPoint fdy, const float* x,
                              FixedPoint fx, FixedPath path, const Conv2dGeometry& q,
                              Conv2dFixedScratch& s);

}  // namespace qb
