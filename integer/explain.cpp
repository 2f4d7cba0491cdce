#include "integer/explain.h"

#include "engine/check.h"

#include <cmath>

namespace qb::integer {

RecordingQuantizer::RecordingQuantizer(std::shared_ptr<Quantizer> q)
    : Quantizer(q->spec()), q_(std::move(q)) {}

const Tensor& RecordingQuantizer::forward(const Tensor& x, bool training) {
  input_ = x;
  output_ = &q_->forward(x, training);
  return *output_;
}

InputQuantizerWrap Recorders::wrap() {
  return [this](std::shared_ptr<Quantizer> q) -> std::shared_ptr<Quantizer> {
    QB_CHECK(q->spec().layer.has_value());
    auto r = std::make_shared<RecordingQuantizer>(std::move(q));
    by_layer_[r->spec().layer->name] = r.get();
    return r;
  };
}

const RecordingQuantizer* Recorders::at(const std::string& layer) const {
  const auto it = by_layer_.find(layer);
  return it == by_layer_.end() ? nullptr : it->second;
}

namespace {

// The requantisation's value before its rounding, in output-code units (zero point added),
// exact as a rational: numerator / 2^shift. `bound`: its error against real arithmetic on the
// exported scales, in the same units.
struct Unrounded {
  long double value = 0;
  bool tie = false;
  long double bound = 0;
};

Unrounded unrounded(std::int64_t numerator, int shift, int zero_point, long double magnitude) {
  const long double unit = std::ldexp(1.0L, -shift);
  Unrounded u;
  u.value = numerator * unit + zero_point;
  u.tie = shift > 0 && (std::uint64_t(numerator) & ((std::uint64_t(1) << shift) - 1)) ==
                           (std::uint64_t(1) << (shift - 1));
  // Q31 mantissas: relative error ≤ 2^−31 of each product; the bias: ≤ ½ of the unit.
  u.bound = magnitude * unit * std::ldexp(1.0L, -31) + unit / 2;
  return u;
}

// The exact int32 sum of output (k, oy, ox, c) of a non-depthwise conv from its input codes.
std::int64_t dot(const Layer& l, const std::uint8_t* x, int k, int oy, int ox, int c) {
  const auto& g = l.geometry;
  std::int64_t sum = 0;
  for (int ky = 0; ky < g.kh; ++ky)
    for (int kx = 0; kx < g.kw; ++kx) {
      const int iy = oy * g.stride_h + ky - g.pad_top, ix = ox * g.stride_w + kx - g.pad_left;
      const bool inside = iy >= 0 && iy < l.H && ix >= 0 && ix < l.W;
      const std::uint8_t* px = x + ((std::size_t(k) * l.H + iy) * l.W + ix) * l.C_in;
      const std::int8_t* w = l.weight.data() + ((std::size_t(c) * g.kh + ky) * g.kw + kx) * l.C_in;
      for (int ci = 0; ci < l.C_in; ++ci) sum += std::int64_t(inside ? px[ci] : l.pad_code) * w[ci];
    }
  return sum;
}

// v_p of a Wide layer (network.h) at (k, oy, ox, c), and its magnitude for the error bound.
std::int64_t wide_v(const Layer& l, const Trace& trace, const std::uint8_t* x, int k, int oy,
                    int ox, int c, long double& magnitude) {
  const std::int64_t acc = dot(l, x, k, oy, ox, c) * l.wide.m_acc[c];
  std::int64_t sc = 0;
  const Shortcut& s = l.shortcut;
  const int cs = c - s.channel_offset;
  if (s.from >= 0 && cs >= 0 && cs < s.C) {
    const std::uint8_t* src = trace.codes[s.from].data();
    const int code = src[((std::size_t(k) * s.H + oy * s.stride) * s.W + ox * s.stride) * s.C + cs];
    sc = (code - s.zero_point) * l.wide.m_sc[c];
  }
  magnitude += std::fabs(static_cast<long double>(acc)) + std::fabs(static_cast<long double>(sc));
  return acc + l.requant.bias_at(std::size_t(oy) * l.Wo + ox, c) + sc;
}

Unrounded integer_value(const Layer& l, const Trace& trace, const std::uint8_t* x, int k, int oy,
                        int ox, int c) {
  const Requant& r = l.requant;
  long double magnitude = 0;
  if (l.pooled) {
    std::int64_t sum = 0;
    for (int py = 0; py < l.Ho; ++py)
      for (int px = 0; px < l.Wo; ++px)
        sum += std::clamp(wide_v(l, trace, x, k, py, px, c, magnitude), l.wide.v_lo[c],
                          l.wide.v_hi[c]);
    return unrounded(sum, l.wide.shift[c], r.zero_point, magnitude);
  }
  if (l.is_wide())
    return unrounded(wide_v(l, trace, x, k, oy, ox, c, magnitude), l.wide.shift[c], r.zero_point,
                     magnitude);
  const std::int64_t sum = dot(l, x, k, oy, ox, c);
  const std::int64_t B = r.bias_at(std::size_t(oy) * l.Wo + ox, c);
  if (r.shift >= 0)  // powers of two: exact multipliers
    return unrounded(sum * (std::int64_t(1) << 30) + B, r.shift + 30, r.zero_point, 0);
  const int8::Multiplier& m = r.multiplier[c];
  return unrounded(sum * m.m0 + B, 31 - m.e, r.zero_point,
                   std::fabs(static_cast<long double>(sum * m.m0)));
}

}  // namespace

nlohmann::json explain_image(const Network& net, const Recorders& rec, const Trace& trace,
                             const std::vector<std::uint8_t>& image_codes, int k) {
  for (std::size_t i = 0; i + 1 < net.layers.size(); ++i) {
    const Layer& l = net.layers[i];
    const Layer& next = net.layers[i + 1];
    if (l.kind != Layer::Kind::conv || l.logits) continue;
    const RecordingQuantizer* q = rec.at(next.name);
    if (next.kind == Layer::Kind::maxpool || !q)
      return {{"layer", l.name}, {"note", "not traced: no input quantizer follows this layer"}};
    const Requant& r = l.requant;
    const float* fq_in = q->input().data() + std::size_t(k) * l.out_size();
    const float* fq_out = q->output().data() + std::size_t(k) * l.out_size();
    const std::uint8_t* codes = trace.codes[i].data() + std::size_t(k) * l.out_size();
    const int H = l.pooled ? 1 : l.Ho, W = l.pooled ? 1 : l.Wo, C = l.C_out;
    nlohmann::json first;
    int differ = 0;
    for (int c = 0; c < C; ++c)
      for (int y = 0; y < H; ++y)
        for (int x = 0; x < W; ++x) {
          const std::size_t nchw = (std::size_t(c) * H + y) * W + x;
          const int fq_code = int(std::nearbyint(fq_out[nchw] / r.scale)) + r.zero_point;
          const int int_code = codes[(std::size_t(y) * W + x) * C + c];
          if (fq_code == int_code) continue;
          if (differ++) continue;
          first = {{"channel", c},
                   {"y", y},
                   {"x", x},
                   {"fake_quant_code", fq_code},
                   {"integer_code", int_code}};
          if (l.depthwise) {  // dot() sums dense windows only
            first["note"] = "a depthwise conv: values before rounding not computed";
            continue;
          }
          const std::uint8_t* in = i == 0 ? image_codes.data() : trace.codes[i - 1].data();
          const Unrounded u = integer_value(l, trace, in, k, y, x, c);
          const long double fq_value = fq_in[nchw] / r.scale + r.zero_point;
          const long double boundary = std::floor(u.value) + 0.5L;
          first.update({{"fake_quant_value", double(fq_value)},
                        {"fake_quant_input", fq_in[nchw]},  // x itself, float32
                        {"scale", r.scale},
                        // what minmax's rint(x / s) sees: the quotient rounded to float32
                        {"fake_quant_quotient", fq_in[nchw] / float(r.scale) + r.zero_point},
                        {"integer_value", double(u.value)},
                        {"difference", double(fq_value - u.value)},
                        {"integer_distance_to_boundary", double(std::fabs(u.value - boundary))},
                        {"integer_error_bound", double(u.bound)},
                        {"tie", u.tie}});
        }
    if (differ) return {{"layer", l.name}, {"codes_differ", differ}, {"first", first}};
  }
  return {{"note", "every traced code agrees: the logits differ after the last requantisation"}};
}

}  // namespace qb::integer
