#include "methods/dorefa.h"

#include "engine/check.h"
#include "methods/method.h"

#include <algorithm>
#include <cmath>

namespace qb {

DorefaWeightQuantizer::DorefaWeightQuantizer(QuantizerSpec spec, bool keep_scale)
    : Quantizer(std::move(spec)), keep_scale_(keep_scale) {}

const Tensor& DorefaWeightQuantizer::forward(const Tensor& w, bool) {
  const std::size_t n = w.size();
  ensure_shape(t_, shape_of(w));
  ensure_shape(y_, shape_of(w));
  const float* wp = w.data();
  float* t = t_.data();
  max_abs_t_ = 0.0f;
  argmax_ = 0;
  for (std::size_t i = 0; i < n; ++i) {
    t[i] = std::tanh(wp[i]);
    if (std::abs(t[i]) > max_abs_t_) {
      max_abs_t_ = std::abs(t[i]);
      argmax_ = i;
    }
  }
  const float levels = float((1ull << spec_.bits) - 1);
  // M = 0 (an all-zero tensor): every u is ½.
  const float inv_2m = max_abs_t_ > 0.0f ? 0.5f / max_abs_t_ : 0.0f;
  float* y = y_.data();
  for (std::size_t i = 0; i < n; ++i) {
    const float u = t[i] * inv_2m + 0.5f;
    y[i] = 2.0f * std::rint(levels * u) / levels - 1.0f;
  }
  if (keep_scale_)
    for (std::size_t i = 0; i < n; ++i) y[i] *= max_abs_t_;
  return y_;
}

const Tensor& DorefaWeightQuantizer::backward(const Tensor& dy) {
  QB_CHECK(dy.size() == t_.size());
  const std::size_t n = dy.size();
  ensure_shape(dx_, shape_of(dy));
  const float* g = dy.data();
  const float* t = t_.data();
  float* dx = dx_.data();
  if (keep_scale_) {
    for (std::size_t i = 0; i < n; ++i) dx[i] = g[i] * (1.0f - t[i] * t[i]);
    return dx_;
  }
  if (max_abs_t_ == 0.0f) {
    std::fill(dx, dx + n, 0.0f);
    return dx_;
  }
  const float M = max_abs_t_;
  double s = 0.0;
  for (std::size_t i = 0; i < n; ++i) s += double(g[i]) * t[i];
  for (std::size_t i = 0; i < n; ++i) dx[i] = g[i] / M;
  dx[argmax_] -= float((t[argmax_] > 0 ? 1.0 : -1.0) * s / (double(M) * M));
  for (std::size_t i = 0; i < n; ++i) dx[i] *= 1.0f - t[i] * t[i];
  return dx_;
}

Grid DorefaWeightQuantizer::grid() const {
  // Levels −1 + scale·q for q in 0 .. 2^k − 1 (times M with keep_scale).
  Grid g{spec_.bits, true};
  g.scale = {(keep_scale_ ? 2.0f * max_abs_t_ : 2.0f) / float((1ull << spec_.bits) - 1)};
  return g;
}

DorefaActivationQuantizer::DorefaActivationQuantizer(QuantizerSpec spec)
    : Quantizer(std::move(spec)) {}

const Tensor& DorefaActivationQuantizer::forward(const Tensor& x, bool) {
  x_ = &x;
  ensure_shape(y_, shape_of(x));
  const float levels = float((1ull << spec_.bits) - 1);
  const float* xp = x.data();
  float* y = y_.data();
  for (std::size_t i = 0; i < x.size(); ++i)
    y[i] = std::rint(levels * std::clamp(xp[i], 0.0f, 1.0f)) / levels;
  return y_;
}

const Tensor& DorefaActivationQuantizer::backward(const Tensor& dy) {
  QB_CHECK(x_ && dy.size() == x_->size());
  ensure_shape(dx_, shape_of(dy));
  const float* x = x_->data();
  const float* d = dy.data();
  float* o = dx_.data();
  for (std::size_t i = 0; i < dy.size(); ++i) o[i] = (x[i] >= 0.0f && x[i] <= 1.0f) ? d[i] : 0.0f;
  return dx_;
}

Grid DorefaActivationQuantizer::grid() const {
  Grid g{spec_.bits, false};
  g.scale = {1.0f / float((1ull << spec_.bits) - 1)};
  return g;
}

namespace {

class DorefaMethod final : public Method {
 public:
  const MethodInfo& info() const override {
    static const MethodInfo mi{
        "dorefa",
        "Zhou et al. 2016, DoReFa-Net (arXiv:1606.06160)",
        "tanh-normalised k-bit weights, activations clipped to [0,1]; straight-through rounding",
        {QuantRole::weight, QuantRole::activation},
        1,
        16,
        {}};
    return mi;
  }
  std::unique_ptr<Quantizer> make_quantizer(const QuantizerSpec& spec) const override {
    if (spec.role == QuantRole::weight) return std::make_unique<DorefaWeightQuantizer>(spec);
    return std::make_unique<DorefaActivationQuantizer>(spec);
  }
};

}  // namespace

std::unique_ptr<Method> make_dorefa_method() { return std::make_unique<DorefaMethod>(); }

}  // namespace qb
