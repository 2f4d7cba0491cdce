#include "engine/layers/residual.h"

#include "engine/check.h"
#include "engine/layers/hooks.h"

#include <algorithm>

namespace qb {

Residual::Residual(std::string name, std::unique_ptr<Sequential> main, LayerPtr shortcut)
    : Layer(LayerInfo{}), main_(std::move(main)), shortcut_(std::move(shortcut)) {
  info_.name = std::move(name);
  info_.kind = LayerKind::residual;
  QB_CHECK_GT(main_->size(), 0u);
  if (main_->at(0).has_hooks()) main_->at(0).mutable_info().block_applies_input_hook = true;
}

TensorHook* Residual::input_hook() {
  Layer& first = main_->at(0);
  return first.info().block_applies_input_hook ? first.hook(HookSlot::input) : nullptr;
}

Shape Residual::output_shape(const Shape& in) const {
  const Shape a = main_->output_shape(in);
  const Shape b = shortcut_ ? shortcut_->output_shape(in) : in;
  if (a != b)
    throw error(name(), ": branch shapes differ: main ", to_string(a), ", shortcut ", to_string(b));
  return a;
}

const Tensor& Residual::forward(const Tensor& x_in, bool training) {
  add_branches(x_in, training, Clip::none(), y_);
  return y_;
}

const Tensor* Residual::forward_activated(const Tensor& x_in, bool training, Clip act,
                                          Tensor& out) {
  add_branches(x_in, training, act, out);
  return &out;
}

void Residual::add_branches(const Tensor& x_in, bool training, Clip act, Tensor& y) {
  const Tensor& x = hook_forward(input_hook(), x_in, training);
  const Tensor& a = main_->forward(x, training);
  const Tensor& b = shortcut_ ? shortcut_->forward(x, training) : x;
  QB_CHECK(a.shape() == b.shape());
  ensure_shape(y, shape_of(a));
  const float* ap = a.data();
  const float* bp = b.data();
  float* yp = y.data();
  const std::size_t n = a.size();
#pragma omp parallel for simd schedule(static)
  for (std::size_t i = 0; i < n; ++i) yp[i] = act(ap[i] + bp[i]);
}

const Tensor& Residual::backward(const Tensor& dy) {
  const Tensor& da = main_->backward(dy);
  const Tensor& db = shortcut_ ? shortcut_->backward(dy) : dy;
  QB_CHECK(da.shape() == db.shape());
  ensure_shape(dx_, shape_of(da));
  const float* ap = da.data();
  const float* bp = db.data();
  float* dp = dx_.data();
  const std::size_t n = da.size();
#pragma omp parallel for simd schedule(static)
  for (std::size_t i = 0; i < n; ++i) dp[i] = ap[i] + bp[i];
  return hook_backward(input_hook(), dx_);
}

void Residual::collect_params(std::vector<Param*>& out) {
  main_->collect_params(out);
  if (shortcut_) shortcut_->collect_params(out);
}

void Residual::collect_buffers(std::vector<Buffer*>& out) {
  main_->collect_buffers(out);
  if (shortcut_) shortcut_->collect_buffers(out);
}

void Residual::visit(const std::function<void(Layer&)>& f) {
  f(*this);
  main_->visit(f);
  if (shortcut_) shortcut_->visit(f);
}

ShortcutPad::ShortcutPad(std::string name, std::size_t in_channels, std::size_t out_channels,
                         std::size_t stride)
    : Layer(LayerInfo{}), cin_(in_channels), cout_(out_channels), stride_(stride) {
  QB_CHECK_GE(out_channels, in_channels);
  info_.name = std::move(name);
  info_.kind = LayerKind::shortcut;
  info_.in_channels = in_channels;
  info_.out_channels = out_channels;
  info_.stride = stride;
}

Shape ShortcutPad::output_shape(const Shape& in) const {
  if (in.size() != 4 || in[1] != cin_)
    throw error(name(), ": expected input [N, ", cin_, ", H, W], got ", to_string(in));
  return {in[0], cout_, (in[2] + stride_ - 1) / stride_, (in[3] + stride_ - 1) / stride_};
}

const Tensor& ShortcutPad::forward(const Tensor& x, bool) {
  xs_ = shape_of(x);
  const Shape ys = output_shape(xs_);
  zeros_like_shape(y_, ys);
  const std::size_t N = ys[0], H = xs_[2], W = xs_[3], Ho = ys[2], Wo = ys[3];
  const std::size_t before = (cout_ - cin_) / 2;
  const float* xp = x.data();
  float* yp = y_.data();
#pragma omp parallel for schedule(static) collapse(2)
  for (std::size_t n = 0; n < N; ++n)
    for (std::size_t c = 0; c < cin_; ++c)
      for (std::size_t oh = 0; oh < Ho; ++oh)
        for (std::size_t ow = 0; ow < Wo; ++ow)
          yp[((n * cout_ + c + before) * Ho + oh) * Wo + ow] =
              xp[((n * cin_ + c) * H + oh * stride_) * W + ow * stride_];
  return y_;
}

const Tensor& ShortcutPad::backward(const Tensor& dy) {
  QB_CHECK(dy.size() == y_.size());
  zeros_like_shape(dx_, xs_);
  const std::size_t N = xs_[0], H = xs_[2], W = xs_[3], Ho = y_.shape()[2], Wo = y_.shape()[3];
  const std::size_t before = (cout_ - cin_) / 2;
  const float* d = dy.data();
  float* dxp = dx_.data();
#pragma omp parallel for schedule(static) collapse(2)
  for (std::size_t n = 0; n < N; ++n)
    for (std::size_t c = 0; c < cin_; ++c)
      for (std::size_t oh = 0; oh < Ho; ++oh)
        for (std::size_t ow = 0; ow < Wo; ++ow)
          dxp[((n * cin_ + c) * H + oh * stride_) * W + ow * stride_] =
              d[((n * cout_ + c + before) * Ho + oh) * Wo + ow];
  return dx_;
}

}  // namespace qb
