// The integer engine: an integer network (integer/network.h) run on the int8 kernels of
// engine/int8 — Conv2dInt8 (packed weights, im2col, the ISA's GEMM) for exact int32 sums,
// the requantisation kernels (per-channel Q31 multipliers or a power-of-2 shift), and, under
// a 16-bit accumulator model, the counting GEMM of engine/int8/reference.h on the same im2col
// rows (per channel for a depthwise conv, on Conv2dInt8::depthwise's exact sums). A conv whose
// input codes and padding cannot exceed 127 (A7 or narrower) packs its weights for u7
// activations: the vpmaddubsw kernels, still exact. Layer outputs
// are u8 codes NHWC; logits are dequantised doubles [N][classes]. Under the int32 model a
// (non-depthwise) conv requantises each block of output pixels right after its GEMM, on the
// thread that computed it, while the sums are in cache (Engine::conv_fused). A conv that adds a
// residual block's shortcut or is globally average-pooled requantises in int64
// (integer/wide_requant.h, network.h's Wide): engine/int8 has no two-input requantisation kernel
// yet.
//
// Without overflow counting (EngineOptions), the `pair-wrap` model runs on the real 16-bit
// kernels instead: every non-depthwise conv on gemm_acc16 (Conv2dInt8 packed for
// Accumulator::int16: vpmaddubsw + vpaddw on AVX2, its reference on scalar), fused with its
// requantisation like int32. A depthwise conv keeps its exact int32 kernel (MNN does not run
// depthwise in int16 either) and takes the sums modulo 2^16, which is pair-wrap's result when its
// inputs are 7-bit codes (no pair can saturate); wider inputs go through the counting
// reference. The results equal the counting path's bit for bit (tests/test_integer_engine.cpp).
#pragma once

#include "engine/int8/isa.h"
#include "integer/accumulator.h"
#include "integer/network.h"

#include <cstdint>
#include <vector>

namespace qb::integer {

// Every layer's output of one forward: codes NHWC (a float layer's too, once requantised); the
// logits layer's entry is empty.
struct Trace {
  std::vector<std::vector<std::uint8_t>> codes;
};

struct EngineOptions {
  // Count, under a 16-bit model, each layer's wrong dot products and the largest exact |Σ q·w|
  // (exact sums by the int32 kernels, the model by engine/int8's counting reference). Off, the
  // statistics hold dot_products only and `pair-wrap` runs on gemm_acc16 (the speed a 16-bit
  // accumulator buys); the other 16-bit models have no kernel and are refused. int32 counts
  // either way (its statistics cost one min/max per block).
  bool count_overflows = true;
};

class Engine {
 public:
  // Packs the weights for `isa` (qb::Error when the CPU lacks it, or for a 16-bit model other
  // than pair-wrap without counting). `net` must outlive it.
  Engine(const Network& net, AccModel model, int8::Isa isa, EngineOptions options = {});
  Engine(Network&&, AccModel, int8::Isa, EngineOptions = {}) = delete;  // would dangle

  // images: float [N][C][H][W] as the dataset gives them; logits: [N][classes], overwritten.
  // Overflow statistics accumulate over calls.
  void forward(const float* images, int N, std::vector<double>& logits, Trace* trace = nullptr);

  // One entry per conv layer, in order.
  const std::vector<OverflowStats>& stats() const { return stats_; }
  AccModel model() const { return model_; }
  // Whether stats() holds wrong and max_abs_sum (else only dot_products).
  bool counts_overflows() const { return !fast16_; }
  int8::Isa isa() const { return isa_; }

 private:
  // shortcut: the codes a residual block adds (layer l.shortcut.from's output), or null.
  void conv(std::size_t i, const std::uint8_t* x, const std::uint8_t* shortcut, int N,
            std::vector<std::uint8_t>& y, std::vector<double>& logits);

  // A conv whose requantisation follows each block of sums (not acc16, depthwise, pooled or
  // the logits).
  void conv_fused(std::size_t i, const std::uint8_t* x, const std::uint8_t* shortcut, int N,
                  std::vector<std::uint8_t>& y);

  // Pixels [r0, r0 + rows) of layer i (pixel r = (n·Ho + oy)·Wo + ox): sums → codes y.
  void requantize_rows(std::size_t i, const std::int32_t* sums, std::int64_t r0, int rows,
                       std::uint8_t* y);

  // The requantisation of k consecutive pixels as one row of k·C_out columns, its per-channel
  // fine bias and multipliers repeated k times: the kernels' vectors then have no ragged tail
  // when C_out is not a multiple of their width (LeNet-5's 6 channels: k = 8, 48 columns). A
  // per-position bias table needs no copy (bias stays empty): its rows of k pixels are k·C_out
  // consecutive values.
  struct RowGroup {
    int k = 1;
    std::vector<std::int64_t> bias;
    std::vector<int8::Multiplier> multiplier;
  };

  // One thread's scratch in conv_fused.
  struct Block {
    std::vector<std::uint8_t> columns;  // im2col
    std::vector<std::int32_t> sums;
    std::int64_t max_abs_sum = 0;
  };

  // A depthwise conv's exact sums → pair-wrap's results, without counting (fast16_).
  void depthwise_pair_wrap(std::size_t i, const std::uint8_t* x, int N, std::int32_t* sums);

  const Network& net_;
  AccModel model_;
  int8::Isa isa_;
  bool fast16_ = false;                  // pair-wrap on gemm_acc16, no statistics
  std::vector<bool> u7_;                 // per layer: its input codes and padding are ≤ 127
  std::vector<int8::Conv2dInt8> convs_;  // per layer (empty for the others)
  std::vector<std::size_t> stat_of_;     // layer index → entry of stats_
  std::vector<OverflowStats> stats_;
  std::vector<std::int32_t> acc_, exact_;
  std::vector<std::uint8_t> columns_;
  std::vector<Block> blocks_;                              // per thread
  std::vector<RowGroup> groups_;                           // per layer
  std::vector<std::uint8_t> image_codes_;                  // the image as the first layer's codes
  std::vector<float> image_float_, float_in_, float_out_;  // float layers' operands
  std::vector<std::vector<std::uint8_t>> outputs_;         // every layer's codes of one forward
};

// Max pooling of u8 codes NHWC (no padding): the window's largest code.
void maxpool_codes(const Layer& l, const std::uint8_t* x, int N, std::uint8_t* y);

}  // namespace qb::integer
