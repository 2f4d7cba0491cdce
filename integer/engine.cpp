#include "integer/engine.h"

#include "engine/check.h"

#include <algorithm>
#include <cstdlib>
#include <span>

namespace qb::integer {
namespace {

// The im2col rows of a conv: row (n, oy, ox) holds the K = kh·kw·C_in codes of its window in
// (ky, kx, ci) order, padding filled with `pad`. Exactly what Conv2dInt8 multiplies. For a
// depthwise conv, row (n, oy, ox, c) holds channel c's K = kh·kw codes in (ky, kx) order.
void im2col(const Layer& l, const std::uint8_t* x, int N, std::vector<std::uint8_t>& rows) {
  const auto& g = l.geometry;
  const std::size_t K = std::size_t(g.kh) * g.kw * l.C_in, taps = std::size_t(g.kh) * g.kw;
  rows.resize(std::size_t(N) * l.Ho * l.Wo * K);
  std::uint8_t* r = rows.data();
  for (int n = 0; n < N; ++n)
    for (int oy = 0; oy < l.Ho; ++oy)
      for (int ox = 0; ox < l.Wo; ++ox, r += K)
        for (int ky = 0; ky < g.kh; ++ky)
          for (int kx = 0; kx < g.kw; ++kx) {
            const int iy = oy * g.stride_h + ky - g.pad_top;
            const int ix = ox * g.stride_w + kx - g.pad_left;
            const bool inside = iy >= 0 && iy < l.H && ix >= 0 && ix < l.W;
            const std::uint8_t* src =
                inside ? x + ((std::size_t(n) * l.H + iy) * l.W + ix) * l.C_in : nullptr;
            const std::size_t tap = std::size_t(ky) * g.kw + kx;
            for (int c = 0; c < l.C_in; ++c) {
              const std::size_t at = l.depthwise ? c * taps + tap : tap * l.C_in + c;
              r[at] = inside ? src[c] : std::uint8_t(l.pad_code);
            }
          }
}

// The requantisation of a conv that adds a shortcut or is pooled (network.h, Wide).
void wide_requant(const Layer& l, const std::int32_t* acc, const std::uint8_t* shortcut, int N,
                  std::uint8_t* y) {
  const Requant& r = l.requant;
  const Wide& w = l.wide;
  const Shortcut& s = l.shortcut;
  const int P = l.Ho * l.Wo, C = l.C_out;
  auto out = [&](std::int64_t v, int c) {
    const std::int64_t q = int8::round_shift_half_even(v, w.shift[c]) + r.zero_point;
    return std::uint8_t(std::clamp<std::int64_t>(q, r.lo, r.hi));
  };
  std::vector<std::int64_t> sum(C);
  for (int n = 0; n < N; ++n) {
    std::fill(sum.begin(), sum.end(), 0);
    for (int p = 0; p < P; ++p) {
      const std::uint8_t* sc = nullptr;  // the shortcut's pixel (option A: subsampled)
      if (s.from >= 0)
        sc = shortcut +
             ((std::size_t(n) * s.H + (p / l.Wo) * s.stride) * s.W + (p % l.Wo) * s.stride) * s.C;
      for (int c = 0; c < C; ++c) {
        const std::size_t at = (std::size_t(n) * P + p) * C + c;
        std::int64_t v = std::int64_t(acc[at]) * w.m_acc[c] + r.bias_at(p, c);
        const int cs = c - s.channel_offset;
        if (sc && cs >= 0 && cs < s.C) v += (sc[cs] - s.zero_point) * w.m_sc[c];
        if (l.pooled)
          sum[c] += std::clamp(v, w.v_lo[c], w.v_hi[c]);
        else
          y[at] = out(v, c);
      }
    }
    if (l.pooled)
      for (int c = 0; c < C; ++c) y[std::size_t(n) * C + c] = out(sum[c], c);
  }
}

}  // namespace

void maxpool_codes(const Layer& l, const std::uint8_t* x, int N, std::uint8_t* y) {
  const auto& g = l.geometry;
  for (int n = 0; n < N; ++n)
    for (int oy = 0; oy < l.Ho; ++oy)
      for (int ox = 0; ox < l.Wo; ++ox)
        for (int c = 0; c < l.C_out; ++c) {
          std::uint8_t m = 0;
          for (int ky = 0; ky < g.kh; ++ky)
            for (int kx = 0; kx < g.kw; ++kx) {
              const int iy = oy * g.stride_h + ky, ix = ox * g.stride_w + kx;
              m = std::max(m, x[((std::size_t(n) * l.H + iy) * l.W + ix) * l.C_in + c]);
            }
          y[((std::size_t(n) * l.Ho + oy) * l.Wo + ox) * l.C_out + c] = m;
        }
}

Engine::Engine(const Network& net, AccModel model, int8::Isa isa)
    : net_(net), model_(model), isa_(isa) {
  convs_.resize(net.layers.size());
  stat_of_.assign(net.layers.size(), 0);
  for (std::size_t i = 0; i < net.layers.size(); ++i) {
    const Layer& l = net.layers[i];
    if (l.kind != Layer::Kind::conv) continue;
    if (l.depthwise) {  // [C][kh][kw] → the kernel's [kh][kw][C]
      const int taps = l.geometry.kh * l.geometry.kw;
      std::vector<std::int8_t> w(l.weight.size());
      for (int c = 0; c < l.C_out; ++c)
        for (int t = 0; t < taps; ++t) w[std::size_t(t) * l.C_out + c] = l.weight[c * taps + t];
      convs_[i] = int8::Conv2dInt8::depthwise(w.data(), l.C_out, l.geometry, isa);
    } else {
      convs_[i] = int8::Conv2dInt8(l.weight.data(), l.C_in, l.C_out, l.geometry, isa);
    }
    stat_of_[i] = stats_.size();
    stats_.push_back({l.name});
  }
}

void Engine::conv(std::size_t i, const std::uint8_t* x, const std::uint8_t* shortcut, int N,
                  std::vector<std::uint8_t>& y, std::vector<double>& logits) {
  const Layer& l = net_.layers[i];
  const int M = N * l.Ho * l.Wo, K = l.K();
  exact_.resize(std::size_t(M) * l.C_out);
  convs_[i].forward(x, N, l.H, l.W, std::uint8_t(l.pad_code), exact_.data());

  OverflowStats& st = stats_[stat_of_[i]];
  st.dot_products += std::int64_t(M) * l.C_out;
  for (std::int32_t v : exact_)
    st.max_abs_sum = std::max<std::int64_t>(st.max_abs_sum, std::abs(std::int64_t(v)));
  const std::int32_t* acc = exact_.data();
  if (const auto acc16 = as_acc16(model_)) {
    im2col(l, x, N, columns_);
    acc_.resize(exact_.size());
    if (l.depthwise)  // channel c: rows c·K + (n, oy, ox)·C·K, its own K weights
      for (int c = 0; c < l.C_out; ++c)
        st.wrong += int8::gemm_acc16_ref(*acc16, M, 1, K, columns_.data() + c * K, l.C_out * K,
                                         l.weight.data() + c * K, K, acc_.data() + c, l.C_out,
                                         /*count=*/true);
    else
      st.wrong += int8::gemm_acc16_ref(*acc16, M, l.C_out, K, columns_.data(), K, l.weight.data(),
                                       K, acc_.data(), l.C_out, /*count=*/true);
    acc = acc_.data();
  }

  const Requant& r = l.requant;
  if (l.logits) {
    for (int m = 0; m < M; ++m)
      for (int c = 0; c < l.C_out; ++c) {
        const double v = double(acc[std::size_t(m) * l.C_out + c]) + l.logit_bias[c];
        logits[std::size_t(m) * l.C_out + c] = l.logit_scale[c] * v;
      }
    return;
  }
  y.resize(std::size_t(N) * l.out_size());
  if (l.is_wide()) return wide_requant(l, acc, shortcut, N, y.data());
  // A bias per output position is the same table for every image: one call per image.
  const int images = r.bias_ld ? N : 1, rows = M / images;
  for (int n = 0; n < images; ++n) {
    int8::OutputParams out{r.zero_point, r.lo, r.hi};
    out.fine_bias = r.bias.data();
    out.fine_bias_ld = r.bias_ld;
    const std::int32_t* a = acc + std::size_t(n) * rows * l.C_out;
    std::uint8_t* yn = y.data() + std::size_t(n) * rows * l.C_out;
    if (r.shift >= 0)
      int8::requantize_shift(a, l.C_out, rows, l.C_out, r.shift, out, yn, l.C_out, isa_);
    else
      int8::requantize(a, l.C_out, rows, l.C_out, std::span<const int8::Multiplier>(r.multiplier),
                       out, yn, l.C_out, isa_);
  }
}

void Engine::forward(const float* images, int N, std::vector<double>& logits, Trace* trace) {
  std::vector<std::uint8_t> x;
  std::vector<float> xf, yf;
  quantize_image(net_.input, images, N, net_.C, net_.H, net_.W, x, xf);
  bool xf_is_input = net_.input.kind == ImageInput::Kind::floating;
  logits.assign(std::size_t(N) * net_.classes, 0.0);
  if (trace) trace->codes.assign(net_.layers.size(), {});
  outputs_.resize(net_.layers.size());  // kept: a later block's shortcut may read one
  for (std::size_t i = 0; i < net_.layers.size(); ++i) {
    const Layer& l = net_.layers[i];
    std::vector<std::uint8_t>& y = outputs_[i];
    switch (l.kind) {
      case Layer::Kind::conv: {
        const int from = l.shortcut.from;
        conv(i, x.data(), from >= 0 ? outputs_.at(from).data() : nullptr, N, y, logits);
        break;
      }
      case Layer::Kind::maxpool:
        y.resize(std::size_t(N) * l.Ho * l.Wo * l.C_out);
        maxpool_codes(l, x.data(), N, y.data());
        break;
      case Layer::Kind::floating: {
        if (!xf_is_input) {  // dequantise the codes (not the float image)
          xf.resize(x.size());
          for (std::size_t k = 0; k < x.size(); ++k)
            xf[k] = float(l.input_scale * (double(x[k]) - l.input_zero_point));
        }
        yf.resize(std::size_t(N) * l.Ho * l.Wo * l.C_out);
        float_conv(l, xf.data(), N, yf.data());
        if (l.logits) {
          for (std::size_t k = 0; k < yf.size(); ++k) logits[k] = yf[k];
        } else {
          y.resize(yf.size());
          for (std::size_t k = 0; k < yf.size(); ++k) y[k] = quantize_real(l.requant, yf[k]);
        }
        break;
      }
    }
    if (l.logits) break;
    if (trace) trace->codes[i] = y;
    x = y;
    xf_is_input = false;
  }
}

}  // namespace qb::integer
