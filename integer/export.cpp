#include "integer/export.h"

#include "engine/check.h"
#include "engine/layers/batchnorm.h"
#include "engine/layers/conv2d.h"
#include "engine/layers/folded_conv_bn.h"
#include "engine/layers/linear.h"
#include "engine/layers/residual.h"
#include "methods/quantizer.h"

#include <cmath>
#include <limits>
#include <optional>

namespace qb::integer {
namespace {

// A grid of 8-bit codes stored as u8: real = scale · (code − zero_point).
struct CodeGrid {
  double scale = 1.0;
  double zero_point = 0.0;  // real: integral except for the image's `pixels` grid
  int pad_code = 0;
  int lo = 0, hi = 255;
};

bool is_pow2(double x) {
  int e;
  return x > 0 && std::frexp(x, &e) == 0.5;
}

// The input grid an activation quantizer defines. Signed grids are stored shifted by 128.
CodeGrid activation_grid(const std::string& layer, const Quantizer& q) {
  const Grid g = q.grid();
  if (g.scale.size() != 1)
    throw error("layer ", layer, ": its input grid has ", g.scale.size(),
                " scales; integer inference needs one per tensor");
  if (!g.zero_point.empty() && g.zero_point.at(0) != 0)
    throw error("layer ", layer, ": input grids with a zero point are not exported yet");
  if (g.bits > 8 || (g.is_signed && g.bits < 2))
    throw error("layer ", layer, ": a ", g.bits, "-bit ", g.is_signed ? "signed" : "unsigned",
                " input does not fit 8-bit codes");
  if (!(g.scale[0] > 0) || !std::isfinite(g.scale[0]))
    throw error("layer ", layer, ": input scale ", g.scale[0], " is not positive and finite");
  CodeGrid c;
  c.scale = g.scale[0];
  if (g.is_signed) {
    c.zero_point = c.pad_code = 128;
    c.lo = 128 - (1 << (g.bits - 1));
    c.hi = 127 + (1 << (g.bits - 1));
  } else {
    c.hi = (1 << g.bits) - 1;
  }
  return c;
}

struct WeightCodes {
  std::vector<std::int8_t> codes;  // the float layout [O][rest]
  std::vector<double> step;        // per output channel
  int bits = 8;
};

// The weight quantizer's evaluation output divided by its grid step, checked integral and s8.
WeightCodes weight_codes(const std::string& layer, Quantizer& q, const Tensor& w) {
  const Tensor fq = q.forward(w, /*training=*/false);  // a copy: the quantizer reuses its buffer
  const Grid g = q.grid();
  const std::size_t O = w.shape()[0], per = w.size() / O;
  WeightCodes out;
  out.bits = g.bits;
  if (g.scale.size() == 1)
    out.step.assign(O, g.scale[0]);
  else if (g.scale.size() == O && g.granularity == "channel")
    out.step.assign(g.scale.begin(), g.scale.end());
  else
    throw error("layer ", layer, ": weight grid of granularity '", g.granularity, "' (",
                g.scale.size(),
                " scales) varies along the dot product; an integer GEMM needs "
                "one scale per tensor or per output channel");
  // A grid whose levels sit midway between integer multiples of the step (DoReFa:
  // −1 + 2q/(2^k − 1)) is on integers at half the step.
  for (int halve : {1, 2}) {
    bool integral = true;
    out.codes.assign(w.size(), 0);
    for (std::size_t o = 0; o < O && integral; ++o) {
      const double step = out.step[o] / halve;
      for (std::size_t i = 0; i < per; ++i) {
        const double c = fq.data()[o * per + i] / step;
        const double r = std::nearbyint(c);
        if (!(std::abs(c - r) <= 1e-3 * std::max(1.0, std::abs(r)))) {
          integral = false;
          break;
        }
        if (r < -128 || r > 127)
          throw error("layer ", layer, ": weight code ", r, " does not fit s8 (", g.bits,
                      "-bit grid", halve == 2 ? " at half its step" : "", ")");
        out.codes[o * per + i] = std::int8_t(r);
      }
    }
    if (integral) {
      for (double& s : out.step) s /= halve;
      out.bits += halve - 1;
      return out;
    }
  }
  throw error("layer ", layer,
              ": its quantized weights are not on integer multiples of the "
              "grid's step ",
              out.step[0], " (nor of half of it)");
}

// Where a conv/linear layer's pieces live (FoldedConvBn wraps a Conv2d).
struct MatLayer {
  qb::Layer* layer = nullptr;
  Quantizer* weight_q = nullptr;
  Quantizer* input_q = nullptr;
  const Tensor* weight = nullptr;  // the tensor the weight hook sees
  std::vector<double> bias;        // real, per output channel
  bool folded = false;
};

MatLayer mat_layer(qb::Layer& l) {
  MatLayer m;
  m.layer = &l;
  m.weight_q = dynamic_cast<Quantizer*>(l.hook(HookSlot::weight));
  m.input_q = dynamic_cast<Quantizer*>(l.hook(HookSlot::input));
  if (l.hook(HookSlot::weight) && !m.weight_q)
    throw error("layer ", l.name(), ": its weight hook is not a quantizer");
  const std::size_t O = l.info().out_channels;
  m.bias.assign(O, 0.0);
  if (auto* c = dynamic_cast<Conv2d*>(&l)) {
    m.weight = &c->weight().value;
    if (Param* b = c->bias())
      for (std::size_t o = 0; o < O; ++o) m.bias[o] = b->value.data()[o];
  } else if (auto* li = dynamic_cast<Linear*>(&l)) {
    m.weight = &li->weight().value;
    if (Param* b = li->bias())
      for (std::size_t o = 0; o < O; ++o) m.bias[o] = b->value.data()[o];
  } else if (auto* f = dynamic_cast<FoldedConvBn*>(&l)) {
    // As FoldedConvBn's frozen forward: z = u + (β − γ·μ/σ), σ = √(running_var + ε), in float.
    m.weight = &f->folded_weight();
    m.folded = true;
    BatchNorm2d& bn = f->bn();
    for (std::size_t o = 0; o < O; ++o) {
      const float sigma = std::sqrt(bn.running_var().value.data()[o] + bn.eps());
      m.bias[o] = bn.beta().value.data()[o] -
                  bn.gamma().value.data()[o] * bn.running_mean().value.data()[o] / sigma;
    }
  }
  return m;
}

bool is_mat(const qb::Layer& l) {
  return l.info().kind == LayerKind::conv || l.info().kind == LayerKind::linear;
}

// The float network as one chain: a residual block becomes its begin, its main branch's
// layers, and its end (where the shortcut is added).
struct Item {
  enum class Role { layer, block_begin, block_end };
  qb::Layer* layer;
  Role role = Role::layer;
  bool is_mat() const { return role == Role::layer && integer::is_mat(*layer); }
};

void chain(Sequential& s, std::vector<Item>& out) {
  for (std::size_t i = 0; i < s.size(); ++i) {
    qb::Layer& l = s.at(i);
    if (auto* r = dynamic_cast<Residual*>(&l)) {
      out.push_back({r, Item::Role::block_begin});
      chain(r->main(), out);
      out.push_back({r, Item::Role::block_end});
    } else if (auto* q = dynamic_cast<Sequential*>(&l)) {
      chain(*q, out);
    } else {
      out.push_back({&l});
    }
  }
}

// [O][C][kh][kw] (or a linear's [O][C·h·w] flattened from (c, y, x)) → [O][kh][kw][C] (or
// [O][(y·w + x)·C + c]).
template <class T>
std::vector<T> to_nhwc(const std::vector<T>& w, std::size_t O, std::size_t C, std::size_t h,
                       std::size_t wd) {
  std::vector<T> out(w.size());
  const std::size_t per = C * h * wd;
  for (std::size_t o = 0; o < O; ++o)
    for (std::size_t c = 0; c < C; ++c)
      for (std::size_t y = 0; y < h; ++y)
        for (std::size_t x = 0; x < wd; ++x)
          out[o * per + (y * wd + x) * C + c] = w[o * per + (c * h + y) * wd + x];
  return out;
}

// Position p's Σ over its padded taps of w·(z − pad_code), per output channel ([Ho·Wo][C_out]),
// when the input's real zero point z is not the code padding holds (the `pixels` image): what
// makes the padded border mean real 0, as the float network's zero padding does. Empty when
// there is nothing to correct.
std::vector<double> border_correction(const Layer& l, double z) {
  const auto& g = l.geometry;
  const double d = z - l.pad_code;
  if (d == 0 || g.pad_top + g.pad_left + g.pad_bottom + g.pad_right == 0) return {};
  const int Cg = l.depthwise ? 1 : l.C_in;
  std::vector<double> out(std::size_t(l.Ho) * l.Wo * l.C_out, 0.0);
  for (int oy = 0; oy < l.Ho; ++oy)
    for (int ox = 0; ox < l.Wo; ++ox)
      for (int ky = 0; ky < g.kh; ++ky)
        for (int kx = 0; kx < g.kw; ++kx) {
          const int iy = oy * g.stride_h + ky - g.pad_top, ix = ox * g.stride_w + kx - g.pad_left;
          if (iy >= 0 && iy < l.H && ix >= 0 && ix < l.W) continue;
          for (int co = 0; co < l.C_out; ++co) {
            double w = 0;
            for (int k = 0; k < Cg; ++k)
              w += l.weight[((std::size_t(co) * g.kh + ky) * g.kw + kx) * Cg + k];
            out[(std::size_t(oy) * l.Wo + ox) * l.C_out + co] += w * d;
          }
        }
  return out;
}

// The requantisation's int64 bias: B = rint((b + border) · x_mult), per channel or, with a
// border correction, per output position (network.h); |B| < 2^bits or refused.
void fine_bias(Layer& l, const std::vector<double>& b_acc, const std::vector<double>& border,
               const std::vector<double>& x_mult, int bits) {
  Requant& r = l.requant;
  const std::size_t O = b_acc.size(), P = border.empty() ? 1 : border.size() / O;
  r.bias_ld = border.empty() ? 0 : std::int64_t(O);
  r.bias.resize(P * O);
  for (std::size_t p = 0; p < P; ++p)
    for (std::size_t o = 0; o < O; ++o) {
      const double b = b_acc[o] + (border.empty() ? 0.0 : border[p * O + o]);
      const double B = std::nearbyint(b * x_mult[o]);
      if (!(std::abs(B) < std::ldexp(1.0, bits)))
        throw error("layer ", l.name, ": channel ", o, "'s bias ", b,
                    " (accumulator units) times its multiplier ", x_mult[o], " is beyond 2^", bits);
      r.bias[p * O + o] = std::int64_t(B);
    }
}

class Exporter {
 public:
  Exporter(qb::Network& net, const ExportOptions& opts) : net_(net), opts_(opts) {}

  Network run();

 private:
  void image_input(const MatLayer& first);
  void export_mat(std::size_t& i, const std::vector<Item>& items);
  void add_shortcut(Layer& l, Residual& block);
  void wide_requant(Layer& l, const std::vector<double>& acc_scale, const CodeGrid& next, bool relu,
                    bool relu6);

  qb::Network& net_;
  const ExportOptions& opts_;
  Network out_;
  int H_ = 0, W_ = 0, C_ = 0;  // the current activation, NHWC
  bool flattened_ = false;     // the current activation went through Flatten
  CodeGrid in_;                // the current activation's grid
  // A residual block's input: the layer whose output it is, its shape and grid.
  struct BlockInput {
    Residual* block;
    int from, H, W, C;
    CodeGrid grid;
  };
  Residual* opening_ = nullptr;  // a block begins after the layer being exported
  std::optional<BlockInput> block_;
};

void Exporter::image_input(const MatLayer& first) {
  ImageInput& in = out_.input;
  if (first.input_q) {
    const CodeGrid g = activation_grid(first.layer->name(), *first.input_q);
    in.kind = ImageInput::Kind::grid;
    in.scale = g.scale;
    in.offset = int(g.zero_point);
    in.lo = g.lo - in.offset;
    in.hi = g.hi - in.offset;
    in_ = g;
  } else if (first.weight_q) {
    const auto& mu = opts_.image_mean;
    const auto& sd = opts_.image_stddev;
    if (mu.size() != 1 || sd.size() != 1)
      throw error("layer ", first.layer->name(), ": the image stays in float for this method and ",
                  mu.size(),
                  " channels normalised apart have no one 8-bit pixel grid (use "
                  "--first-last fp32)");
    in.kind = ImageInput::Kind::pixels;
    in.scale = 1.0 / (255.0 * sd[0]);
    in.zero_point = 255.0 * mu[0];
    in_.scale = in.scale;
    in_.zero_point = in.zero_point;
    in_.pad_code = int(std::nearbyint(in.zero_point));
  } else {
    in.kind = ImageInput::Kind::floating;
  }
}

Network Exporter::run() {
  const Shape& s = net_.input_shape();
  out_.name = net_.name();
  out_.method = opts_.method;
  out_.C = C_ = int(s[0]);
  out_.H = H_ = int(s[1]);
  out_.W = W_ = int(s[2]);
  out_.classes = int(net_.num_classes());
  // One evaluation forward sets every grid (minmax computes its scales there).
  Tensor zeros = Tensor::from_shape({1, s[0], s[1], s[2]});
  zeros.fill(0.0f);
  net_.forward(zeros, /*training=*/false);

  std::vector<Item> items;
  chain(net_.body(), items);
  if (items.empty()) throw error("network ", net_.name(), " has no layers");
  if (!items[0].is_mat())
    throw error("layer ", items[0].layer->name(), ": a ", to_string(items[0].layer->info().kind),
                " before the first conv/linear layer is not exported");
  std::size_t i = 0;
  image_input(mat_layer(*items[0].layer));
  while (i < items.size()) export_mat(i, items);
  QB_CHECK(!out_.layers.empty() && out_.layers.back().logits);
  return std::move(out_);
}

// items[i] is a conv/linear layer: export it and everything up to the next one.
void Exporter::export_mat(std::size_t& i, const std::vector<Item>& items) {
  MatLayer m = mat_layer(*items[i].layer);
  const LayerInfo& info = m.layer->info();
  const std::string& name = info.name;
  Layer l;
  l.name = name;
  const std::size_t O = info.out_channels;
  l.depthwise = info.groups != 1;
  if (l.depthwise && !(info.groups == info.in_channels && info.groups == O))
    throw error("layer ", name, ": grouped convolutions other than depthwise (", info.groups,
                " groups, ", info.in_channels, " → ", O, " channels) are not exported");
  if (info.kind == LayerKind::linear) {
    l.H = l.W = 1;
    l.C_in = H_ * W_ * C_;
    l.geometry = int8::ConvGeometry::square(1);
  } else {
    if (flattened_) throw error("layer ", name, ": a convolution after Flatten");
    l.H = H_, l.W = W_, l.C_in = C_;
    l.geometry =
        int8::ConvGeometry::square(int(info.kernel_h), int(info.stride), int(info.padding));
  }
  l.Ho = l.geometry.out_h(l.H);
  l.Wo = l.geometry.out_w(l.W);
  l.C_out = int(O);

  // Weights, in NHWC order.
  const bool spatial_flatten = info.kind == LayerKind::linear && flattened_;
  auto nhwc = [&](const auto& w) {
    if (info.kind == LayerKind::conv)
      return to_nhwc(w, O, l.depthwise ? 1 : C_, info.kernel_h, info.kernel_w);
    return spatial_flatten ? to_nhwc(w, O, C_, H_, W_) : w;
  };
  std::vector<double> acc_scale(O);  // s_x · s_w per output channel
  std::vector<double> wsum(O, 0.0);  // Σ w per output channel (codes)
  if (m.weight_q) {
    WeightCodes wc = weight_codes(name, *m.weight_q, *m.weight);
    l.weight = nhwc(wc.codes);
    l.weight_bits = wc.bits;
    const std::size_t per = l.weight.size() / O;
    for (std::size_t o = 0; o < O; ++o) {
      acc_scale[o] = in_.scale * wc.step[o];
      for (std::size_t k = 0; k < per; ++k) wsum[o] += l.weight[o * per + k];
    }
    l.pad_code = in_.pad_code;
  } else if (info.first || info.last) {
    l.kind = Layer::Kind::floating;
    l.float_weight = nhwc(std::vector<float>(m.weight->begin(), m.weight->end()));
    l.input_scale = in_.scale;
    l.input_zero_point = in_.zero_point;
    l.note = "fp32 layer: input dequantised, float conv, output quantised";
  } else {
    throw error("layer ", name, ": its weights are not quantized (wbits 32)");
  }
  if (m.folded) l.note = "BatchNorm folded into the weights as trained (FoldedConvBn)";

  // What follows, up to the next conv/linear.
  std::vector<double> bn_a(O, 1.0), bn_b(O, 0.0);
  bool relu = false, relu6 = false, bn = false;
  std::vector<Layer> pools;
  int H = l.Ho, W = l.Wo, C = l.C_out;
  ++i;
  for (; i < items.size() && !items[i].is_mat(); ++i) {
    qb::Layer& f = *items[i].layer;
    if (items[i].role == Item::Role::block_begin) {
      if (opening_ || block_) throw error("layer ", f.name(), ": nested residual blocks");
      if (i + 1 == items.size() || !items[i + 1].is_mat())
        throw error("layer ", f.name(), ": a residual block must begin with a conv");
      opening_ = &dynamic_cast<Residual&>(f);
      continue;
    }
    if (items[i].role == Item::Role::block_end) {
      if (!block_ || block_->block != &f)
        throw error("layer ", f.name(), ": a residual block whose input is not an exported layer");
      if (relu || relu6 || !pools.empty() || l.kind != Layer::Kind::conv)
        throw error("layer ", f.name(),
                    ": the main branch must end with an int8 conv (BatchNorm allowed), got an "
                    "activation, pooling or an fp32 layer before the add");
      add_shortcut(l, *block_->block);
      block_.reset();
      continue;
    }
    switch (f.info().kind) {
      case LayerKind::batchnorm: {
        if (bn || relu || !pools.empty() || flattened_ || m.folded || l.shortcut.from >= 0)
          throw error("layer ", f.name(), ": BatchNorm only directly after a convolution");
        auto& b = dynamic_cast<BatchNorm2d&>(f);
        bn = true;
        for (std::size_t o = 0; o < O; ++o) {
          const double sigma = std::sqrt(double(b.running_var().value.data()[o]) + b.eps());
          bn_a[o] = b.gamma().value.data()[o] / sigma;
          bn_b[o] = b.beta().value.data()[o] - bn_a[o] * b.running_mean().value.data()[o];
          if (bn_a[o] == 0.0)
            throw error("layer ", f.name(), ": channel ", o, " has γ = 0 (a constant output)");
        }
        break;
      }
      case LayerKind::relu:
        relu = true;
        break;
      case LayerKind::relu6:
        relu6 = true;
        break;
      case LayerKind::maxpool: {
        Layer p;
        p.kind = Layer::Kind::maxpool;
        p.name = f.name();
        p.H = H, p.W = W, p.C_in = p.C_out = C;
        p.geometry = int8::ConvGeometry::square(int(f.info().kernel_h), int(f.info().stride));
        p.Ho = H = p.geometry.out_h(H);
        p.Wo = W = p.geometry.out_w(W);
        pools.push_back(p);
        break;
      }
      case LayerKind::flatten:
        flattened_ = true;
        break;
      case LayerKind::global_avgpool:
        if (!pools.empty() || l.pooled || l.kind != Layer::Kind::conv)
          throw error("layer ", f.name(),
                      ": global average pooling only directly after an int8 conv "
                      "(and its BatchNorm, activation, residual add)");
        l.pooled = true;
        H = W = 1;
        break;
      default:
        throw error("layer ", f.name(), ": ", to_string(f.info().kind),
                    " is not exported (conv/linear, depthwise conv, BatchNorm, ReLU, ReLU6, "
                    "max and global average pooling, residual blocks and Flatten are)");
    }
  }
  const bool last = i == items.size();
  if (last && !pools.empty()) throw error("layer ", pools[0].name, ": pooling after the logits");
  if (last && (relu || relu6)) throw error("layer ", name, ": an activation after the logits");
  if (last && l.is_wide()) throw error("layer ", name, ": a residual add or pooling of the logits");
  if (last && (l.Ho != 1 || l.Wo != 1))
    throw error("layer ", name, ": the logits must be one value per class (a 1×1 output)");

  // The output grid: the next layer's input quantizer.
  CodeGrid next;
  if (!last) {
    MatLayer n = mat_layer(*items[i].layer);
    if (!n.input_q)
      throw error("layer ", n.layer->name(), ": its input is not quantized (abits 32)");
    next = activation_grid(n.layer->name(), *n.input_q);
  }
  Requant& r = l.requant;
  r.scale = next.scale;
  r.zero_point = int(next.zero_point);
  r.lo = next.lo;
  r.hi = next.hi;
  if (relu || relu6) r.lo = std::max(r.lo, r.zero_point);
  if (relu6) r.hi = std::min<double>(r.hi, r.zero_point + std::nearbyint(6.0 / next.scale));

  if (l.kind == Layer::Kind::floating) {
    const std::size_t per = l.float_weight.size() / O;
    l.float_bias.resize(O);
    for (std::size_t o = 0; o < O; ++o) {
      for (std::size_t k = 0; k < per; ++k) l.float_weight[o * per + k] *= float(bn_a[o]);
      l.float_bias[o] = float(bn_a[o] * m.bias[o] + bn_b[o]);
    }
    l.logits = last;
  } else {
    // BN folded into the requantisation: real = a·s_acc·(Σ q·w + b), b in accumulator units.
    const std::size_t per = l.weight.size() / O;
    std::vector<double> b_acc(O);
    for (std::size_t o = 0; o < O; ++o) {
      if (bn_a[o] < 0) {  // a negative γ/σ: negate the channel, keep the multiplier positive
        for (std::size_t k = 0; k < per; ++k) {
          if (l.weight[o * per + k] == -128)
            throw error("layer ", name, ": channel ", o,
                        " has γ < 0 and a weight code −128, "
                        "which cannot be negated in s8");
          l.weight[o * per + k] = std::int8_t(-l.weight[o * per + k]);
        }
        wsum[o] = -wsum[o];
        acc_scale[o] = -acc_scale[o];
      }
      acc_scale[o] *= bn_a[o];
      b_acc[o] = (bn_a[o] * m.bias[o] + bn_b[o]) / acc_scale[o] - in_.zero_point * wsum[o];
    }
    const std::vector<double> border = border_correction(l, in_.zero_point);
    std::vector<double> x_mult(O);  // the integer multiplier of x: 2^30, m0 or m_acc
    int bias_bits = 61;             // |B| < 2^bias_bits
    if (last) {
      l.logits = true;
      l.logit_scale = acc_scale;
      l.logit_bias = b_acc;  // a 1×1 output: its one position's border correction
      for (std::size_t o = 0; o < O && !border.empty(); ++o) l.logit_bias[o] += border[o];
    } else if (l.is_wide()) {
      wide_requant(l, acc_scale, next, relu, relu6);
      for (std::size_t o = 0; o < O; ++o) x_mult[o] = double(l.wide.m_acc[o]);
      bias_bits -= int(std::ceil(std::log2(double(l.Ho) * l.Wo)));  // P of them are summed
    } else {
      bool pow2 = is_pow2(next.scale);
      for (double s : acc_scale) pow2 = pow2 && is_pow2(s) && s == acc_scale[0];
      const double ratio = next.scale / acc_scale[0];
      if (pow2 && ratio >= 1.0) {
        r.shift = std::ilogb(ratio);
        if (r.shift > 32)
          throw error("layer ", name, ": requantisation shift ", r.shift, " is beyond 32");
        x_mult.assign(O, std::ldexp(1.0, 30));
      } else {
        for (std::size_t o = 0; o < O; ++o) {
          const double s = acc_scale[o] / next.scale;
          if (!(s < 2147483648.0))
            throw error("layer ", name, ": requantisation scale ", s, " is 2^31 or more");
          r.multiplier.push_back(int8::quantize_multiplier(s));
          if (31 - r.multiplier.back().e > 62)
            throw error("layer ", name, ": requantisation scale ", s, " is below 2^−32");
          x_mult[o] = double(r.multiplier.back().m0);
        }
      }
    }
    if (!last) fine_bias(l, b_acc, border, x_mult, bias_bits);
    if (bn)
      l.note = "BatchNorm folded into the requantisation (per-channel multiplier, bias)" +
               (l.note.empty() ? "" : "; " + l.note);
  }
  if (relu || relu6)
    l.note += std::string(l.note.empty() ? "" : "; ") + (relu6 ? "ReLU6" : "ReLU") +
              " as the requantisation clamp";
  out_.layers.push_back(std::move(l));
  for (Layer& p : pools) out_.layers.push_back(std::move(p));
  H_ = H, W_ = W, C_ = C;
  in_ = next;
  if (opening_) {
    block_ = BlockInput{opening_, int(out_.layers.size()) - 1, H, W, C, next};
    opening_ = nullptr;
  }
}

// The shortcut of `block` added to conv l's output: the identity or ShortcutPad (option A).
void Exporter::add_shortcut(Layer& l, Residual& block) {
  Shortcut& s = l.shortcut;
  s.from = block_->from;
  s.H = block_->H, s.W = block_->W, s.C = block_->C;
  s.zero_point = int(block_->grid.zero_point);
  s.scale = block_->grid.scale;
  if (qb::Layer* pad = block.shortcut()) {
    if (pad->info().kind != LayerKind::shortcut)
      throw error("layer ", pad->name(), ": a ", to_string(pad->info().kind),
                  " shortcut is not exported (the identity and option A are)");
    s.stride = int(pad->info().stride);
    s.channel_offset = int(pad->info().out_channels - pad->info().in_channels) / 2;
  }
  const int Ho = (s.H + s.stride - 1) / s.stride, Wo = (s.W + s.stride - 1) / s.stride;
  if (Ho != l.Ho || Wo != l.Wo || s.channel_offset + s.C > l.C_out)
    throw error("layer ", block.name(), ": shortcut [", Ho, "×", Wo, "×", s.C, "] does not fit ",
                l.name, "'s output [", l.Ho, "×", l.Wo, "×", l.C_out, "]");
  l.note += std::string(l.note.empty() ? "" : "; ") + "adds the shortcut of " + block.name() +
            " at a common scale, one rounding";
}

// Multipliers of the exact sum a_c·(x + bias) + s_sc·(s − z_sc) onto the output grid, 1/P
// folded in when P pixels are pooled (network.h, Wide). Per channel the larger of the two
// ratios gets a Q(31 − ⌈log2 P⌉) mantissa, the other the same exponent.
void Exporter::wide_requant(Layer& l, const std::vector<double>& acc_scale, const CodeGrid& next,
                            bool relu, bool relu6) {
  const double P = l.pooled ? double(l.Ho) * l.Wo : 1.0;
  const int extra = int(std::ceil(std::log2(P)));
  const double unit = next.scale * P;  // of v_p · 2^−shift
  const double r_sc = l.shortcut.from >= 0 ? l.shortcut.scale / unit : 0.0;
  Wide& w = l.wide;
  for (std::size_t o = 0; o < acc_scale.size(); ++o) {
    const double r_acc = acc_scale[o] / unit;
    int e;
    std::frexp(std::max(r_acc, r_sc), &e);
    const int shift = std::min(62, 31 - e - extra);
    if (shift < 0)
      throw error("layer ", l.name, ": requantisation scale ", std::max(r_acc, r_sc),
                  " is too large for a Q31 multiplier");
    w.shift.push_back(shift);
    w.m_acc.push_back(std::llrint(std::ldexp(r_acc, shift)));
    w.m_sc.push_back(std::llrint(std::ldexp(r_sc, shift)));
    w.v_lo.push_back(relu || relu6 ? 0 : std::numeric_limits<std::int64_t>::min());
    w.v_hi.push_back(relu6 ? std::llrint(std::ldexp(6.0 / unit, shift))
                           : std::numeric_limits<std::int64_t>::max());
  }
  if (l.pooled)
    l.note += std::string(l.note.empty() ? "" : "; ") + "global average pooling: exact sum, 1/" +
              std::to_string(int(P)) + " folded into the requantisation";
}

}  // namespace

Network export_network(qb::Network& net, const ExportOptions& opts) {
  return Exporter(net, opts).run();
}

}  // namespace qb::integer
