#include "integer/reference.h"

#include "engine/check.h"

#include <algorithm>
#include <cstdlib>

namespace qb::integer {
namespace {

std::int64_t wrap16(std::int64_t v) { return std::int64_t(std::int16_t(std::uint16_t(v))); }
std::int64_t sat16(std::int64_t v) { return std::clamp<std::int64_t>(v, -32768, 32767); }
std::int64_t sat32(std::int64_t v) { return std::clamp<std::int64_t>(v, INT32_MIN, INT32_MAX); }

// One dot product of `products` (in the accumulator's order) under `model`.
std::int64_t accumulate(AccModel model, const std::vector<std::int64_t>& products) {
  std::int64_t acc = 0;
  const std::size_t K = products.size();
  switch (model) {
    case AccModel::int32:
      for (std::int64_t p : products) acc += p;
      break;
    case AccModel::wrap:
      for (std::int64_t p : products) acc = wrap16(acc + p);
      break;
    case AccModel::saturate:
      for (std::int64_t p : products) acc = sat16(acc + p);
      break;
    case AccModel::pair_saturate:
    case AccModel::pair_wrap:
      for (std::size_t k = 0; k < K; k += 2) {
        const std::int64_t pair = sat16(products[k] + (k + 1 < K ? products[k + 1] : 0));
        acc = model == AccModel::pair_wrap ? wrap16(acc + pair) : acc + pair;
      }
      break;
  }
  return acc;
}

// One output code: (x·m0 + B) / 2^(31 − e), or (x·2^30 + B) / 2^(shift + 30), rounded once.
std::uint8_t requantize_one(const Requant& r, std::size_t p, int c, std::int64_t acc) {
  const std::int64_t x = sat32(acc);  // what the int32 result of the conv holds
  std::int64_t q;
  if (r.shift >= 0) {
    q = rounded_shift(x * (std::int64_t(1) << 30) + r.bias_at(p, c), r.shift + 30);
  } else {
    const int8::Multiplier& m = r.multiplier[c];
    q = rounded_shift(x * m.m0 + r.bias_at(p, c), 31 - m.e);
  }
  return std::uint8_t(std::clamp<std::int64_t>(q + r.zero_point, r.lo, r.hi));
}

// The shortcut's code at output (n, oy, ox, c): option A on codes — the block input at
// (oy·stride, ox·stride), channel c − offset, or the zero point (real 0) outside its channels.
std::int64_t shortcut_code(const Shortcut& s, const std::uint8_t* src, int n, int oy, int ox,
                           int c) {
  const int cs = c - s.channel_offset;
  if (cs < 0 || cs >= s.C) return s.zero_point;
  return src[((std::size_t(n) * s.H + oy * s.stride) * s.W + ox * s.stride) * s.C + cs];
}

// A conv (depthwise: input channel = output channel, weights [C][kh][kw]); `shortcut` is the
// block input's codes when l adds one. A pooled output y is [N][C_out].
// One rounding of v / 2^shift onto the output grid.
std::uint8_t requantize_wide(const Layer& l, int c, std::int64_t v) {
  const Requant& r = l.requant;
  const std::int64_t q = rounded_shift(v, l.wide.shift[c]) + r.zero_point;
  return std::uint8_t(std::clamp<std::int64_t>(q, r.lo, r.hi));
}

void conv(const Layer& l, AccModel model, const std::uint8_t* x, const std::uint8_t* shortcut,
          int N, std::uint8_t* y, double* logits, OverflowStats* st) {
  const auto& g = l.geometry;
  const int Cg = l.depthwise ? 1 : l.C_in;  // input channels one output sums over
  const Wide& wd = l.wide;
  std::vector<std::int64_t> products, pooled(l.C_out);
  for (int n = 0; n < N; ++n) {
    std::fill(pooled.begin(), pooled.end(), 0);
    for (int oy = 0; oy < l.Ho; ++oy)
      for (int ox = 0; ox < l.Wo; ++ox)
        for (int co = 0; co < l.C_out; ++co) {
          products.clear();
          for (int ky = 0; ky < g.kh; ++ky)
            for (int kx = 0; kx < g.kw; ++kx)
              for (int k = 0; k < Cg; ++k) {
                const int ci = l.depthwise ? co : k;
                const int iy = oy * g.stride_h + ky - g.pad_top;
                const int ix = ox * g.stride_w + kx - g.pad_left;
                const bool inside = iy >= 0 && iy < l.H && ix >= 0 && ix < l.W;
                const std::int64_t q =
                    inside ? x[((std::size_t(n) * l.H + iy) * l.W + ix) * l.C_in + ci] : l.pad_code;
                const std::int64_t w =
                    l.weight[((std::size_t(co) * g.kh + ky) * g.kw + kx) * Cg + k];
                products.push_back(q * w);
              }
          const std::int64_t exact = accumulate(AccModel::int32, products);
          const std::int64_t acc = accumulate(model, products);
          if (st) {
            st->dot_products += 1;
            st->wrong += acc != exact;
            st->max_abs_sum = std::max(st->max_abs_sum, std::abs(exact));
          }
          const std::size_t pos = std::size_t(oy) * l.Wo + ox;
          const std::size_t out = (std::size_t(n) * l.Ho * l.Wo + pos) * l.C_out + co;
          if (l.logits) {
            logits[out] = l.logit_scale[co] * (double(acc) + l.logit_bias[co]);
          } else if (!l.is_wide()) {
            y[out] = requantize_one(l.requant, pos, co, acc);
          } else {  // the exact block output in units s_out·P / 2^shift (network.h, Wide)
            std::int64_t v = acc * wd.m_acc[co] + l.requant.bias_at(pos, co);
            if (l.shortcut.from >= 0)
              v += (shortcut_code(l.shortcut, shortcut, n, oy, ox, co) - l.shortcut.zero_point) *
                   wd.m_sc[co];
            if (l.pooled)
              pooled[co] += std::clamp(v, wd.v_lo[co], wd.v_hi[co]);
            else
              y[out] = requantize_wide(l, co, v);
          }
        }
    if (l.pooled)
      for (int co = 0; co < l.C_out; ++co)
        y[std::size_t(n) * l.C_out + co] = requantize_wide(l, co, pooled[co]);
  }
}

// Max pooling of codes by its definition: each output code is the largest of its window
// (no padding), one code at a time.
void maxpool(const Layer& l, const std::uint8_t* x, int N, std::uint8_t* y) {
  const auto& g = l.geometry;
  const int C = l.C_out;
  for (int n = 0; n < N; ++n)
    for (int oy = 0; oy < l.Ho; ++oy)
      for (int ox = 0; ox < l.Wo; ++ox)
        for (int c = 0; c < C; ++c) {
          std::uint8_t m = 0;
          for (int ky = 0; ky < g.kh; ++ky)
            for (int kx = 0; kx < g.kw; ++kx) {
              const int iy = oy * g.stride_h + ky, ix = ox * g.stride_w + kx;
              m = std::max(m, x[((std::size_t(n) * l.H + iy) * l.W + ix) * l.C_in + c]);
            }
          y[((std::size_t(n) * l.Ho + oy) * l.Wo + ox) * C + c] = m;
        }
}

}  // namespace

std::int64_t rounded_shift(std::int64_t p, int s) {
  QB_CHECK_GE(s, 0);
  if (s == 0) return p;
  if (s >= 64) return 0;                       // |p / 2^64| ≤ ½, and −½ goes to the even 0
  const std::int64_t floor = p >> s;           // arithmetic shift: rounds toward −∞
  const std::int64_t rest = p - (floor << s);  // in [0, 2^s)
  const std::int64_t half = std::int64_t(1) << (s - 1);
  if (rest > half || (rest == half && (floor & 1))) return floor + 1;
  return floor;
}

void reference_forward(const Network& net, AccModel model, const float* images, int N,
                       std::vector<double>& logits, Trace* trace,
                       std::vector<OverflowStats>* stats) {
  std::vector<std::uint8_t> x;
  std::vector<std::vector<std::uint8_t>> outputs(net.layers.size());
  std::vector<float> xf, yf;
  quantize_image(net.input, images, N, net.C, net.H, net.W, x, xf);
  bool xf_is_input = net.input.kind == ImageInput::Kind::floating;
  logits.assign(std::size_t(N) * net.classes, 0.0);
  if (trace) trace->codes.assign(net.layers.size(), {});
  std::size_t conv_index = 0;
  for (std::size_t i = 0; i < net.layers.size(); ++i) {
    const Layer& l = net.layers[i];
    std::vector<std::uint8_t>& y = outputs[i];
    y.assign(l.logits ? 0 : std::size_t(N) * l.out_size(), 0);
    if (l.kind == Layer::Kind::conv) {
      OverflowStats* st = nullptr;
      if (stats) {
        if (stats->size() <= conv_index) stats->push_back({l.name});
        st = &(*stats)[conv_index];
      }
      ++conv_index;
      const std::uint8_t* shortcut =
          l.shortcut.from >= 0 ? outputs.at(std::size_t(l.shortcut.from)).data() : nullptr;
      conv(l, model, x.data(), shortcut, N, y.data(), logits.data(), st);
    } else if (l.kind == Layer::Kind::maxpool) {
      maxpool(l, x.data(), N, y.data());
    } else {
      if (!xf_is_input) {
        xf.resize(x.size());
        for (std::size_t k = 0; k < x.size(); ++k)
          xf[k] = float(l.input_scale * (double(x[k]) - l.input_zero_point));
      }
      yf.resize(std::size_t(N) * l.Ho * l.Wo * l.C_out);
      float_conv(l, xf.data(), N, yf.data());
      for (std::size_t k = 0; k < yf.size(); ++k) {
        if (l.logits)
          logits[k] = yf[k];
        else
          y[k] = quantize_real(l.requant, yf[k]);
      }
    }
    if (l.logits) break;
    if (trace) trace->codes[i] = y;
    x = y;
    xf_is_input = false;
  }
}

}  // namespace qb::integer
