#include "integer/wide_requant.h"

#include "engine/check.h"
#include "engine/parallel.h"
#include "integer/wide_requant_vector.h"

#include <omp.h>

#include <algorithm>
#include <cstdlib>
#include <vector>

namespace qb::integer {
namespace detail {

WideScalar::WideScalar(const Layer& l)
    : m_acc_(l.wide.m_acc.data()),
      m_sc_(l.wide.m_sc.data()),
      shift_(l.wide.shift.data()),
      sc_zero_point_(l.shortcut.zero_point),
      zero_point_(l.requant.zero_point),
      lo_(l.requant.lo - l.requant.zero_point),
      hi_(l.requant.hi - l.requant.zero_point) {
  const int C = l.C_out;
  round_add_.resize(C), odd_.resize(C), rest_mask_.resize(C);
  for (int c = 0; c < C; ++c) {
    const int s = l.wide.shift[c];
    round_add_[c] = s > 0 ? (std::int64_t(1) << (s - 1)) - 1 : 0;
    odd_[c] = s > 0;
    rest_mask_[c] = (std::uint64_t(1) << s) - 1;
  }
}

WideVector::WideVector(const Layer& l) {
  const Requant& rq = l.requant;
  const Wide& w = l.wide;
  const int C = l.C_out;
  usable = rq.lo <= rq.zero_point && rq.zero_point <= rq.hi;
  for (int c = 0; c < C && usable; ++c)
    usable = w.shift[c] <= 54 && std::llabs(w.m_acc[c]) < (1ll << 31) &&
             std::llabs(w.m_sc[c]) < (1ll << 31);
  for (std::size_t j = 0; j < rq.bias.size() && usable; ++j)  // per channel or per position
    usable = std::llabs(rq.bias[j]) < (1ll << 61);
  if (!usable) return;
  even_floor = rq.lo - rq.zero_point - 1;
  if (even_floor % 2) --even_floor;
  m_acc.resize(C), m_sc.resize(C), lower.resize(C), upper.resize(C);
  round_add.resize(C), odd.resize(C), shift.resize(C);
  for (int c = 0; c < C; ++c) {
    const int s = w.shift[c];
    m_acc[c] = w.m_acc[c];
    m_sc[c] = w.m_sc[c];
    lower[c] = std::int64_t(even_floor) * (std::int64_t(1) << s);
    upper[c] = std::int64_t(rq.hi - rq.zero_point + 1) * (std::int64_t(1) << s);
    round_add[c] = s > 0 ? (std::int64_t(1) << (s - 1)) - 1 : 0;
    odd[c] = s > 0;
    shift[c] = s;
  }
}

}  // namespace detail

void wide_requantize_rows(const Layer& l, const std::int32_t* acc, const std::uint8_t* shortcut,
                          std::int64_t r0, std::int64_t r1, std::uint8_t* y, int8::Isa isa) {
  QB_CHECK(!l.pooled);
  const detail::WideScalar scalar(l);
  if (isa != int8::Isa::scalar) {
    const detail::WideVector k(l);
    if (k.usable && (isa == int8::Isa::avx512bw || isa == int8::Isa::avx512vnni))
      return detail::wide_rows_avx512(k, l, acc, shortcut, r0, r1, y);
    if (k.usable) return detail::wide_rows_avx2(k, l, acc, shortcut, r0, r1, y, scalar);
  }
  const int offset = l.shortcut.channel_offset;
  detail::walk_pixels(
      l, acc, shortcut, r0, r1, y, [&](const detail::WidePixel& p, int b, int e, bool with_sc) {
        for (int c = b; c < e; ++c)
          p.out[c] = scalar(c, p.sums[c], with_sc ? p.shortcut[c - offset] : -1, p.bias[c]);
      });
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
  // Pooled: per image, Σ_p clamp(v_p, v_lo, v_hi) per channel, rounded once.
  const detail::WideScalar scalar(l);
  const int offset = l.shortcut.channel_offset;
  const Wide& w = l.wide;
  parallel_split(N, std::min(T, N), [&](int, std::int64_t n0, std::int64_t n1) {
    std::vector<std::int64_t> sum(C);
    for (std::int64_t n = n0; n < n1; ++n) {
      std::fill(sum.begin(), sum.end(), 0);
      detail::walk_pixels(
          l, acc + n * plane * C, shortcut, n * plane, (n + 1) * plane, nullptr,
          [&](const detail::WidePixel& p, int b, int e, bool with_sc) {
            for (int c = b; c < e; ++c)
              sum[c] += std::clamp(
                  scalar.value(c, p.sums[c], with_sc ? p.shortcut[c - offset] : -1, p.bias[c]),
                  w.v_lo[c], w.v_hi[c]);
          });
      for (int c = 0; c < C; ++c) y[n * C + c] = scalar.code(c, sum[c]);
    }
  });
}

}  // namespace qb::integer
