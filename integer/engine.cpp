#include "integer/engine.h"

#include "engine/check.h"

#include <algorithm>
#include <cstdlib>
#include <span>

namespace qb::integer {
namespace {

// The im2col rows of a conv: row (n, oy, ox) holds the K = kh·kw·C_in codes of its window in
// (ky, kx, ci) order, padding filled with `pad`. Exactly what Conv2dInt8 multiplies.
void im2col(const Layer& l, const std::uint8_t* x, int N, std::vector<std::uint8_t>& rows) {
  const auto& g = l.geometry;
  const std::size_t K = std::size_t(g.kh) * g.kw * l.C_in;
  rows.resize(std::size_t(N) * l.Ho * l.Wo * K);
  std::uint8_t* r = rows.data();
  for (int n = 0; n < N; ++n)
    for (int oy = 0; oy < l.Ho; ++oy)
      for (int ox = 0; ox < l.Wo; ++ox)
        for (int ky = 0; ky < g.kh; ++ky)
          for (int kx = 0; kx < g.kw; ++kx, r += l.C_in) {
            const int iy = oy * g.stride_h + ky - g.pad_top;
            const int ix = ox * g.stride_w + kx - g.pad_left;
            if (iy < 0 || iy >= l.H || ix < 0 || ix >= l.W) {
              std::fill(r, r + l.C_in, std::uint8_t(l.pad_code));
            } else {
              const std::uint8_t* src = x + ((std::size_t(n) * l.H + iy) * l.W + ix) * l.C_in;
              std::copy(src, src + l.C_in, r);
            }
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
    convs_[i] = int8::Conv2dInt8(l.weight.data(), l.C_in, l.C_out, l.geometry, isa);
    stat_of_[i] = stats_.size();
    stats_.push_back({l.name});
  }
}

void Engine::conv(std::size_t i, const std::uint8_t* x, int N, std::vector<std::uint8_t>& y,
                  std::vector<double>& logits) {
  const Layer& l = net_.layers[i];
  const int M = N * l.Ho * l.Wo, K = l.geometry.kh * l.geometry.kw * l.C_in;
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
    st.wrong += int8::gemm_acc16_ref(*acc16, M, l.C_out, K, columns_.data(), K, l.weight.data(), K,
                                     acc_.data(), l.C_out, /*count=*/true);
    acc = acc_.data();
  }

  const Requant& r = l.requant;
  if (l.logits) {
    for (int m = 0; m < M; ++m)
      for (int c = 0; c < l.C_out; ++c) {
        const std::int64_t v = std::int64_t(acc[std::size_t(m) * l.C_out + c]) + r.bias[c];
        logits[std::size_t(m) * l.C_out + c] = l.logit_scale[c] * double(v);
      }
    return;
  }
  y.resize(std::size_t(M) * l.C_out);
  const int8::OutputParams out{r.zero_point, r.lo, r.hi, r.bias.data()};
  if (r.shift >= 0)
    int8::requantize_shift(acc, l.C_out, M, l.C_out, r.shift, out, y.data(), l.C_out, isa_);
  else
    int8::requantize(acc, l.C_out, M, l.C_out, std::span<const int8::Multiplier>(r.multiplier), out,
                     y.data(), l.C_out, isa_);
}

void Engine::forward(const float* images, int N, std::vector<double>& logits, Trace* trace) {
  std::vector<std::uint8_t> x, y;
  std::vector<float> xf, yf;
  quantize_image(net_.input, images, N, net_.C, net_.H, net_.W, x, xf);
  bool xf_is_input = net_.input.kind == ImageInput::Kind::floating;
  logits.assign(std::size_t(N) * net_.classes, 0.0);
  if (trace) trace->codes.assign(net_.layers.size(), {});
  for (std::size_t i = 0; i < net_.layers.size(); ++i) {
    const Layer& l = net_.layers[i];
    switch (l.kind) {
      case Layer::Kind::conv:
        conv(i, x.data(), N, y, logits);
        break;
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
    std::swap(x, y);
    xf_is_input = false;
  }
}

}  // namespace qb::integer
