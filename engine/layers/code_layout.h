// The layout changes of the integer training path (conv2d_fixed.h) between the float tensors
// (N, C, H, W) and the int8 convolution's pixel-major operands: an image's codes as u8 in
// (H·W, C) order, and a (pixels × channels) block of exact sums back as scaled channel planes.
// Both are transposes; the int8 ones done element by element were half of the int8 convolution's
// conversions (byte stores at a stride of C), so they go through 16 × 16 byte and 4 × 4 float
// blocks in SSE2 registers, with scalar tails. Same values as the one-element formulas.
#pragma once

#include <cstddef>
#include <cstdint>

namespace qb {

// out[i·C + c] = code(x[c·HW + i]) + 128, code(v) = v · 2^−shift: x (C, HW) on a grid of
// ≤ 8-bit codes at `shift` (exact, so the conversion truncates nothing).
void codes_to_nhwc_u8(const float* x, std::size_t C, std::size_t HW, int shift, std::uint8_t* out);

// out[ch·pixels + pix] = float(step · (sums[pix·channels + ch] + bias[ch])), one rounding of
// the exact sum (which fits int32). step is a power of two; where it is a normal float the
// product is formed in float (float(s) · step rounds s once, and scaling by a power of two
// is exact while the result stays normal: |s| ≥ 1), otherwise in double.
void store_planes_i32(const std::int32_t* sums, const std::int32_t* bias, std::size_t pixels,
                      std::size_t channels, double step, float* out);

// out[ch·pixels + pix] = float(step · sums[pix·channels + ch]), for int64 sums (the int16 GEMM's):
// in double, each rounded once.
void store_planes_i64(const std::int64_t* sums, std::size_t pixels, std::size_t channels,
                      double step, float* out);

}  // namespace qb
