#include "engine/layers/folded_conv_bn.h"

#include "engine/check.h"
#include "engine/layers/hooks.h"
#include "engine/reduce.h"

#include <cmath>

namespace qb {
namespace {

// Per channel o of an [N, O, H, W] tensor: Σ f(n, o, i) over n and the H·W positions i, the
// rows summed in float SIMD and accumulated in double (as BatchNorm2d does).
template <class RowSum>
double channel_sum(std::size_t N, std::size_t O, std::size_t HW, std::size_t o, RowSum row) {
  double s = 0.0;
  for (std::size_t n = 0; n < N; ++n) s += double(row((n * O + o) * HW, HW));
  return s;
}

}  // namespace

FoldedConvBn::FoldedConvBn(std::unique_ptr<Conv2d> conv, std::unique_ptr<BatchNorm2d> bn)
    : Layer(conv->info()), conv_(std::move(conv)), bn_(std::move(bn)) {
  if (conv_->bias())
    throw error(name(), ": folding BatchNorm into a convolution with a bias is not supported");
  QB_CHECK_EQ(bn_->info().in_channels, conv_->info().out_channels);
}

void FoldedConvBn::collect_params(std::vector<Param*>& out) {
  conv_->collect_params(out);  // the weight, then the hooks' parameters
  bn_->collect_params(out);
}

void FoldedConvBn::collect_buffers(std::vector<Buffer*>& out) { bn_->collect_buffers(out); }

void FoldedConvBn::set_hook(HookSlot slot, std::shared_ptr<TensorHook> hook) {
  conv_->set_hook(slot, std::move(hook));
}

const Tensor& FoldedConvBn::forward(const Tensor& x_in, bool training) {
  const Shape xs = shape_of(x_in);
  const Shape ys = output_shape(xs);
  const std::size_t N = ys[0], O = ys[1], HW = ys[2] * ys[3];
  const float eps = bn_->eps();
  const float* g = bn_->gamma().value.data();
  const float* b = bn_->beta().value.data();
  float* rm = bn_->running_mean().value.data();
  float* rv = bn_->running_var().value.data();

  x_ = &hook_forward(own_input_hook(), x_in, training);
  batch_stats_ = training && !frozen_;
  sigma_.resize(O);
  mean_b_.resize(O);
  sigma_b_.resize(O);
  for (std::size_t o = 0; o < O; ++o) sigma_[o] = std::sqrt(rv[o] + eps);

  if (batch_stats_) {
    // The unquantized convolution gives this batch's statistics.
    conv_->convolve(*x_, conv_->weight().value, y0_);
    const float* y0 = y0_.data();
    const double m = double(N * HW);
    const float momentum = bn_->momentum();
#pragma omp parallel for schedule(static)
    for (std::size_t o = 0; o < O; ++o) {
      const double mu =
          channel_sum(N, O, HW, o,
                      [&](std::size_t off, std::size_t n) { return sum(y0 + off, n); }) /
          m;
      const float mean = float(mu);
      const double ss = channel_sum(N, O, HW, o, [&](std::size_t off, std::size_t n) {
        return sum_sq_dev(y0 + off, n, mean);
      });
      const float var = float(ss / m);
      const float unbiased = m > 1 ? float(ss / (m - 1)) : var;
      mean_b_[o] = mean;
      sigma_b_[o] = std::sqrt(var + eps);
      rm[o] = (1.0f - momentum) * rm[o] + momentum * mean;
      rv[o] = (1.0f - momentum) * rv[o] + momentum * unbiased;
    }
  } else {
    for (std::size_t o = 0; o < O; ++o) {
      mean_b_[o] = rm[o];
      sigma_b_[o] = sigma_[o];
    }
  }

  // W_fold = W·γ/σ, then the weight hook (the quantizer) sees the folded weight.
  const Tensor& w = conv_->weight().value;
  ensure_shape(w_fold_, shape_of(w));
  const std::size_t per_o = w.size() / O;
  for (std::size_t o = 0; o < O; ++o) {
    const float k = g[o] / sigma_[o];
    for (std::size_t i = 0; i < per_o; ++i)
      w_fold_.data()[o * per_o + i] = w.data()[o * per_o + i] * k;
  }
  w_ = &hook_forward(conv_->hook(HookSlot::weight), w_fold_, training);
  conv_->convolve(*x_, *w_, u_);

  ensure_shape(z_, ys);
  const float* u = u_.data();
  float* z = z_.data();
#pragma omp parallel for schedule(static) collapse(2)
  for (std::size_t n = 0; n < N; ++n)
    for (std::size_t o = 0; o < O; ++o) {
      const float c = sigma_[o] / sigma_b_[o];
      const float shift = b[o] - g[o] * mean_b_[o] / sigma_b_[o];
      const std::size_t off = (n * O + o) * HW;
      for (std::size_t i = 0; i < HW; ++i) z[off + i] = c * u[off + i] + shift;
    }
  return z_;
}

const Tensor& FoldedConvBn::backward(const Tensor& dz_in) {
  QB_CHECK(x_ != nullptr && w_ != nullptr);
  const Tensor& dz = hook_forward(conv_->hook(HookSlot::grad), dz_in, true);
  const Shape ys = shape_of(u_);
  QB_CHECK(shape_of(dz) == ys);
  const std::size_t N = ys[0], O = ys[1], HW = ys[2] * ys[3];
  const double m = double(N * HW);
  const float* g = bn_->gamma().value.data();
  float* dg = bn_->gamma().grad.data();
  float* db = bn_->beta().grad.data();
  const float* d = dz.data();
  const float* u = u_.data();

  // Per channel: dc = Σ dz·u, dshift = Σ dz; then du = c·dz.
  std::vector<float> dc(O), dshift(O);
#pragma omp parallel for schedule(static)
  for (std::size_t o = 0; o < O; ++o) {
    dc[o] = float(channel_sum(
        N, O, HW, o, [&](std::size_t off, std::size_t n) { return dot(d + off, u + off, n); }));
    dshift[o] = float(
        channel_sum(N, O, HW, o, [&](std::size_t off, std::size_t n) { return sum(d + off, n); }));
  }
  Tensor& du = du_;
  ensure_shape(du, ys);
#pragma omp parallel for schedule(static) collapse(2)
  for (std::size_t n = 0; n < N; ++n)
    for (std::size_t o = 0; o < O; ++o) {
      const float c = sigma_[o] / sigma_b_[o];
      const std::size_t off = (n * O + o) * HW;
      for (std::size_t i = 0; i < HW; ++i) du.data()[off + i] = c * d[off + i];
    }

  // The quantized convolution: dx̂ and dL/dŴ, then the weight hook maps dŴ to dW_fold.
  const bool need_dx = !info_.first || conv_->hook(HookSlot::input);
  zeros_like_shape(dw_hat_, shape_of(*w_));
  conv_->convolve_backward(du, *x_, *w_, need_dx ? &dx_ : nullptr, dw_hat_);
  const Tensor& dw_fold = hook_backward(conv_->hook(HookSlot::weight), dw_hat_);

  // W_fold = W·γ/σ: dW += dW_fold·γ/σ, dγ += Σ dW_fold·W/σ.
  const Tensor& w = conv_->weight().value;
  float* dw = conv_->weight().grad.data();
  const std::size_t per_o = w.size() / O;
  for (std::size_t o = 0; o < O; ++o) {
    const float* gw = dw_fold.data() + o * per_o;
    const float* wo = w.data() + o * per_o;
    const float k = g[o] / sigma_[o];
    for (std::size_t i = 0; i < per_o; ++i) dw[o * per_o + i] += gw[i] * k;
    dg[o] += dot(gw, wo, per_o) / sigma_[o];
  }

  // shift = β − γ·μ_B/σ_B.
  for (std::size_t o = 0; o < O; ++o) {
    db[o] += dshift[o];
    dg[o] += -dshift[o] * mean_b_[o] / sigma_b_[o];
  }

  if (batch_stats_) {
    // Through the batch statistics of y₀ = x̂ ⊛ W:
    //   dμ_B = −dshift·γ/σ_B,  dσ_B = −dc·σ/σ_B² + dshift·γ·μ_B/σ_B²,  dvar = dσ_B/(2σ_B),
    //   dy₀ = dμ_B/m + dvar·2(y₀ − μ_B)/m.
    const float* y0 = y0_.data();
    ensure_shape(dy0_, ys);
    float* dy0 = dy0_.data();
#pragma omp parallel for schedule(static)
    for (std::size_t o = 0; o < O; ++o) {
      const float sb = sigma_b_[o], mu = mean_b_[o];
      const float dmu = -dshift[o] * g[o] / sb;
      const float dsig = -dc[o] * sigma_[o] / (sb * sb) + dshift[o] * g[o] * mu / (sb * sb);
      const float dvar = dsig / (2.0f * sb);
      const float a = float(dmu / m), k = float(2.0 * dvar / m);
      for (std::size_t n = 0; n < N; ++n) {
        const std::size_t off = (n * O + o) * HW;
        for (std::size_t i = 0; i < HW; ++i) dy0[off + i] = a + k * (y0[off + i] - mu);
      }
    }
    conv_->convolve_backward(dy0_, *x_, w, need_dx ? &dx2_ : nullptr, conv_->weight().grad);
    if (need_dx) {
      float* dx = dx_.data();
      const float* dx2 = dx2_.data();
      for (std::size_t i = 0, n = dx_.size(); i < n; ++i) dx[i] += dx2[i];
    }
  }
  if (!need_dx) zeros_like_shape(dx_, shape_of(*x_));
  return hook_backward(own_input_hook(), dx_);
}

}  // namespace qb
