// The depthwise convolution kernels behind qb::int8::Conv2dInt8 (internal to engine/int8).
#pragma once

#include "engine/int8/conv.h"

#include <cstdint>

namespace qb::int8::detail {

struct DepthwiseArgs {
  const std::uint8_t* x;  // [N][H][W][C]
  int H, W, C;
  int z;                     // the input's zero point
  const std::int8_t* w;      // [kh][kw][C]
  const std::int32_t* base;  // [C]: z · Σ_{ky,kx} w[ky][kx][c]
  ConvGeometry g;
  int Ho, Wo;
  std::int32_t* y;  // [N][Ho][Wo][C]
};

// Output rows r in [r0, r1) of the N·Ho rows (image r / Ho, output row r % Ho). Each output
// starts at base[c] and adds (x − z)·w over the taps inside the input: the same sum as
// Σ xp·w with the padding's taps contributing z·w, and |(x − z)·w| ≤ 255·128 fits int16.
using DepthwiseKernel = void (*)(const DepthwiseArgs& args, int r0, int r1);

void depthwise_rows_scalar(const DepthwiseArgs& args, int r0, int r1);
void depthwise_rows_avx2(const DepthwiseArgs& args, int r0, int r1);

}  // namespace qb::int8::detail
