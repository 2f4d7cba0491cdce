// Fixed-point operands, the seam of the integer training path (APT, issue 17).
//
// A hook whose output is exactly code · 2^shift, with integer codes in [−2^(bits−1),
// 2^(bits−1) − 1], may say so through FixedPointHook. Conv2d and Linear then run a GEMM whose
// two operands both say so on the integer kernels (engine/fixed_point_gemm.h) instead of the
// float GEMM: the same products, summed exactly. A capability beside TensorHook rather than a
// method of it: only fixed-point methods have it, and the layers ask for it by dynamic_cast
// once per GEMM.
#pragma once

#include "engine/hook.h"

#include <optional>

namespace qb {

struct FixedPoint {
  int bits = 8;   // codes in [−2^(bits−1), 2^(bits−1) − 1]
  int shift = 0;  // value = code · 2^shift
};

class FixedPointHook {
 public:
  virtual ~FixedPointHook() = default;
  // The last forward's output format, when the layer may multiply its codes; unset to keep the
  // float GEMM (e.g. APT's `gemm: fake-quant` switch).
  virtual std::optional<FixedPoint> fixed_point() const = 0;
};

inline std::optional<FixedPoint> fixed_point_of(const TensorHook* hook) {
  const auto* f = dynamic_cast<const FixedPointHook*>(hook);
  return f ? f->fixed_point() : std::nullopt;
}

}  // namespace qb
