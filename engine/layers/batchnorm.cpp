#include "engine/layers/batchnorm.h"

#include "engine/check.h"
#include "engine/reduce.h"

#include <cmath>

namespace qb {

BatchNorm2d::BatchNorm2d(std::string name, std::size_t channels, float momentum, float eps)
    : Layer(LayerInfo{}), channels_(channels), momentum_(momentum), eps_(eps) {
  info_.name = std::move(name);
  info_.kind = LayerKind::batchnorm;
  info_.in_channels = info_.out_channels = channels;
  gamma_.name = info_.name + ".gamma";
  beta_.name = info_.name + ".beta";
  gamma_.role = beta_.role = ParamRole::bn;
  gamma_.value = Tensor::from_shape({channels});
  gamma_.value.fill(1.0f);
  beta_.value = Tensor::from_shape({channels});
  beta_.value.fill(0.0f);
  gamma_.init_grad();
  beta_.init_grad();
  running_mean_.name = info_.name + ".running_mean";
  running_var_.name = info_.name + ".running_var";
  running_mean_.value = Tensor::from_shape({channels});
  running_mean_.value.fill(0.0f);
  running_var_.value = Tensor::from_shape({channels});
  running_var_.value.fill(1.0f);
  mean_.resize(channels);
  inv_std_.resize(channels);
}

Shape BatchNorm2d::output_shape(const Shape& in) const {
  if (in.size() != 4 || in[1] != channels_)
    throw error(name(), ": expected input [N, ", channels_, ", H, W], got ", to_string(in));
  return in;
}

void BatchNorm2d::collect_params(std::vector<Param*>& out) {
  out.push_back(&gamma_);
  out.push_back(&beta_);
}

void BatchNorm2d::collect_buffers(std::vector<Buffer*>& out) {
  out.push_back(&running_mean_);
  out.push_back(&running_var_);
}

const Tensor& BatchNorm2d::forward(const Tensor& x, bool training) {
  normalise(x, training, Clip::none(), y_);
  return y_;
}

const Tensor* BatchNorm2d::forward_activated(const Tensor& x, bool training, Clip act,
                                             Tensor& out) {
  normalise(x, training, act, out);
  return &out;
}

void BatchNorm2d::normalise(const Tensor& x, bool training, Clip act, Tensor& y) {
  const Shape xs = output_shape(shape_of(x));
  const std::size_t N = xs[0], C = xs[1], HW = xs[2] * xs[3], m = N * HW;
  ensure_shape(y, xs);
  last_training_ = training;
  x_ = &x;
  const float* xp = x.data();
  float* yp = y.data();
  float* rm = running_mean_.value.data();
  float* rv = running_var_.value.data();
  const float* g = gamma_.value.data();
  const float* b = beta_.value.data();

#pragma omp parallel for schedule(static)
  for (std::size_t c = 0; c < C; ++c) {
    float mean, var;
    if (training) {
      // Two passes (mean, then squared deviations); rows summed in float SIMD, rows
      // accumulated in double: 128×32×32 values summed in float alone lose digits.
      double s = 0.0;
      for (std::size_t n = 0; n < N; ++n) s += sum(xp + (n * C + c) * HW, HW);
      const double mu = s / double(m);
      mean = float(mu);
      double ss = 0.0;
      for (std::size_t n = 0; n < N; ++n) ss += sum_sq_dev(xp + (n * C + c) * HW, HW, mean);
      var = float(ss / double(m));
      const float unbiased = m > 1 ? float(ss / double(m - 1)) : var;
      rm[c] = (1.0f - momentum_) * rm[c] + momentum_ * mean;
      rv[c] = (1.0f - momentum_) * rv[c] + momentum_ * unbiased;
    } else {
      mean = rm[c];
      var = rv[c];
    }
    const float inv = 1.0f / std::sqrt(var + eps_);
    mean_[c] = mean;
    inv_std_[c] = inv;
    for (std::size_t n = 0; n < N; ++n) {
      const std::size_t off = (n * C + c) * HW;
      for (std::size_t i = 0; i < HW; ++i) {
        const float h = (xp[off + i] - mean) * inv;
        yp[off + i] = act(g[c] * h + b[c]);
      }
    }
  }
}

const Tensor& BatchNorm2d::backward(const Tensor& dy) {
  QB_CHECK(x_ != nullptr);
  const Shape xs = shape_of(*x_);
  QB_CHECK(shape_of(dy) == xs);
  const std::size_t N = xs[0], C = xs[1], HW = xs[2] * xs[3];
  const float m = float(N * HW);
  ensure_shape(dx_, xs);
  const float* d = dy.data();
  const float* xp = x_->data();
  float* dxp = dx_.data();
  const float* g = gamma_.value.data();
  float* dg = gamma_.grad.data();
  float* db = beta_.grad.data();

#pragma omp parallel for schedule(static)
  for (std::size_t c = 0; c < C; ++c) {
    const float mean = mean_[c], inv = inv_std_[c];
    double sum_dy = 0.0, sum_dyh = 0.0;
    for (std::size_t n = 0; n < N; ++n) {
      const std::size_t off = (n * C + c) * HW;
      sum_dy += sum(d + off, HW);
      sum_dyh += dot_standardised(d + off, xp + off, HW, mean, inv);
    }
    dg[c] += float(sum_dyh);
    db[c] += float(sum_dy);
    const float k = g[c] * inv;
    if (last_training_) {
      const float mean_dy = float(sum_dy / m), mean_dyh = float(sum_dyh / m);
      for (std::size_t n = 0; n < N; ++n) {
        const std::size_t off = (n * C + c) * HW;
        for (std::size_t i = 0; i < HW; ++i) {
          const float h = (xp[off + i] - mean) * inv;
          dxp[off + i] = k * (d[off + i] - mean_dy - h * mean_dyh);
        }
      }
    } else {
      for (std::size_t n = 0; n < N; ++n) {
        const std::size_t off = (n * C + c) * HW;
        for (std::size_t i = 0; i < HW; ++i) dxp[off + i] = k * d[off + i];
      }
    }
  }
  return dx_;
}

}  // namespace qb
