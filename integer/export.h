// Export: a trained quantized float network (its method's quantizers attached, the checkpoint
// loaded) becomes an integer network (integer/network.h), read off each quantizer's grid().
//
//   weights      the weight quantizer's own output in evaluation, divided by its grid step:
//                every value must land on an integer code (a grid whose levels sit between
//                integers — DoReFa's odd multiples of 1/(2^k − 1) — takes half the step, one
//                bit more) and the codes must fit s8. One step per tensor or per output channel.
//   activations  the next conv/linear's input quantizer: scale, signedness, bits → u8 codes.
//   bias         Σ of the layer's bias, BatchNorm's shift and −z·Σw in accumulator units (of
//                s_x·s_w), times the integer multiplier the accumulator gets, rounded once
//                (half to even) to int64: ~30 fractional bits; the first layer's border taps
//                corrected per output position when its zero point is not a code (network.h).
//   BatchNorm    ALT's FoldedConvBn as trained (the quantizer saw W·γ/σ, bias β − γμ/σ);
//                a plain conv → BatchNorm2d folded into the requantisation: per channel the
//                multiplier s_x·s_w·γ/σ / s_out and bias (β − γμ/σ)/(s_x·s_w·γ/σ); a negative
//                γ/σ negates that channel's weight codes.
//   ReLU/ReLU6   requantisation clamps; max pooling on codes (exact: quantization is monotone).
//   Flatten      free: the next linear's weights are permuted from (c, y, x) to (y, x, c).
//   depthwise    groups = C: one filter per channel, weights [C][kh][kw].
//   residual     the block's last conv adds the block input's codes (option A on codes) at a
//                common scale per channel, then one rounding (network.h, Wide).
//   global avg   fused into the conv before it: exact sum of the P pixels, 1/P folded into its
//                multipliers, one rounding onto the next linear layer's input grid.
//   requant      by shift when s_x, s_w and s_out are all powers of two and s_out ≥ s_x·s_w,
//                by per-channel Q31 multipliers otherwise.
//   logits       the last layer's sums dequantised: s_x·s_w·(Σ q·w + bias).
// Anything else is refused with qb::Error "layer NAME: reason", never approximated.
#pragma once

#include "engine/network.h"
#include "integer/network.h"

#include <string>
#include <vector>

namespace qb::integer {

struct ExportOptions {
  std::string method;              // recorded in the result
  std::vector<double> image_mean;  // the dataset's normalisation, per channel
  std::vector<double> image_stddev;
};

// `net` must have its quantizers attached and loaded; export runs one evaluation forward (of
// zeros) so that every grid is set, then reads them.
Network export_network(qb::Network& net, const ExportOptions& opts);

}  // namespace qb::integer
