#include "integer/wide_requant.h"

#include "engine/check.h"
#include "engine/parallel.h"
#include "integer/wide_requant_avx2.h"

#include <omp.h>

#include <algorithm>
#include <vector>

namespace qb::integer {
namespace {

// rhe(v / 2^s) for 0 ≤ s ≤ 62 (Wide's bound), inline: engine/int8's round_shift_half_even
// takes any s and checks it, a call per element that cost more than the rest of the loop.
inline std::int64_t shift_half_even(std::int64_t v, int s) {
  if (s == 0) return v;
  const std::int64_t q = v >> s;  // floor
  const std::uint64_t r = std::uint64_t(v) & ((std::uint64_t(1) << s) - 1);
  const std::uint64_t half = std::uint64_t(1) << (s - 1);
  return q + (r > half || (r == half && (q & 1)));
}

inline std::uint8_t output(const Layer& l, std::int64_t v, int c) {
  const Requant& r = l.requant;
  const std::int64_t q = shift_half_even(v, l.wide.shift[c]) + r.zero_point;
  return std::uint8_t(std::clamp<std::int64_t>(q, r.lo, r.hi));
}

// v_p of every channel of pixel r (image n, output row oy, column ox): a the pixel's C_out sums.
template <class Use>
inline void pixel(const Layer& l, const std::int32_t* a, const std::uint8_t* shortcut, int n,
                  int oy, int ox, const Use& use) {
  const Requant& r = l.requant;
  const Wide& w = l.wide;
  const Shortcut& s = l.shortcut;
  const int C = l.C_out;
  const std::uint8_t* sc =  // the shortcut's pixel (option A: subsampled)
      s.from >= 0 ? shortcut + ((std::size_t(n) * s.H + oy * s.stride) * s.W + ox * s.stride) * s.C
                  : nullptr;
  // The shortcut covers channels [c0, c1) of the output; the others add real 0.
  const int c0 = sc ? std::clamp(s.channel_offset, 0, C) : 0;
  const int c1 = sc ? std::clamp(s.channel_offset + s.C, c0, C) : 0;
  const std::int64_t* bias = r.bias.data() + (std::size_t(oy) * l.Wo + ox) * r.bias_ld;
  for (int c = 0; c < C; ++c) {
    std::int64_t v = std::int64_t(a[c]) * w.m_acc[c] + bias[c];
    if (c >= c0 && c < c1) v += (sc[c - s.channel_offset] - s.zero_point) * w.m_sc[c];
    use(c, v);
  }
}

}  // namespace

void wide_requantize_rows(const Layer& l, const std::int32_t* acc, const std::uint8_t* shortcut,
                          std::int64_t r0, std::int64_t r1, std::uint8_t* y, int8::Isa isa) {
  QB_CHECK(!l.pooled);
  const Requant& rq = l.requant;
  const Wide& w = l.wide;
  const Shortcut& s = l.shortcut;
  const int C = l.C_out;
  // rhe(v / 2^s) = f + ((r + 2^(s−1) − 1 + (f & 1)) >> s), f = v >> s, r = v mod 2^s, for
  // s ≥ 1, and v for s = 0: no branch per element, and no overflow however close |v| comes to
  // 2^63 (|v| < 2^62 + 2^61 + 2^39 with the int64 bias, network.h's Wide).
  std::vector<std::int64_t> round_add(C), odd(C);
  std::vector<std::uint64_t> rest_mask(C);
  for (int c = 0; c < C; ++c) {
    round_add[c] = w.shift[c] > 0 ? (std::int64_t(1) << (w.shift[c] - 1)) - 1 : 0;
    odd[c] = w.shift[c] > 0;
    rest_mask[c] = (std::uint64_t(1) << w.shift[c]) - 1;
  }
  const std::int64_t lo = rq.lo - rq.zero_point, hi = rq.hi - rq.zero_point;
  // Channel c of a pixel: its sum, its shortcut code or −1, its fine bias.
  auto channel = [&](int c, std::int32_t sum, int code, std::int64_t bias) {
    std::int64_t v = std::int64_t(sum) * w.m_acc[c] + bias;
    if (code >= 0) v += (code - s.zero_point) * w.m_sc[c];
    const std::int64_t f = v >> w.shift[c];
    const std::uint64_t r = (std::uint64_t(v) & rest_mask[c]) + round_add[c] + (f & odd[c]);
    const std::int64_t q = f + std::int64_t(r >> w.shift[c]);
    return std::uint8_t(std::clamp(q, lo, hi) + rq.zero_point);
  };
  if (isa != int8::Isa::scalar) {
    const detail::WideAvx2 k(l);
    if (k.usable) return detail::wide_rows_avx2(k, l, acc, shortcut, r0, r1, y, channel);
  }
  // The shortcut covers channels [c0, c1) of the output; the others add real 0.
  const bool has_sc = s.from >= 0;
  const int c0 = has_sc ? std::clamp(s.channel_offset, 0, C) : 0;
  const int c1 = has_sc ? std::clamp(s.channel_offset + s.C, c0, C) : 0;
  // Pixel r0's coordinates, then stepped: no division per pixel.
  const std::int64_t plane = std::int64_t(l.Ho) * l.Wo;
  std::int64_t n = r0 / plane;
  int oy = int(r0 % plane / l.Wo), ox = int(r0 % l.Wo);
  for (std::int64_t r = r0; r < r1; ++r) {
    const std::int32_t* a = acc + (r - r0) * C;
    const std::int64_t* b = rq.bias.data() + (std::int64_t(oy) * l.Wo + ox) * rq.bias_ld;
    std::uint8_t* out = y + r * C;
    for (int c = 0; c < c0; ++c) out[c] = channel(c, a[c], -1, b[c]);
    if (c1 > c0) {
      const std::uint8_t* sc =  // the shortcut's pixel (option A: subsampled)
          shortcut + ((n * s.H + oy * s.stride) * s.W + ox * s.stride) * s.C;
      for (int c = c0; c < c1; ++c) out[c] = channel(c, a[c], sc[c - s.channel_offset], b[c]);
    }
    for (int c = std::max(c0, c1); c < C; ++c) out[c] = channel(c, a[c], -1, b[c]);
    if (++ox == l.Wo) {
      ox = 0;
      if (++oy == l.Ho) oy = 0, ++n;
    }
  }
}

void wide_requantize(const Layer& l, const std::int32_t* acc, const std::uint8_t* shortcut, int N,
                     std::uint8_t* y, int8::Isa isa) {
  const int C = l.C_out;
  const std::int64_t plane = std::int64_t(l.Ho) * l.Wo;
  // At least 16 K outputs a thread: below that a parallel region costs more than it saves.
  const int T = int(std::clamp<std::int64_t>(N * plane * C / 16384, 1, omp_get_max_threads()));
  if (!l.pooled) {
    parallel_split(N * plane, T, [&](int, std::int64_t r0, std::int64_t r1) {
      wide_requantize_rows(l, acc + r0 * C, shortcut, r0, r1, y, isa);
    });
    return;
  }
  parallel_split(N, std::min(T, N), [&](int, std::int64_t n0, std::int64_t n1) {
    std::vector<std::int64_t> sum(C);
    for (int n = int(n0); n < int(n1); ++n) {
      std::fill(sum.begin(), sum.end(), 0);
      for (int oy = 0; oy < l.Ho; ++oy)
        for (int ox = 0; ox < l.Wo; ++ox)
          pixel(l, acc + ((std::int64_t(n) * l.Ho + oy) * l.Wo + ox) * C, shortcut, n, oy, ox,
                [&](int c, std::int64_t v) {
                  sum[c] += std::clamp(v, l.wide.v_lo[c], l.wide.v_hi[c]);
                });
      for (int c = 0; c < C; ++c) y[std::size_t(n) * C + c] = output(l, sum[c], c);
    }
  });
}

}  // namespace qb::integer
