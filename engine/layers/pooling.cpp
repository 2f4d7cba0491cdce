#include "engine/layers/pooling.h"

#include "engine/check.h"
#include "engine/reduce.h"

#include <algorithm>

namespace qb {
namespace {

// One output row of 2×2, stride-2 max pooling: y[ow] the largest of the window at
// x[2·ow], x[2·ow + 1], x[W + 2·ow], x[W + 2·ow + 1] (the first of equals, in that order, as
// the general loop's strict >), arg[ow] its flat index base + offset. Written as selects on
// comparisons, which `omp simd` turns into vector blends: as branches they mispredicted on
// half the windows of real activations (8× slower).
void max2x2_row(const float* x, std::size_t W, std::size_t Wo, std::uint32_t base, float* y,
                std::uint32_t* arg) {
  const std::uint32_t w = std::uint32_t(W);
#pragma omp simd
  for (std::size_t ow = 0; ow < Wo; ++ow) {
    const float* a = x + 2 * ow;
    float m = a[0];
    std::uint32_t off = 0;
    off = a[1] > m ? 1 : off;
    m = a[1] > m ? a[1] : m;
    off = a[W] > m ? w : off;
    m = a[W] > m ? a[W] : m;
    off = a[W + 1] > m ? w + 1 : off;
    m = a[W + 1] > m ? a[W + 1] : m;
    y[ow] = m;
    arg[ow] = base + std::uint32_t(2 * ow) + off;
  }
}

// The adjoint of max2x2_row: dx of the two input rows at x (W apart), each window's dy at its
// maximum and 0 elsewhere.
void max2x2_row_backward(const float* dy, const std::uint32_t* arg, std::uint32_t base,
                         std::size_t W, std::size_t Wo, float* dx) {
  const std::uint32_t w = std::uint32_t(W);
#pragma omp simd
  for (std::size_t ow = 0; ow < Wo; ++ow) {
    const std::uint32_t off = arg[ow] - base - std::uint32_t(2 * ow);
    const float g = 0.0f + dy[ow];
    dx[2 * ow] = off == 0 ? g : 0.0f;
    dx[2 * ow + 1] = off == 1 ? g : 0.0f;
    dx[W + 2 * ow] = off == w ? g : 0.0f;
    dx[W + 2 * ow + 1] = off == w + 1 ? g : 0.0f;
  }
}

}  // namespace

Pool2d::Pool2d(std::string name, LayerKind kind, std::size_t kernel, std::size_t stride)
    : Layer(LayerInfo{}), k_(kernel), s_(stride) {
  QB_CHECK(kind == LayerKind::maxpool || kind == LayerKind::avgpool);
  QB_CHECK_GT(kernel, 0u);
  QB_CHECK_GT(stride, 0u);
  info_.name = std::move(name);
  info_.kind = kind;
  info_.kernel_h = info_.kernel_w = kernel;
  info_.stride = stride;
}

Shape Pool2d::output_shape(const Shape& in) const {
  if (in.size() != 4 || in[2] < k_ || in[3] < k_)
    throw error(name(), ": expected input [N, C, H>=", k_, ", W>=", k_, "], got ", to_string(in));
  return {in[0], in[1], (in[2] - k_) / s_ + 1, (in[3] - k_) / s_ + 1};
}

const Tensor& Pool2d::forward(const Tensor& x, bool) {
  xs_ = shape_of(x);
  const Shape ys = output_shape(xs_);
  ensure_shape(y_, ys);
  const std::size_t planes = ys[0] * ys[1], H = xs_[2], W = xs_[3], Ho = ys[2], Wo = ys[3];
  const bool is_max = info_.kind == LayerKind::maxpool;
  if (is_max) argmax_.resize(y_.size());
  const float* xp = x.data();
  float* yp = y_.data();
  const float inv_area = 1.0f / float(k_ * k_);
#pragma omp parallel for schedule(static)
  for (std::size_t pl = 0; pl < planes; ++pl) {
    const float* xc = xp + pl * H * W;
    if (is_max && k_ == 2 && s_ == 2) {
      // LeNet's pooling, a row at a time so that the compiler vectorises it.
      for (std::size_t oh = 0; oh < Ho; ++oh) {
        const std::size_t o = (pl * Ho + oh) * Wo;
        max2x2_row(xc + 2 * oh * W, W, Wo, std::uint32_t(pl * H * W + 2 * oh * W), yp + o,
                   argmax_.data() + o);
      }
      continue;
    }
    for (std::size_t oh = 0; oh < Ho; ++oh)
      for (std::size_t ow = 0; ow < Wo; ++ow) {
        const std::size_t o = (pl * Ho + oh) * Wo + ow;
        const std::size_t base = oh * s_ * W + ow * s_;
        if (is_max) {
          std::size_t best = base;
          for (std::size_t i = 0; i < k_; ++i)
            for (std::size_t j = 0; j < k_; ++j) {
              const std::size_t idx = base + i * W + j;
              if (xc[idx] > xc[best]) best = idx;
            }
          yp[o] = xc[best];
          argmax_[o] = std::uint32_t(pl * H * W + best);
        } else {
          float acc = 0.0f;
          for (std::size_t i = 0; i < k_; ++i)
            for (std::size_t j = 0; j < k_; ++j) acc += xc[base + i * W + j];
          yp[o] = acc * inv_area;
        }
      }
  }
  return y_;
}

const Tensor& Pool2d::backward(const Tensor& dy) {
  QB_CHECK(dy.size() == y_.size());
  const std::size_t planes = xs_[0] * xs_[1], H = xs_[2], W = xs_[3];
  const std::size_t Ho = y_.shape()[2], Wo = y_.shape()[3];
  const float* d = dy.data();
  const bool is_max = info_.kind == LayerKind::maxpool;
  if (is_max && k_ == 2 && s_ == 2 && H == 2 * Ho && W == 2 * Wo) {
    // LeNet's pooling: the windows tile the plane, so every dx is written once, without
    // zeroing it first (0 + dy as the general path adds it, so a dy of −0 gives +0 there too).
    ensure_shape(dx_, xs_);
    float* dxp = dx_.data();
#pragma omp parallel for schedule(static)
    for (std::size_t pl = 0; pl < planes; ++pl)
      for (std::size_t oh = 0; oh < Ho; ++oh) {
        const std::size_t o = (pl * Ho + oh) * Wo;
        const std::uint32_t base = std::uint32_t(pl * H * W + 2 * oh * W);
        max2x2_row_backward(d + o, argmax_.data() + o, base, W, Wo, dxp + base);
      }
    return dx_;
  }
  zeros_like_shape(dx_, xs_);
  float* dxp = dx_.data();
  const float inv_area = 1.0f / float(k_ * k_);
  // Parallel over planes: windows may overlap within a plane, never across planes.
#pragma omp parallel for schedule(static)
  for (std::size_t pl = 0; pl < planes; ++pl) {
    for (std::size_t o = pl * Ho * Wo; o < (pl + 1) * Ho * Wo; ++o) {
      if (is_max) {
        dxp[argmax_[o]] += d[o];
      } else {
        const std::size_t r = o - pl * Ho * Wo, oh = r / Wo, ow = r % Wo;
        float* dc = dxp + pl * H * W + oh * s_ * W + ow * s_;
        for (std::size_t i = 0; i < k_; ++i)
          for (std::size_t j = 0; j < k_; ++j) dc[i * W + j] += d[o] * inv_area;
      }
    }
  }
  return dx_;
}

GlobalAvgPool::GlobalAvgPool(std::string name) : Layer(LayerInfo{}) {
  info_.name = std::move(name);
  info_.kind = LayerKind::global_avgpool;
}

Shape GlobalAvgPool::output_shape(const Shape& in) const {
  if (in.size() != 4) throw error(name(), ": expected input [N, C, H, W], got ", to_string(in));
  return {in[0], in[1]};
}

const Tensor& GlobalAvgPool::forward(const Tensor& x, bool) {
  xs_ = shape_of(x);
  ensure_shape(y_, output_shape(xs_));
  const std::size_t planes = xs_[0] * xs_[1], HW = xs_[2] * xs_[3];
  const float* xp = x.data();
  float* yp = y_.data();
  const float inv = 1.0f / float(HW);
  for (std::size_t pl = 0; pl < planes; ++pl) yp[pl] = sum(xp + pl * HW, HW) * inv;
  return y_;
}

const Tensor& GlobalAvgPool::backward(const Tensor& dy) {
  QB_CHECK(dy.size() == y_.size());
  ensure_shape(dx_, xs_);
  const std::size_t planes = xs_[0] * xs_[1], HW = xs_[2] * xs_[3];
  const float* d = dy.data();
  float* dxp = dx_.data();
  const float inv = 1.0f / float(HW);
  for (std::size_t pl = 0; pl < planes; ++pl) std::fill_n(dxp + pl * HW, HW, d[pl] * inv);
  return dx_;
}

}  // namespace qb
