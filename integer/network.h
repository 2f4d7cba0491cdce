// An integer network: what export (integer/export.h) makes of a trained quantized network,
// and what both the integer engine (integer/engine.h) and the exact simulation
// (integer/reference.h) run. A plain description — no kernels, no packed weights.
//
// Tensors between layers are 8-bit codes, NHWC ([N][H][W][C], channels innermost), stored as
// u8 with a zero point: a code q means the real value  scale · (q − zero_point).  Unsigned
// grids have zero point 0; a signed b-bit grid (ALT's image) is stored shifted by 128, so its
// codes −2^(b−1) .. 2^(b−1) − 1 become 128 − 2^(b−1) .. 127 + 2^(b−1) with zero point 128.
//
// A layer is one of
//   conv      y = requant(Σ_{ky,kx,ci} q[oy·s + ky − pad][ox·s + kx − pad][ci] · w[co][ky][kx][ci],
//                         bias)
//             with padding holding `pad_code` (the input's zero point, so that it means real 0).
//             A linear layer is a 1×1 conv over a 1×1 image. The sum Σ q·w is what the
//             accumulator holds (products of stored u8 codes and s8 weights, in the order
//             (ky, kx, ci), as im2col lays them out); the bias is added after the multiplier,
//             outside the accumulator, as an int64 that keeps ~30 fractional bits of it (below).
//             A depthwise conv (`depthwise`) has one k×k filter per channel: C_in = C_out, the
//             sum runs over (ky, kx) of channel co only, weights [C][kh][kw].
//   maxpool   y = max of each k×k window (stride s) of codes — exact, since quantization is
//             monotone: q(max x) = max q(x).
//   float     an fp32 layer (`--first-last fp32`): its input dequantised (or the float image),
//             a float conv, then quantized onto the next grid (or left as logits).
//
// Requantisation of a conv's int32 result x (one output channel co, output position p):
//   shift ≥ 0:  y = clamp(rhe((x · 2^30 + B) / 2^(shift + 30)) + zero_point, lo, hi)  every
//               scale 2^e (ALT): shifts and adds only
//   else:       y = clamp(rhe((x · m0[co] + B) / 2^(31 − e[co])) + zero_point, lo, hi)   Q31
// with B = bias[co] (or bias[p][co], below) the real bias b in accumulator units (b / s_x·s_w,
// including −z·Σw) times the integer multiplier x gets (2^30 or m0[co]), rounded once to int64:
// b is kept to 2^−30 of an accumulator step, where an int32 bias keeps it to one step — and one
// step is up to s_x·s_w / s_out, a sizeable fraction of an output code, which moved codes that
// the float network rounds the other way (docs/integer-inference.md). rhe: one rounding, half
// to even (engine/int8/requantize.h, "fine bias"). ReLU is lo = zero_point, ReLU6
// hi = min(hi, zero_point + rint(6 / scale)). The last conv's result is dequantised instead:
//   logit[co] = logit_scale[co] · (x + logit_bias[co])   in double.
//
// A bias per output position (bias_ld = C_out, bias [Ho·Wo][C_out]) corrects the first layer's
// padded taps exactly when its input's real zero point is not a code (the `pixels` image):
// padding holds pad_code = rint(z), and position p's bias adds Σ_{padded taps} w·(z − pad_code).
//
// A conv that ends a residual block, or whose output is globally average-pooled, or both,
// requantises through `Wide` instead (`is_wide()`): per output pixel p and channel c
//   v_p = m_acc[c] · x_p + B[c] + m_sc[c] · (s_p − shortcut.zero_point)     int64
// (B = bias[c] = rint(b · m_acc[c]), b in accumulator units as above; bias[p][c] per position)
// is the block's exact real output, a_c·(x_p + b) + s_sc·(s_p − z_sc), in units of
// s_out · P / 2^shift[c] (P = pixels pooled, else 1); s_p is the shortcut's code (option A:
// subsampled by its stride, zero-padded channels hold z_sc). Then, with one rounding:
//   not pooled:  y_p = clamp(rhe(v_p / 2^shift[c]) + zero_point, lo, hi)
//   pooled:      y   = clamp(rhe(Σ_p clamp(v_p, v_lo[c], v_hi[c]) / 2^shift[c]) + zero_point,
//                            lo, hi)
// where the activation (ReLU: v ≥ 0, ReLU6: v ≤ rint(6 / unit)) is applied per pixel before
// the sum, and 1/P is folded into m_acc and m_sc. Bounds: |m| ≤ 2^(31 − ⌈log2 P⌉), so
// |v_p| ≤ 2^(62 − ⌈log2 P⌉) + 2^(61 − ⌈log2 P⌉) + 2^39 (export bounds |B| so) and the sum of
// P of them stays in int64.
#pragma once

#include "engine/int8/conv.h"
#include "engine/int8/requantize.h"

#include <cstdint>
#include <string>
#include <vector>

namespace qb::integer {

// How the float image becomes the first layer's codes.
//   grid   the first layer's input quantizer: q = clamp(rint(x / scale), lo, hi) + offset
//   pixels the method leaves the image in float: its 8-bit pixels are recovered from the
//          normalisation x = (p/255 − μ)/σ as p = rint(x · 255σ + 255μ), the grid has scale
//          1/(255σ) and the real zero point 255μ (bias takes −255μ·Σw; padding holds
//          rint(255μ), and a bias per output position adds back w·(255μ − rint(255μ)) for
//          each padded tap: the padded border means real 0, as in the float network)
//   float  the first layer runs in float (`--first-last fp32`)
struct ImageInput {
  enum class Kind { grid, pixels, floating } kind = Kind::floating;
  double scale = 1.0;       // real value of one code step
  double zero_point = 0.0;  // real zero point (integral except for `pixels`)
  int offset = 0;           // added to the signed code to store it as u8 (128 or 0)
  int lo = 0, hi = 255;     // clamp of rint(x / scale) before the offset (grid)
};

struct Requant {
  std::vector<std::int64_t> bias;  // B above: [C_out], or [Ho·Wo][C_out] (bias_ld)
  std::int64_t bias_ld = 0;        // 0: one per channel; C_out: one per position
  std::int64_t bias_at(std::size_t p, int c) const { return bias[p * bias_ld + c]; }
  int shift = -1;                            // ≥ 0: power-of-two requantisation
  std::vector<int8::Multiplier> multiplier;  // per output channel, when shift < 0
  int zero_point = 0, lo = 0, hi = 255;      // output grid and clamp, stored u8 codes
  double scale = 1.0;                        // real value of one output code step
};

// The codes added to a conv's output at the end of a residual block: the output of layer
// `from` (the block's input), He et al.'s option A when it is smaller: subsampled by `stride`,
// its C channels placed at [channel_offset, channel_offset + C), the others real 0.
struct Shortcut {
  int from = -1;  // a layer index; −1: no shortcut
  int H = 0, W = 0, C = 0;
  int stride = 1, channel_offset = 0;
  int zero_point = 0;  // of its codes (the block input's grid) ...
  double scale = 1.0;  // ... and the real value of one code step
};

struct Wide {
  std::vector<std::int64_t> m_acc, m_sc;  // per output channel
  std::vector<int> shift;                 // per output channel, 0 .. 62
  std::vector<std::int64_t> v_lo, v_hi;   // pooled: the activation's clamp of v_p
};

struct Layer {
  enum class Kind { conv, maxpool, floating };
  Kind kind = Kind::conv;
  std::string name;
  int H = 0, W = 0, C_in = 0;  // input (a linear layer: 1, 1, features)
  int Ho = 0, Wo = 0, C_out = 0;
  int8::ConvGeometry geometry;  // conv, float and maxpool windows
  // conv: s8 codes [C_out][kh][kw][C_in]; float: float weights in the same layout
  std::vector<std::int8_t> weight;
  std::vector<float> float_weight, float_bias;
  bool depthwise = false;  // conv: weight [C][kh][kw], C_in = C_out = C
  int weight_bits = 8;
  int pad_code = 0;          // the input's zero point as a code (what padding holds)
  double input_scale = 1.0;  // float layers: dequantisation of their input codes
  double input_zero_point = 0;
  Requant requant;                  // onto the next layer's input grid, unless `logits`
  Shortcut shortcut;                // conv ending a residual block: what it adds
  bool pooled = false;              // conv: its output is globally average-pooled (1×1)
  Wide wide;                        // the requantisation when shortcut or pooled
  bool logits = false;              // the last layer: results dequantised, not requantised
  std::vector<double> logit_scale;  // per output channel
  std::vector<double> logit_bias;   // per output channel, in accumulator units
  std::string note;                 // how the layer was exported (BN folded, ReLU as clamp, ...)

  bool is_wide() const { return shortcut.from >= 0 || pooled; }
  // Codes per image of its output.
  std::size_t out_size() const { return std::size_t(pooled ? 1 : Ho * Wo) * C_out; }
  // Products per dot product: kh·kw·C_in, or kh·kw for a depthwise conv.
  int K() const { return geometry.kh * geometry.kw * (depthwise ? 1 : C_in); }
};

struct Network {
  std::string name;    // the float network's name
  std::string method;  // the quantization method it was trained with
  int H = 0, W = 0, C = 0, classes = 0;
  ImageInput input;
  std::vector<Layer> layers;
};

// The float image [N][C][H][W] as the first layer's input: u8 codes NHWC ([N][H][W][C]) for
// `grid` and `pixels`; float NHWC for `floating` (in `as_float`).
void quantize_image(const ImageInput& in, const float* image, int N, int C, int H, int W,
                    std::vector<std::uint8_t>& codes, std::vector<float>& as_float);

// A float layer's forward: x [N][H][W][C_in] real values, y [N][Ho][Wo][C_out] real values
// (before any requantisation): each output's products fused-multiply-added in float (std::fma,
// one rounding each, whatever the compiler would contract) in (ky, kx, ci) order, plus the bias.
void float_conv(const Layer& l, const float* x, int N, float* y);

// Quantizes a float layer's real output onto its requant grid: clamp(rint(y / scale) + zp).
std::uint8_t quantize_real(const Requant& r, float y);

}  // namespace qb::integer
