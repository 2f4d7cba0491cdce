// The uniform fake-quantization kernel shared by the methods that quantize uniformly.
//
//   y = clamp(rint(x / s), lo, hi) · s      rint: round half to even (PROBE.md convention)
//
// One fused pass that the compiler vectorises (vdivps, vrndscaleps, vmin/vmax, vmulps): fake
// quantization is memory-bound, so a second pass or a libm call per element would cost 2-4×.
// Division rather than multiplication by 1/s: x·(1/s) rounds differently from x/s at exact
// ties, and the reference results are defined with the division.
#pragma once

#include <cstddef>

namespace qb {

void fake_quant(const float* x, float* y, std::size_t n, float s, float lo, float hi);

// Per-channel: `channels` contiguous blocks of `per_channel` values, block c with scale s[c].
void fake_quant_per_channel(const float* x, float* y, std::size_t channels, std::size_t per_channel,
                            const float* s, float lo, float hi);

// max |x| over n values (0 for n = 0).
float max_abs(const float* x, std::size_t n);

}  // namespace qb
