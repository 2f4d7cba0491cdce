#include "integer/reference.h"

#include "engine/check.h"

#include <algorithm>
#include <cstdlib>
#include <span>

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
    case AccModel::lanes: {  // lane j of each block of 16 products: products 2j and 2j + 1
      std::int64_t lane[8] = {};
      for (std::size_t k = 0; k < K; ++k)
        lane[(k % 16) / 2] = wrap16(lane[(k % 16) / 2] + products[k]);
      for (std::int64_t l : lane) acc += l;
      break;
    }
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

// One rounding of v / 2^shift onto the output grid.
std::uint8_t requantize_wide(const Layer& l, int c, std::int64_t v) {
  const Requant& r = l.requant;
  const std::int64_t q = rounded_shift(v, l.wide.shift[c]) + r.zero_point;
  return std::uint8_t(std::clamp<std::int64_t>(q, r.lo, r.hi));
}

// One model's network inside the pass over all models: this layer's input codes, the block
// input's codes when the layer adds a shortcut, where its outputs go, its statistics.
struct ModelLayer {
  AccModel model;
  const std::uint8_t* x;
  const std::uint8_t* shortcut;
  std::uint8_t* y;
  double* logits;
  OverflowStats* st;
  std::vector<std::int64_t> pooled;  // [C_out] of one image
};

// Image n of models ms[first..] whose input (and shortcut) codes equal ms[first]'s: the
// products of each dot product are formed once, from ms[first]'s codes, and each model
// accumulates them its own way. A conv (depthwise: input channel = output channel, weights
// [C][kh][kw]); a pooled output y is [N][C_out].
void conv_image(const Layer& l, std::vector<ModelLayer>& ms, const std::vector<std::size_t>& group,
                int n) {
  const auto& g = l.geometry;
  const Wide& wd = l.wide;
  const std::uint8_t* x = ms[group.front()].x;
  const std::size_t K = std::size_t(l.K());
  // The input patch of one output position in (ky, kx, ci) order, padded taps holding the
  // zero point's code; a depthwise conv's [ky][kx][C] (each channel reads its own taps).
  std::vector<std::int64_t> patch(std::size_t(g.kh) * g.kw * l.C_in), products(K);
  for (std::size_t m : group) std::fill(ms[m].pooled.begin(), ms[m].pooled.end(), 0);
  for (int oy = 0; oy < l.Ho; ++oy)
    for (int ox = 0; ox < l.Wo; ++ox) {
      std::size_t t = 0;
      for (int ky = 0; ky < g.kh; ++ky)
        for (int kx = 0; kx < g.kw; ++kx) {
          const int iy = oy * g.stride_h + ky - g.pad_top;
          const int ix = ox * g.stride_w + kx - g.pad_left;
          const bool inside = iy >= 0 && iy < l.H && ix >= 0 && ix < l.W;
          for (int ci = 0; ci < l.C_in; ++ci)
            patch[t++] =
                inside ? x[((std::size_t(n) * l.H + iy) * l.W + ix) * l.C_in + ci] : l.pad_code;
        }
      for (int co = 0; co < l.C_out; ++co) {
        const std::int8_t* w = l.weight.data() + std::size_t(co) * K;  // [co][ky][kx][Cg]
        for (std::size_t k = 0; k < K; ++k) {
          // Tap k: (ky, kx) = k / Cg and channel k % Cg, Cg = C_in (depthwise: 1, channel co).
          const std::size_t tap = l.depthwise ? k * std::size_t(l.C_in) + std::size_t(co) : k;
          products[k] = patch[tap] * std::int64_t(w[k]);
        }
        const std::int64_t exact = accumulate(AccModel::int32, products);
        const std::size_t pos = std::size_t(oy) * l.Wo + ox;
        const std::size_t out = (std::size_t(n) * l.Ho * l.Wo + pos) * l.C_out + co;
        for (std::size_t m : group) {
          ModelLayer& r = ms[m];
          const std::int64_t acc =
              r.model == AccModel::int32 ? exact : accumulate(r.model, products);
          if (r.st) {
            r.st->dot_products += 1;
            r.st->wrong += acc != exact;
            r.st->max_abs_sum = std::max(r.st->max_abs_sum, std::abs(exact));
          }
          if (l.logits) {
            r.logits[out] = l.logit_scale[co] * (double(acc) + l.logit_bias[co]);
          } else if (!l.is_wide()) {
            r.y[out] = requantize_one(l.requant, pos, co, acc);
          } else {  // the exact block output in units s_out·P / 2^shift (network.h, Wide)
            std::int64_t v = acc * wd.m_acc[co] + l.requant.bias_at(pos, co);
            if (l.shortcut.from >= 0)
              v += (shortcut_code(l.shortcut, r.shortcut, n, oy, ox, co) - l.shortcut.zero_point) *
                   wd.m_sc[co];
            if (l.pooled)
              r.pooled[co] += std::clamp(v, wd.v_lo[co], wd.v_hi[co]);
            else
              r.y[out] = requantize_wide(l, co, v);
          }
        }
      }
    }
  if (l.pooled)
    for (std::size_t m : group)
      for (int co = 0; co < l.C_out; ++co)
        ms[m].y[std::size_t(n) * l.C_out + co] = requantize_wide(l, co, ms[m].pooled[co]);
}

// The conv layer l for every model: per image, the models whose codes entering l are equal
// (no model's accumulator has made them differ yet: the common case) share one set of products.
void conv(const Layer& l, std::vector<ModelLayer>& ms, int N) {
  const std::size_t in = std::size_t(l.H) * l.W * l.C_in;
  const std::size_t sc =
      l.shortcut.from >= 0 ? std::size_t(l.shortcut.H) * l.shortcut.W * l.shortcut.C : 0;
  std::vector<bool> done(ms.size());
  std::vector<std::size_t> group;
  for (int n = 0; n < N; ++n) {
    std::fill(done.begin(), done.end(), false);
    for (std::size_t a = 0; a < ms.size(); ++a) {
      if (done[a]) continue;
      group.assign(1, a);
      for (std::size_t b = a + 1; b < ms.size(); ++b) {
        const bool same =
            !done[b] && std::equal(ms[a].x + n * in, ms[a].x + (n + 1) * in, ms[b].x + n * in) &&
            (sc == 0 || std::equal(ms[a].shortcut + n * sc, ms[a].shortcut + (n + 1) * sc,
                                   ms[b].shortcut + n * sc));
        if (same) {
          group.push_back(b);
          done[b] = true;
        }
      }
      conv_image(l, ms, group, n);
    }
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

void reference_forward(const Network& net, std::span<const AccModel> models, const float* images,
                       int N, std::vector<ReferenceRun>& runs) {
  const std::size_t M = models.size();
  runs.resize(M);
  // Per model: every layer's output codes (the shortcuts read earlier ones), its input codes.
  std::vector<std::vector<std::vector<std::uint8_t>>> outputs(
      M, std::vector<std::vector<std::uint8_t>>(net.layers.size()));
  std::vector<std::vector<std::uint8_t>> x(M);
  std::vector<float> xf0, xf, yf;
  quantize_image(net.input, images, N, net.C, net.H, net.W, x[0], xf0);
  for (std::size_t m = 1; m < M; ++m) x[m] = x[0];
  bool xf_is_input = net.input.kind == ImageInput::Kind::floating;
  for (ReferenceRun& r : runs) {
    r.logits.assign(std::size_t(N) * net.classes, 0.0);
    r.trace.codes.assign(net.layers.size(), {});
  }
  std::size_t conv_index = 0;
  std::vector<ModelLayer> ms(M);
  for (std::size_t i = 0; i < net.layers.size(); ++i) {
    const Layer& l = net.layers[i];
    for (std::size_t m = 0; m < M; ++m)
      outputs[m][i].assign(l.logits ? 0 : std::size_t(N) * l.out_size(), 0);
    if (l.kind == Layer::Kind::conv) {
      for (std::size_t m = 0; m < M; ++m) {
        std::vector<OverflowStats>& stats = runs[m].stats;
        if (stats.size() <= conv_index) stats.push_back({l.name});
        const std::uint8_t* shortcut =
            l.shortcut.from >= 0 ? outputs[m].at(std::size_t(l.shortcut.from)).data() : nullptr;
        ms[m] = {models[m],
                 x[m].data(),
                 shortcut,
                 outputs[m][i].data(),
                 runs[m].logits.data(),
                 &stats[conv_index],
                 std::vector<std::int64_t>(l.C_out)};
      }
      ++conv_index;
      conv(l, ms, N);
    } else {
      for (std::size_t m = 0; m < M; ++m) {
        std::vector<std::uint8_t>& y = outputs[m][i];
        if (l.kind == Layer::Kind::maxpool) {
          maxpool(l, x[m].data(), N, y.data());
          continue;
        }
        if (xf_is_input) {
          xf = xf0;
        } else {
          xf.resize(x[m].size());
          for (std::size_t k = 0; k < x[m].size(); ++k)
            xf[k] = float(l.input_scale * (double(x[m][k]) - l.input_zero_point));
        }
        yf.resize(std::size_t(N) * l.Ho * l.Wo * l.C_out);
        float_conv(l, xf.data(), N, yf.data());
        for (std::size_t k = 0; k < yf.size(); ++k) {
          if (l.logits)
            runs[m].logits[k] = yf[k];
          else
            y[k] = quantize_real(l.requant, yf[k]);
        }
      }
    }
    if (l.logits) break;
    for (std::size_t m = 0; m < M; ++m) {
      runs[m].trace.codes[i] = outputs[m][i];
      x[m] = outputs[m][i];
    }
    xf_is_input = false;
  }
}

void reference_forward(const Network& net, AccModel model, const float* images, int N,
                       std::vector<double>& logits, Trace* trace,
                       std::vector<OverflowStats>* stats) {
  std::vector<ReferenceRun> runs;
  if (stats) runs.push_back({{}, {}, *stats});
  const AccModel models[] = {model};
  reference_forward(net, models, images, N, runs);
  logits = std::move(runs[0].logits);
  if (trace) *trace = std::move(runs[0].trace);
  if (stats) *stats = std::move(runs[0].stats);
}

}  // namespace qb::integer
