// The requantisation of a conv that ends a residual block or is globally average-pooled
// (network.h, Wide): per output pixel p and channel c
//   v_p = m_acc[c] · x_p + B + m_sc[c] · (s_p − shortcut.zero_point)      int64
// (B = requant.bias_at(p, c): the fine bias, per channel or per position)
// then one rounding, half to even, by 2^shift[c] (pooled: of Σ_p clamp(v_p, v_lo, v_hi)).
// The integer engine's fast path; the exact simulation (integer/reference.cpp) computes the
// same by its own plain loops, and the engine is tested equal to it bit for bit. `isa` avx2 and
// avxvnni run the AVX2 kernel (integer/wide_requant_avx2.cpp) where it is exact
// (wide_requant_vector.h), avx512bw and avx512vnni its AVX-512 form (wide_requant_avx512.cpp),
// else the scalar loop. All walk the
// pixels with detail::walk_pixels below and differ only in how they compute a run of channels
// of one pixel.
#pragma once

#include "engine/int8/isa.h"
#include "integer/network.h"

#include <algorithm>
#include <cstdint>
#include <vector>

namespace qb::integer {

// The whole batch: acc the conv's sums [N][Ho][Wo][C_out]; shortcut layer l.shortcut.from's
// codes (or null); y [N][Ho][Wo][C_out] codes, or [N][C_out] when pooled. Split across threads.
void wide_requantize(const Layer& l, const std::int32_t* acc, const std::uint8_t* shortcut, int N,
                     std::uint8_t* y, int8::Isa isa);

// Output pixels [r0, r1) of a layer that is not pooled (pixel r = (n·Ho + oy)·Wo + ox), on the
// calling thread: acc holds their sums, pixel r0 first; y is the whole output.
void wide_requantize_rows(const Layer& l, const std::int32_t* acc, const std::uint8_t* shortcut,
                          std::int64_t r0, std::int64_t r1, std::uint8_t* y, int8::Isa isa);

namespace detail {

// The scalar arithmetic of one channel, with its per-channel constants. rhe(v / 2^s) is
// computed as f + ((r + 2^(s−1) − 1 + (f & 1)) >> s), f = v >> s, r = v mod 2^s, for s ≥ 1,
// and v for s = 0: no branch per element, and no overflow however close |v| comes to 2^63.
class WideScalar {
 public:
  explicit WideScalar(const Layer& l);
  // v of channel c from its sum, its shortcut code (−1: none) and its fine bias.
  std::int64_t value(int c, std::int32_t sum, int shortcut_code, std::int64_t bias) const {
    std::int64_t v = std::int64_t(sum) * m_acc_[c] + bias;
    if (shortcut_code >= 0) v += (shortcut_code - sc_zero_point_) * m_sc_[c];
    return v;
  }
  // clamp(rhe(v / 2^shift[c]) + zero_point, lo, hi).
  std::uint8_t code(int c, std::int64_t v) const {
    const int s = shift_[c];
    const std::int64_t f = v >> s;
    const std::uint64_t r = (std::uint64_t(v) & rest_mask_[c]) + round_add_[c] + (f & odd_[c]);
    const std::int64_t q = f + std::int64_t(r >> s);
    return std::uint8_t(std::clamp(q, lo_, hi_) + zero_point_);
  }
  std::uint8_t operator()(int c, std::int32_t sum, int shortcut_code, std::int64_t bias) const {
    return code(c, value(c, sum, shortcut_code, bias));
  }

 private:
  const std::int64_t* m_acc_;
  const std::int64_t* m_sc_;
  const int* shift_;
  int sc_zero_point_, zero_point_;
  std::int64_t lo_, hi_;  // the clamp, relative to the zero point
  std::vector<std::int64_t> round_add_, odd_;
  std::vector<std::uint64_t> rest_mask_;
};

// One output pixel as walk_pixels hands it over: its C_out sums, its fine biases, its
// shortcut pixel (channel c of the output reads shortcut[c − channel_offset]; null without a
// shortcut) and its output codes (null when pooled).
struct WidePixel {
  std::int64_t r;  // (n·Ho + oy)·Wo + ox
  const std::int32_t* sums;
  const std::int64_t* bias;
  const std::uint8_t* shortcut;
  std::uint8_t* out;
};

// Pixels [r0, r1): acc holds their sums, pixel r0's first; y the whole output (or null). For
// each pixel, run(pixel, begin, end, with_shortcut) on the channels before, under and after
// the shortcut's, in that order (empty runs skipped): the per-ISA step computes channels
// [begin, end), adding the shortcut's codes when with_shortcut.
template <class Run>
inline void walk_pixels(const Layer& l, const std::int32_t* acc, const std::uint8_t* shortcut,
                        std::int64_t r0, std::int64_t r1, std::uint8_t* y, const Run& run) {
  const Requant& rq = l.requant;
  const Shortcut& s = l.shortcut;
  const int C = l.C_out;
  // The shortcut covers channels [c0, c1) of the output; the others add real 0.
  const bool has_sc = s.from >= 0;
  const int c0 = has_sc ? std::clamp(s.channel_offset, 0, C) : 0;
  const int c1 = has_sc ? std::clamp(s.channel_offset + s.C, c0, C) : 0;
  const int c2 = std::max(c0, c1);
  // Pixel r0's coordinates, then stepped: no division per pixel.
  const std::int64_t plane = std::int64_t(l.Ho) * l.Wo;
  std::int64_t n = r0 / plane;
  int oy = int(r0 % plane / l.Wo), ox = int(r0 % l.Wo);
  for (std::int64_t r = r0; r < r1; ++r) {
    const WidePixel p{
        r, acc + (r - r0) * C, rq.bias.data() + (std::int64_t(oy) * l.Wo + ox) * rq.bias_ld,
        // the shortcut's pixel (option A: subsampled)
        has_sc ? shortcut + ((n * s.H + oy * s.stride) * s.W + ox * s.stride) * s.C : nullptr,
        y ? y + r * C : nullptr};
    if (c0 > 0) run(p, 0, c0, false);
    if (c1 > c0) run(p, c0, c1, true);
    if (C > c2) run(p, c2, C, false);
    if (++ox == l.Wo) {
      ox = 0;
      if (++oy == l.Ho) oy = 0, ++n;
    }
  }
}

}  // namespace detail
}  // namespace qb::integer
