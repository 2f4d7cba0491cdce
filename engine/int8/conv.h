// int8 2-D convolution, NHWC, built on the int8 GEMM (engine/int8/gemm.h).
//
//   x  u8    [N][H][W][C_in]     activations, NHWC (channels innermost)
//   w  s8    [C_out][kh][kw][C_in]               groups = 1
//            [kh][kw][C]                         depthwise (groups = C_in = C_out = C)
//   y  int32 [N][Ho][Wo][C_out]  Ho = (H + pad_top + pad_bottom − kh) / stride_h + 1, Wo alike
//
//   y[n][oy][ox][co] = Σ_{ky,kx,ci} xp[n][oy·sh + ky − pad_top][ox·sw + kx − pad_left][ci]
//                                   · w[co][ky][kx][ci]
//
// where xp is x surrounded by padding that holds the input's zero point z (not 0): with
// real = scale · (q − z), a padded position then represents the real value 0, as zero
// padding of the real network does. y is the raw sum Σ q·w; the real convolution needs
// Σ (q − z)·w = y − z·Σw per output channel, the same for every pixel because the padding
// holds z too (zero_point_bias() returns −z·Σw, ready to be the requantisation's bias).
// Requantisation to 8 bits is a separate call (engine/int8/requantize.h).
//
// Why this weight layout: im2col of NHWC makes each output pixel's patch one contiguous row
// of K = kh·kw·C_in values, ordered (ky, kx, ci); weights [C_out][kh][kw][C_in] are then the
// N×K row-major matrix the GEMM packs, so C = patches · Wᵀ is y in NHWC directly.
//
// Paths, every one exact (integer sums) and tested equal to conv2d_ref:
//  * groups = 1: output pixels split across OpenMP's threads, the weights packed once for the
//    ISA. Above scalar, each thread's GEMM kernel builds its register tile of patch rows
//    straight from x (im2col fused into the kernel's row packing: kernels.h, Patches); the
//    scalar path im2cols blocks of pixels (sized to stay in L2) and multiplies them with
//    gemm_ref. A 1×1, stride-1, unpadded convolution skips im2col: the input already is the
//    M×K matrix, and the GEMM splits its rows. A padded window of short rows (kw·C_in ≤ 16:
//    one- and three-channel images) first copies the images its rows read with their padding
//    written out, so that each patch row is kh plain copies. A kernel that reads u8 codes as
//    they are (VNNI, AVX-VNNI, the u7 and acc16 vpmaddubsw kernels), on whole groups of 4
//    channels per tap, builds no patch rows at all: the padding written out the same way, its
//    tiles read each tap of each row's window in place (an implicit GEMM, microkernel.inc's
//    micro_tile_direct).
//  * depthwise: a direct loop over output pixels with channels innermost; the AVX2 kernel
//    (used for every ISA from avx2 up) widens to int16 and accumulates in int32, the scalar
//    one does the same one channel at a time. Rows (image, output row) are split across
//    OpenMP's threads.
//  * groups = 1 with Accumulator::int16: the same paths on gemm_acc16's kernels (the patches
//    fused on AVX2 and up, im2col + gemm_acc16_ref's pair_wrap on scalar): not exact but equal to
//    the pair_wrap model of reference.h, which tests/test_int8_conv.cpp checks.
#pragma once

#include "engine/int8/gemm.h"
#include "engine/int8/isa.h"

#include <cstdint>
#include <vector>

namespace qb::int8 {

struct ConvGeometry {
  int kh = 1, kw = 1;
  int stride_h = 1, stride_w = 1;
  int pad_top = 0, pad_left = 0, pad_bottom = 0, pad_right = 0;

  // A k×k window, the same stride both ways and the same padding on every side.
  static ConvGeometry square(int k, int stride = 1, int pad = 0);
  // Whether any side is padded.
  bool padded() const { return pad_top || pad_left || pad_bottom || pad_right; }
  // Throw qb::Error when the geometry is invalid or the padded input is smaller than the
  // window.
  int out_h(int H) const;
  int out_w(int W) const;
};

// The definition, as plain loops: groups divides C_in and C_out, and w is
// [C_out][kh][kw][C_in / groups] (for depthwise, [C][kh][kw][1]: see Conv2dInt8::depthwise
// for the fast path's [kh][kw][C]).
void conv2d_ref(const std::uint8_t* x, int N, int H, int W, int C_in, std::uint8_t x_zero_point,
                const std::int8_t* w, int C_out, int groups, const ConvGeometry& g,
                std::int32_t* y);

class Conv2dInt8 {
 public:
  Conv2dInt8() = default;
  // groups = 1, w [C_out][kh][kw][C_in]; K = kh·kw·C_in ≤ kMaxK. Throws qb::Error when the
  // CPU lacks `isa`. Activations::u7 promises inputs and zero point ≤ 127 (activations of 7
  // bits or fewer), which lets the GEMM run its vpmaddubsw kernels exactly (gemm.h).
  // Accumulator::int16 runs gemm_acc16 instead: y then holds the `pair_wrap` result of each dot
  // product (reference.h), not the exact sum — what an overflow-aware network is run with.
  Conv2dInt8(const std::int8_t* w, int C_in, int C_out, const ConvGeometry& g, Isa isa = best_isa(),
             Activations act = Activations::any, Accumulator acc = Accumulator::int32);
  // Depthwise (one filter per channel, multiplier 1), w [kh][kw][C].
  static Conv2dInt8 depthwise(const std::int8_t* w, int C, const ConvGeometry& g,
                              Isa isa = best_isa());

  // x [N][H][W][C_in] -> y [N][out_h(H)][out_w(W)][C_out], overwritten. Reuses an internal
  // im2col buffer: one call at a time per object. Throws qb::Error for a zero point above
  // 127 when built for u7 activations (x itself is the caller's promise, not checked).
  void forward(const std::uint8_t* x, int N, int H, int W, std::uint8_t x_zero_point,
               std::int32_t* y);

  // Output pixels [r0, r1) of forward()'s result (rows of the M×K patch matrix, M = N·Ho·Wo),
  // row r0 at y[0], on the calling thread (groups = 1 only), with `columns` the caller's
  // im2col (or padded-image) buffer. forward() is this split across threads; a caller that does
  // more with each block of rows while it is still in cache (the integer engine requantises it)
  // calls it from its own threads, each with its own buffer.
  void forward_rows(const std::uint8_t* x, int N, int H, int W, std::uint8_t x_zero_point,
                    std::int64_t r0, std::int64_t r1, std::int32_t* y,
                    std::vector<std::uint8_t>& columns) const;

  // Per output channel: −z · Σ_{ky,kx,ci} w[co][ky][kx][ci], the correction that turns y into
  // Σ (x − z)·w.
  std::vector<std::int32_t> zero_point_bias(std::uint8_t x_zero_point) const;

  int C_in() const { return C_in_; }
  int C_out() const { return C_out_; }
  bool is_depthwise() const { return depthwise_; }
  // int32 (exact sums) or int16 (gemm_acc16's pair_wrap); always int32 for depthwise.
  Accumulator accumulator() const { return packed_.accumulator(); }
  Isa isa() const { return isa_; }
  const ConvGeometry& geometry() const { return g_; }

 private:
  void forward_gemm(const std::uint8_t* x, int N, int H, int W, std::uint8_t z, std::int32_t* y);
  // y (ldc C_out) = A·Wᵀ by gemm or gemm_acc16, as the weights were packed.
  void multiply(const std::uint8_t* A, int lda, int M, std::int32_t* y) const;
  void forward_depthwise(const std::uint8_t* x, int N, int H, int W, std::uint8_t z,
                         std::int32_t* y) const;

  ConvGeometry g_;
  int C_in_ = 0, C_out_ = 0;
  bool depthwise_ = false;
  Isa isa_ = Isa::scalar;
  PackedWeights packed_;                            // groups = 1
  std::vector<std::int8_t> dw_weights_;             // depthwise, [kh][kw][C]
  std::vector<std::int32_t> wsum_;                  // per output channel, Σ w
  std::vector<std::vector<std::uint8_t>> columns_;  // per thread, an im2col block
};

}  // namespace qb::int8
