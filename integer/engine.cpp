#include "integer/engine.h"

#include "engine/check.h"
#include "engine/int8/acc16_models.h"
#include "engine/int8/im2col.h"
#include "engine/parallel.h"
#include "integer/wide_requant.h"

#include <omp.h>

#include <algorithm>
#include <cstdlib>
#include <numeric>
#include <span>

namespace qb::integer {
namespace {

// The im2col rows of a conv: row (n, oy, ox) holds the K = kh·kw·C_in codes of its window in
// (ky, kx, ci) order, padding filled with `pad_code`: Conv2dInt8's own patch rows
// (engine/int8/im2col.h), whose runs are whole window rows. For a depthwise conv, row
// (n, oy, ox, c) holds channel c's K = kh·kw codes in (ky, kx) order.
void im2col(const Layer& l, const std::uint8_t* x, int N, std::vector<std::uint8_t>& rows) {
  const auto& g = l.geometry;
  const std::size_t K = std::size_t(g.kh) * g.kw * l.C_in, taps = std::size_t(g.kh) * g.kw;
  const std::int64_t M = std::int64_t(N) * l.Ho * l.Wo;
  rows.resize(std::size_t(M) * K);
  if (!l.depthwise)
    return int8::im2col(int8::Patches{x, l.H, l.W, l.C_in, std::uint8_t(l.pad_code), g, l.Ho, l.Wo},
                        0, M, rows.data(), K);
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
            for (int c = 0; c < l.C_in; ++c)
              r[c * taps + tap] = inside ? src[c] : std::uint8_t(l.pad_code);
          }
}

// The largest |sum| of n sums: their minimum and maximum in int32 (a reduction the compiler
// vectorises, where a max of int64 absolute values stays scalar on AVX2), widened at the end.
std::int64_t max_abs(const std::int32_t* sums, std::size_t n) {
  std::int32_t lo = 0, hi = 0;
  for (std::size_t k = 0; k < n; ++k) {
    lo = std::min(lo, sums[k]);
    hi = std::max(hi, sums[k]);
  }
  return std::max(-std::int64_t(lo), std::int64_t(hi));
}

}  // namespace

// The window's rows are first reduced down the columns (max of whole input rows, contiguous,
// so it vectorises whatever C is), then across: kh + kw maxima per output code instead of
// kh·kw, and no per-channel loop over short rows (LeNet-5's 6 channels).
void maxpool_codes(const Layer& l, const std::uint8_t* x, int N, std::uint8_t* y) {
  const auto& g = l.geometry;
  const int C = l.C_out;
  const std::size_t row = std::size_t(l.W) * C, out_row = std::size_t(l.Wo) * C;
  // Images split across threads when there are enough of them.
  const std::int64_t per_image = std::int64_t(l.Ho) * l.Wo * C * g.kh * g.kw;
  const int T = int(std::clamp<std::int64_t>(N * per_image / 65536, 1, omp_get_max_threads()));
  parallel_split(N, T, [&](int, std::int64_t n0, std::int64_t n1) {
    std::vector<std::uint8_t> column_max(row);
    for (std::int64_t n = n0; n < n1; ++n)
      for (int oy = 0; oy < l.Ho; ++oy) {
        const std::uint8_t* top = x + (std::size_t(n) * l.H + std::size_t(oy) * g.stride_h) * row;
        std::uint8_t* cm = column_max.data();
        std::copy(top, top + row, cm);
        for (int ky = 1; ky < g.kh; ++ky)
          for (std::size_t j = 0; j < row; ++j) cm[j] = std::max(cm[j], top[ky * row + j]);
        std::uint8_t* m = y + (std::size_t(n) * l.Ho + oy) * out_row;
        for (int ox = 0; ox < l.Wo; ++ox, m += C) {
          const std::uint8_t* w = cm + std::size_t(ox) * g.stride_w * C;
          std::copy(w, w + C, m);
          for (int kx = 1; kx < g.kw; ++kx)
            for (int c = 0; c < C; ++c) m[c] = std::max(m[c], w[kx * C + c]);
        }
      }
  });
}

Engine::Engine(const Network& net, AccModel model, int8::Isa isa, EngineOptions options)
    : net_(net),
      model_(model),
      isa_(isa),
      fast16_(!options.count_overflows && model == AccModel::pair_wrap) {
  if (!options.count_overflows && as_acc16(model) && !fast16_)
    throw error("accumulator model ", acc_model_name(model),
                ": without overflow counting only int32 and pair-wrap run (on their kernels); "
                "the other 16-bit models exist only as the counting reference");
  convs_.resize(net.layers.size());
  u7_.assign(net.layers.size(), false);
  stat_of_.assign(net.layers.size(), 0);
  groups_.resize(net.layers.size());
  // The largest code each layer's input can hold: the image's grid, then each producer's clamp.
  int max_code = net.input.kind == ImageInput::Kind::grid ? net.input.hi + net.input.offset : 255;
  for (std::size_t i = 0; i < net.layers.size(); ++i) {
    const Layer& l = net.layers[i];
    const int in_max = max_code;
    if (l.kind != Layer::Kind::maxpool) max_code = l.requant.hi;
    if (l.kind != Layer::Kind::conv) continue;
    if (l.depthwise) {  // [C][kh][kw] → the kernel's [kh][kw][C]
      const int taps = l.geometry.kh * l.geometry.kw;
      std::vector<std::int8_t> w(l.weight.size());
      for (int c = 0; c < l.C_out; ++c)
        for (int t = 0; t < taps; ++t) w[std::size_t(t) * l.C_out + c] = l.weight[c * taps + t];
      convs_[i] = int8::Conv2dInt8::depthwise(w.data(), l.C_out, l.geometry, isa);
    } else if (fast16_) {
      convs_[i] = int8::Conv2dInt8(l.weight.data(), l.C_in, l.C_out, l.geometry, isa,
                                   int8::Activations::any, int8::Accumulator::int16);
    } else {
      // Inputs and padding of 7 bits (A7 and narrower grids): the GEMM's vpmaddubsw kernels,
      // exact for them (int8/gemm.h, Activations::u7), twice the multiply-adds per instruction.
      const bool u7 = in_max <= 127 && l.pad_code <= 127;
      convs_[i] = int8::Conv2dInt8(l.weight.data(), l.C_in, l.C_out, l.geometry, isa,
                                   u7 ? int8::Activations::u7 : int8::Activations::any);
    }
    u7_[i] = in_max <= 127 && l.pad_code <= 127;
    stat_of_[i] = stats_.size();
    stats_.push_back({l.name});
    // k pixels of C_out channels make whole vectors of 16 (and 8) lanes: gcd(C_out, 16)·k = 16.
    // A per-position bias table [Ho·Wo][C_out] is already k pixels per row of k·C_out (stride
    // k·C_out): requantize_rows indexes it in place, nothing to replicate.
    const Requant& r = l.requant;
    QB_CHECK(r.bias_ld == 0 || r.bias_ld == l.C_out);
    // Checked once here, not by every requantisation call (OutputParams::fine_bias_checked).
    if (!int8::fine_bias_in_range(r.bias.data(), r.bias.size()))
      throw error("layer ", l.name, ": a fine bias outside (-2^61, 2^61)");
    RowGroup& g = groups_[i];
    g.k = 16 / std::gcd(l.C_out, 16);
    for (int j = 0; j < g.k; ++j) {
      if (!r.bias_ld) g.bias.insert(g.bias.end(), r.bias.begin(), r.bias.end());
      g.multiplier.insert(g.multiplier.end(), l.requant.multiplier.begin(),
                          l.requant.multiplier.end());
    }
  }
}

void Engine::conv(std::size_t i, const std::uint8_t* x, const std::uint8_t* shortcut, int N,
                  std::vector<std::uint8_t>& y, std::vector<double>& logits) {
  const Layer& l = net_.layers[i];
  const bool fused = (!as_acc16(model_) || fast16_) && !l.depthwise && !l.logits && !l.pooled;
  if (fused) return conv_fused(i, x, shortcut, N, y);
  const int M = N * l.Ho * l.Wo, K = l.K();
  // The exact sums, or (fast16_, not depthwise) gemm_acc16's pair-wrap results.
  exact_.resize(std::size_t(M) * l.C_out);
  convs_[i].forward(x, N, l.H, l.W, std::uint8_t(l.pad_code), exact_.data());

  OverflowStats& st = stats_[stat_of_[i]];
  st.dot_products += std::int64_t(M) * l.C_out;
  const std::int32_t* acc = exact_.data();
  if (fast16_) {
    if (l.depthwise) depthwise_pair_wrap(i, x, N, exact_.data());
  } else if (const auto acc16 = as_acc16(model_)) {
    st.max_abs_sum = std::max(st.max_abs_sum, max_abs(exact_.data(), exact_.size()));
    im2col(l, x, N, columns_);
    acc_.resize(exact_.size());
    if (l.depthwise)  // channel c: rows c·K + (n, oy, ox)·C·K, its own K weights
      for (int c = 0; c < l.C_out; ++c)
        st.wrong += int8::gemm_acc16_models(*acc16, M, 1, K, columns_.data() + c * K, l.C_out * K,
                                            l.weight.data() + c * K, K, exact_.data() + c, l.C_out,
                                            acc_.data() + c, l.C_out, isa_);
    else
      st.wrong +=
          int8::gemm_acc16_models(*acc16, M, l.C_out, K, columns_.data(), K, l.weight.data(), K,
                                  exact_.data(), l.C_out, acc_.data(), l.C_out, isa_);
    acc = acc_.data();
  } else {
    st.max_abs_sum = std::max(st.max_abs_sum, max_abs(exact_.data(), exact_.size()));
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
  if (l.is_wide()) return wide_requantize(l, acc, shortcut, N, y.data(), isa_);
  // A bias per output position is the same table for every image: one call per image.
  const int images = r.bias_ld ? N : 1, rows = M / images;
  for (int n = 0; n < images; ++n) {
    int8::OutputParams out{r.zero_point, r.lo, r.hi};
    out.fine_bias = r.bias.data();
    out.fine_bias_ld = r.bias_ld;
    out.fine_bias_checked = true;  // by the constructor
    const std::int32_t* a = acc + std::size_t(n) * rows * l.C_out;
    std::uint8_t* yn = y.data() + std::size_t(n) * rows * l.C_out;
    if (r.shift >= 0)
      int8::requantize_shift(a, l.C_out, rows, l.C_out, r.shift, out, yn, l.C_out, isa_);
    else
      int8::requantize(a, l.C_out, rows, l.C_out, std::span<const int8::Multiplier>(r.multiplier),
                       out, yn, l.C_out, isa_);
  }
}

// Pixels [r0, r0 + rows) of sums → codes, as whole RowGroups of k pixels and the rest alone.
// A per-position bias is indexed by the pixel's place in its image, so the block is cut at
// image boundaries and each piece reads the table from its first pixel on.
void Engine::requantize_rows(std::size_t i, const std::int32_t* sums, std::int64_t r0, int rows,
                             std::uint8_t* y) {
  const Layer& l = net_.layers[i];
  const Requant& r = l.requant;
  const RowGroup& g = groups_[i];
  const int C = l.C_out;
  // m rows of n columns; bias: row 0's fine bias, the next rows' `ld` further (0: the same).
  auto run = [&](const std::int32_t* s, int m, int n, const std::int64_t* bias, std::int64_t ld,
                 const std::vector<int8::Multiplier>& mult, std::uint8_t* out) {
    int8::OutputParams o{r.zero_point, r.lo, r.hi};
    o.fine_bias = bias;
    o.fine_bias_ld = ld;
    o.fine_bias_checked = true;  // by the constructor
    if (r.shift >= 0)
      int8::requantize_shift(s, n, m, n, r.shift, o, out, n, isa_);
    else
      int8::requantize(s, n, m, n, std::span<const int8::Multiplier>(mult), o, out, n, isa_);
  };
  // `count` pixels from position p0 of one image (p0 only matters for a per-position bias).
  auto piece = [&](std::int64_t p0, int count, const std::int32_t* s, std::uint8_t* out) {
    const int whole = count / g.k * g.k;
    const std::int64_t* table = r.bias.data() + p0 * r.bias_ld;
    if (whole > 0)
      run(s, whole / g.k, g.k * C, r.bias_ld ? table : g.bias.data(), g.k * r.bias_ld, g.multiplier,
          out);
    if (whole < count)
      run(s + std::size_t(whole) * C, count - whole, C, table + whole * r.bias_ld, r.bias_ld,
          r.multiplier, out + std::size_t(whole) * C);
  };
  if (!r.bias_ld) return piece(0, rows, sums, y);
  const std::int64_t plane = std::int64_t(l.Ho) * l.Wo;
  for (int done = 0; done < rows;) {
    const std::int64_t p = (r0 + done) % plane;
    const int count = int(std::min<std::int64_t>(rows - done, plane - p));
    piece(p, count, sums + std::size_t(done) * C, y + std::size_t(done) * C);
    done += count;
  }
}

// Each thread takes a range of output pixels and, block by block, computes their sums and
// requantises them while they are still in its cache: no int32 tensor of the whole layer is
// written to memory and read back, and the requantisation runs on every thread.
void Engine::conv_fused(std::size_t i, const std::uint8_t* x, const std::uint8_t* shortcut, int N,
                        std::vector<std::uint8_t>& y) {
  const Layer& l = net_.layers[i];
  const std::int64_t M = std::int64_t(N) * l.Ho * l.Wo, K = l.K();
  const int C = l.C_out;
  y.resize(std::size_t(N) * l.out_size());
  // At least 32 KiB of patches a thread (as Conv2dInt8::forward splits), blocks of at most
  // 64 KiB of sums.
  const int T = int(std::clamp<std::int64_t>(M * K / 32768, 1, omp_get_max_threads()));
  std::int64_t block =
      std::clamp<std::int64_t>((M + T - 1) / T, 1, std::max<std::int64_t>(1, 16384 / C));
  if (block > 16) block = block / 16 * 16;  // whole row groups (RowGroup: k ≤ 16)
  if (int(blocks_.size()) < T) blocks_.resize(T);
  for (Block& bl : blocks_) bl.max_abs_sum = 0;  // a thread that does not run adds 0
  parallel_split(M, T, [&](int t, std::int64_t a, std::int64_t b) {
    Block& bl = blocks_[t];
    bl.sums.resize(std::size_t(std::min(block, b - a)) * C);
    for (std::int64_t r0 = a; r0 < b; r0 += block) {
      const std::int64_t r1 = std::min(b, r0 + block);
      const int rows = int(r1 - r0);
      convs_[i].forward_rows(x, N, l.H, l.W, std::uint8_t(l.pad_code), r0, r1, bl.sums.data(),
                             bl.columns);
      if (!fast16_)  // else the sums are pair-wrap's results, not the exact ones
        bl.max_abs_sum = std::max(bl.max_abs_sum, max_abs(bl.sums.data(), std::size_t(rows) * C));
      if (l.is_wide())
        wide_requantize_rows(l, bl.sums.data(), shortcut, r0, r1, y.data(), isa_);
      else
        requantize_rows(i, bl.sums.data(), r0, rows, y.data() + r0 * C);
    }
  });
  OverflowStats& st = stats_[stat_of_[i]];
  st.dot_products += M * C;
  for (int t = 0; t < T; ++t) st.max_abs_sum = std::max(st.max_abs_sum, blocks_[t].max_abs_sum);
}

// With 7-bit inputs no pair of products can saturate (|a·w + a'·w'| ≤ 2·127·128 < 2^15), so
// pair-wrap's result is the exact sum modulo 2^16; otherwise the counting reference computes
// it (slow, but no depthwise kernel accumulates in 16 bits, and an A8 depthwise layer is not
// what a 16-bit network is made of).
void Engine::depthwise_pair_wrap(std::size_t i, const std::uint8_t* x, int N, std::int32_t* sums) {
  const Layer& l = net_.layers[i];
  const std::size_t count = std::size_t(N) * l.Ho * l.Wo * l.C_out;
  if (u7_[i]) {
    for (std::size_t k = 0; k < count; ++k)
      sums[k] = std::int32_t(std::int16_t(std::uint16_t(std::uint32_t(sums[k]))));
    return;
  }
  const int M = N * l.Ho * l.Wo, K = l.K();
  im2col(l, x, N, columns_);
  for (int c = 0; c < l.C_out; ++c)
    int8::gemm_acc16_ref(int8::Acc16::pair_wrap, M, 1, K, columns_.data() + c * K, l.C_out * K,
                         l.weight.data() + c * K, K, sums + c, l.C_out, /*count=*/false);
}

void Engine::forward(const float* images, int N, std::vector<double>& logits, Trace* trace) {
  // Each layer reads the previous one's output in place (outputs_, kept for the shortcuts
  // too): no copy between layers, and no allocation once the buffers have grown.
  quantize_image(net_.input, images, N, net_.C, net_.H, net_.W, image_codes_, image_float_);
  const std::uint8_t* x = image_codes_.data();
  std::size_t x_size = image_codes_.size();
  const float* xf = image_float_.data();  // the float image, until a layer has run
  logits.assign(std::size_t(N) * net_.classes, 0.0);
  if (trace) trace->codes.assign(net_.layers.size(), {});
  outputs_.resize(net_.layers.size());
  for (std::size_t i = 0; i < net_.layers.size(); ++i) {
    const Layer& l = net_.layers[i];
    std::vector<std::uint8_t>& y = outputs_[i];
    switch (l.kind) {
      case Layer::Kind::conv: {
        const int from = l.shortcut.from;
        conv(i, x, from >= 0 ? outputs_.at(from).data() : nullptr, N, y, logits);
        break;
      }
      case Layer::Kind::maxpool:
        y.resize(std::size_t(N) * l.Ho * l.Wo * l.C_out);
        maxpool_codes(l, x, N, y.data());
        break;
      case Layer::Kind::floating: {
        if (i > 0 || net_.input.kind != ImageInput::Kind::floating) {
          // dequantise the codes (not the float image)
          float_in_.resize(x_size);
          for (std::size_t k = 0; k < x_size; ++k)
            float_in_[k] = float(l.input_scale * (double(x[k]) - l.input_zero_point));
          xf = float_in_.data();
        }
        float_out_.resize(std::size_t(N) * l.Ho * l.Wo * l.C_out);
        float_conv(l, xf, N, float_out_.data());
        if (l.logits) {
          std::copy(float_out_.begin(), float_out_.end(), logits.begin());
        } else {
          y.resize(float_out_.size());
          for (std::size_t k = 0; k < y.size(); ++k) y[k] = quantize_real(l.requant, float_out_[k]);
        }
        break;
      }
    }
    if (l.logits) break;
    if (trace) trace->codes[i] = y;
    x = y.data();
    x_size = y.size();
  }
}

}  // namespace qb::integer
