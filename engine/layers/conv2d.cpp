#include "engine/layers/conv2d.h"

#include "engine/check.h"
#include "engine/gemm.h"
#include "engine/reduce.h"

#include <omp.h>

#include <algorithm>
#include <cstring>

namespace qb {
namespace {

struct Geometry {
  std::size_t N, C, H, W, O, Ho, Wo, k, s, p, g, Cg, Og, K, HWo;
};

Geometry geometry(const Conv2dSpec& sp, const Shape& xs) {
  Geometry q{};
  q.N = xs[0]; q.C = xs[1]; q.H = xs[2]; q.W = xs[3];
  q.O = sp.out_channels; q.k = sp.kernel; q.s = sp.stride; q.p = sp.padding; q.g = sp.groups;
  q.Ho = (q.H + 2 * q.p - q.k) / q.s + 1;
  q.Wo = (q.W + 2 * q.p - q.k) / q.s + 1;
  q.Cg = q.C / q.g; q.Og = q.O / q.g; q.K = q.Cg * q.k * q.k; q.HWo = q.Ho * q.Wo;
  return q;
}

// Range of output positions o whose input position o*s - p + i lies inside [0, n).
inline void valid_range(std::size_t n, std::size_t no, std::size_t s, std::size_t p,
                        std::size_t i, std::size_t& lo, std::size_t& hi) {
  // o*s + i >= p  and  o*s + i - p < n
  lo = i >= p ? 0 : (p - i + s - 1) / s;
  hi = n + p > i ? std::min(no, (n + p - i + s - 1) / s) : 0;
  if (hi < lo) hi = lo;
}

// col[(c·k + i)·k + j, oh·Wo + ow] = x[c, oh·s − p + i, ow·s − p + j] (0 outside the image).
// Rows are `ld` apart, so the columns of several images can sit side by side in one matrix.
void im2col(const float* __restrict x, const Geometry& q, float* __restrict col, std::size_t ld) {
  for (std::size_t c = 0; c < q.Cg; ++c) {
    const float* xc = x + c * q.H * q.W;
    for (std::size_t i = 0; i < q.k; ++i) {
      std::size_t oh_lo, oh_hi;
      valid_range(q.H, q.Ho, q.s, q.p, i, oh_lo, oh_hi);
      for (std::size_t j = 0; j < q.k; ++j) {
        std::size_t ow_lo, ow_hi;
        valid_range(q.W, q.Wo, q.s, q.p, j, ow_lo, ow_hi);
        float* row = col + ((c * q.k + i) * q.k + j) * ld;
        std::fill(row, row + oh_lo * q.Wo, 0.0f);
        for (std::size_t oh = oh_lo; oh < oh_hi; ++oh) {
          float* out = row + oh * q.Wo;
          const float* in = xc + (oh * q.s + i - q.p) * q.W;
          std::fill(out, out + ow_lo, 0.0f);
          if (q.s == 1) {  // a plain loop: rows are short (10-32 floats), a memcpy call costs more
            for (std::size_t ow = ow_lo; ow < ow_hi; ++ow) out[ow] = in[ow + j - q.p];
          } else {
            for (std::size_t ow = ow_lo; ow < ow_hi; ++ow) out[ow] = in[ow * q.s + j - q.p];
          }
          std::fill(out + ow_hi, out + q.Wo, 0.0f);
        }
        std::fill(row + oh_hi * q.Wo, row + q.HWo, 0.0f);
      }
    }
  }
}

// The adjoint of im2col: dx[c, ih, iw] = Σ of the column entries that read it.
void col2im(const float* __restrict col, const Geometry& q, float* __restrict dx, std::size_t ld) {
  std::fill(dx, dx + q.Cg * q.H * q.W, 0.0f);
  for (std::size_t c = 0; c < q.Cg; ++c) {
    float* dxc = dx + c * q.H * q.W;
    for (std::size_t i = 0; i < q.k; ++i) {
      std::size_t oh_lo, oh_hi;
      valid_range(q.H, q.Ho, q.s, q.p, i, oh_lo, oh_hi);
      for (std::size_t j = 0; j < q.k; ++j) {
        std::size_t ow_lo, ow_hi;
        valid_range(q.W, q.Wo, q.s, q.p, j, ow_lo, ow_hi);
        const float* row = col + ((c * q.k + i) * q.k + j) * ld;
        for (std::size_t oh = oh_lo; oh < oh_hi; ++oh) {
          const float* in = row + oh * q.Wo;
          float* out = dxc + (oh * q.s + i - q.p) * q.W;
          if (q.s == 1) {  // unit stride: a contiguous add the compiler vectorises
            for (std::size_t ow = ow_lo; ow < ow_hi; ++ow) out[ow + j - q.p] += in[ow];
          } else {
            for (std::size_t ow = ow_lo; ow < ow_hi; ++ow) out[ow * q.s + j - q.p] += in[ow];
          }
        }
      }
    }
  }
}

// Images per GEMM: enough that one call sees up to ~1024 columns (a 100-column GEMM spends
// much of its time packing), few enough that the scratch of one chunk — `floats_per_column`
// per column — stays within ~512 KB of L2.
inline std::size_t images_per_gemm(const Geometry& q, std::size_t floats_per_column) {
  const std::size_t by_width = 1024 / q.HWo;
  const std::size_t by_cache = (128u << 10) / (floats_per_column * q.HWo);
  return std::max<std::size_t>(1, std::min(by_width, by_cache));
}

// Images [begin, end) of thread t out of T: a fixed partition, so reductions are reproducible.
inline void thread_range(std::size_t n, int t, int T, std::size_t& begin, std::size_t& end) {
  begin = n * t / T;
  end = n * (t + 1) / T;
}

// dst[i] += Σ_t parts[t][i], summed in thread order.
void reduce_parts(std::vector<std::vector<float>>& parts, int T, float* dst, std::size_t n) {
#pragma omp parallel for schedule(static)
  for (std::size_t i = 0; i < n; ++i) {
    float acc = 0.0f;
    for (int t = 0; t < T; ++t) acc += parts[t][i];
    dst[i] += acc;
  }
}

}  // namespace

Conv2d::Conv2d(std::string name, const Conv2dSpec& spec)
    : Layer(LayerInfo{}), spec_(spec), has_bias_(spec.bias) {
  QB_CHECK_GT(spec.groups, 0u);
  QB_CHECK_EQ(spec.in_channels % spec.groups, 0u);
  QB_CHECK_EQ(spec.out_channels % spec.groups, 0u);
  QB_CHECK_GT(spec.kernel, 0u);
  QB_CHECK_GT(spec.stride, 0u);
  const std::size_t cg = spec.in_channels / spec.groups, og = spec.out_channels / spec.groups;
  info_.name = std::move(name);
  info_.kind = LayerKind::conv;
  info_.weight_shape = {spec.out_channels, cg, spec.kernel, spec.kernel};
  info_.in_channels = spec.in_channels;
  info_.out_channels = spec.out_channels;
  info_.kernel_h = info_.kernel_w = spec.kernel;
  info_.stride = spec.stride;
  info_.padding = spec.padding;
  info_.groups = spec.groups;
  info_.fan_in = cg * spec.kernel * spec.kernel;
  info_.fan_out = og * spec.kernel * spec.kernel;

  weight_.name = info_.name + ".weight";
  weight_.role = ParamRole::weight;
  weight_.value = Tensor::from_shape(info_.weight_shape);
  weight_.init_grad();
  if (has_bias_) {
    bias_.name = info_.name + ".bias";
    bias_.role = ParamRole::bias;
    bias_.value = Tensor::from_shape({spec.out_channels});
    bias_.value.fill(0.0f);
    bias_.init_grad();
  }
}

bool Conv2d::depthwise() const {
  return spec_.groups > 1 && spec_.groups == spec_.in_channels &&
         spec_.groups == spec_.out_channels;
}

Shape Conv2d::output_shape(const Shape& in) const {
  if (in.size() != 4 || in[1] != spec_.in_channels)
    throw error(name(), ": expected input [N, ", spec_.in_channels, ", H, W], got ", to_string(in));
  if (in[2] + 2 * spec_.padding < spec_.kernel || in[3] + 2 * spec_.padding < spec_.kernel)
    throw error(name(), ": input ", to_string(in), " smaller than the ", spec_.kernel, "x",
                spec_.kernel, " kernel");
  const auto q = geometry(spec_, in);
  return {in[0], spec_.out_channels, q.Ho, q.Wo};
}

void Conv2d::collect_params(std::vector<Param*>& out) {
  out.push_back(&weight_);
  if (has_bias_) out.push_back(&bias_);
  hooks_.collect_params(out);
}

void Conv2d::set_hook(HookSlot slot, std::shared_ptr<TensorHook> hook) {
  hooks_.at(slot) = std::move(hook);
}

const Tensor& Conv2d::forward(const Tensor& x_in, bool training) {
  const Shape ys = output_shape(shape_of(x_in));
  x_ = &hook_forward(hooks_.input.get(), x_in, training);
  w_ = &hook_forward(hooks_.weight.get(), weight_.value, training);
  ensure_shape(y_, ys);
  const Shape xs = shape_of(*x_);
  if (depthwise())
    forward_depthwise(x_->data(), w_->data(), y_.data(), xs);
  else
    forward_gemm(x_->data(), w_->data(), y_.data(), xs);
  if (has_bias_) {
    const std::size_t N = ys[0], O = ys[1], HW = ys[2] * ys[3];
    const float* b = bias_.value.data();
    float* y = y_.data();
#pragma omp parallel for schedule(static) collapse(2)
    for (std::size_t n = 0; n < N; ++n)
      for (std::size_t o = 0; o < O; ++o) {
        float* yo = y + (n * O + o) * HW;
        for (std::size_t i = 0; i < HW; ++i) yo[i] += b[o];
      }
  }
  return y_;
}

void Conv2d::forward_gemm(const float* x, const float* w, float* y, const Shape& xs) {
  const auto q = geometry(spec_, xs);
  const bool direct = q.k == 1 && q.s == 1 && q.p == 0;  // input already is the column matrix
  const std::size_t nb_max = images_per_gemm(q, q.K + q.Og);  // columns, output
  const int T = omp_get_max_threads();
  scratch_.resize(T);
#pragma omp parallel num_threads(T)
  {
    const int t = omp_get_thread_num();
    std::size_t n0, n1;
    thread_range(q.N, t, T, n0, n1);
    auto& buf = scratch_[t];
    const std::size_t cols_max = nb_max * q.HWo;
    if (buf.size() < (q.K + q.Og) * cols_max) buf.resize((q.K + q.Og) * cols_max);
    float* col = buf.data();
    float* out = buf.data() + q.K * cols_max;  // [Og, nb·HWo] before scattering to NCHW
    for (std::size_t n = n0; n < n1; n += nb_max) {
      const std::size_t nb = std::min(nb_max, n1 - n), cols = nb * q.HWo;
      for (std::size_t g = 0; g < q.g; ++g) {
        const float* wg = w + g * q.Og * q.K;
        float* yg = y + (n * q.O + g * q.Og) * q.HWo;
        if (nb == 1) {  // one image: read its columns in place (1×1) and write y directly
          const float* xg = x + (n * q.C + g * q.Cg) * q.H * q.W;
          if (!direct) im2col(xg, q, col, q.HWo);
          sgemm(false, false, int(q.Og), int(q.HWo), int(q.K), 1.0f, wg, int(q.K),
                direct ? xg : col, int(q.HWo), 0.0f, yg, int(q.HWo));
          continue;
        }
        for (std::size_t j = 0; j < nb; ++j)
          im2col(x + ((n + j) * q.C + g * q.Cg) * q.H * q.W, q, col + j * q.HWo, cols);
        sgemm(false, false, int(q.Og), int(cols), int(q.K), 1.0f, wg, int(q.K), col, int(cols),
              0.0f, out, int(cols));
        for (std::size_t j = 0; j < nb; ++j)
          for (std::size_t o = 0; o < q.Og; ++o)
            std::memcpy(yg + (j * q.O + o) * q.HWo, out + o * cols + j * q.HWo,
                        q.HWo * sizeof(float));
      }
    }
  }
}

void Conv2d::convolve(const Tensor& x, const Tensor& w, Tensor& y) {
  const Shape xs = shape_of(x);
  QB_CHECK(shape_of(w) == info_.weight_shape);
  ensure_shape(y, output_shape(xs));
  if (depthwise())
    forward_depthwise(x.data(), w.data(), y.data(), xs);
  else
    forward_gemm(x.data(), w.data(), y.data(), xs);
}

void Conv2d::convolve_backward(const Tensor& dy, const Tensor& x, const Tensor& w, Tensor* dx,
                               Tensor& dw) {
  const Shape xs = shape_of(x);
  QB_CHECK(shape_of(dy) == output_shape(xs));
  QB_CHECK(shape_of(w) == info_.weight_shape && shape_of(dw) == info_.weight_shape);
  if (dx) ensure_shape(*dx, xs);
  if (depthwise()) {
    // The depthwise kernel always writes dx; give it scratch when the caller wants none.
    if (!dx) ensure_shape(dx_, xs);
    backward_depthwise(dy.data(), x.data(), w.data(), dx ? dx->data() : dx_.data(), dw.data(),
                       xs);
  } else {
    backward_gemm(dy.data(), x.data(), w.data(), dx ? dx->data() : nullptr, dw.data(), xs);
  }
}

const Tensor& Conv2d::backward(const Tensor& dy_in) {
  QB_CHECK(x_ != nullptr);
  const Tensor& dy = hook_forward(hooks_.grad.get(), dy_in, true);
  const Shape xs = shape_of(*x_);
  QB_CHECK(shape_of(dy) == output_shape(xs));

  // With a weight hook, dL/dŴ goes to a scratch tensor and the hook maps it to dL/dW.
  float* dw = weight_.grad.data();
  if (hooks_.weight) {
    zeros_like_shape(dw_hooked_, info_.weight_shape);
    dw = dw_hooked_.data();
  }
  // The first layer's input is the image: nobody needs dL/dx unless an input hook learns.
  const bool need_dx = !info_.first || hooks_.input;
  ensure_shape(dx_, xs);
  if (!need_dx) std::fill(dx_.begin(), dx_.end(), 0.0f);
  float* dx = need_dx ? dx_.data() : nullptr;
  if (depthwise())
    backward_depthwise(dy.data(), x_->data(), w_->data(), dx_.data(), dw, xs);
  else
    backward_gemm(dy.data(), x_->data(), w_->data(), dx, dw, xs);

  if (hooks_.weight) {
    const Tensor& g = hooks_.weight->backward(dw_hooked_);
    float* wg = weight_.grad.data();
    const float* gp = g.data();
    for (std::size_t i = 0, n = g.size(); i < n; ++i) wg[i] += gp[i];
  }
  if (has_bias_) {
    const std::size_t N = xs[0], O = spec_.out_channels, HW = dy.size() / (N * O);
    const float* d = dy.data();
    float* db = bias_.grad.data();
#pragma omp parallel for schedule(static)
    for (std::size_t o = 0; o < O; ++o) {
      float acc = 0.0f;
      for (std::size_t n = 0; n < N; ++n) acc += sum(d + (n * O + o) * HW, HW);
      db[o] += acc;
    }
  }
  return hook_backward(hooks_.input.get(), dx_);
}

void Conv2d::backward_gemm(const float* dy, const float* x, const float* w, float* dx, float* dw,
                           const Shape& xs) {
  const auto q = geometry(spec_, xs);
  const bool direct = q.k == 1 && q.s == 1 && q.p == 0;
  // columns, their gradient (only when dx is wanted), the gathered output gradient
  const std::size_t nb_max = images_per_gemm(q, (dx ? 2 * q.K : q.K) + q.Og);
  const int T = omp_get_max_threads();
  const std::size_t wsize = q.O * q.K;
  scratch_.resize(T);
  dw_part_.resize(T);
#pragma omp parallel num_threads(T)
  {
    const int t = omp_get_thread_num();
    std::size_t n0, n1;
    thread_range(q.N, t, T, n0, n1);
    auto& buf = scratch_[t];
    const std::size_t cols_max = nb_max * q.HWo;
    if (buf.size() < (2 * q.K + q.Og) * cols_max) buf.resize((2 * q.K + q.Og) * cols_max);
    float* col = buf.data();
    float* dcol = col + q.K * cols_max;
    float* dyc = dcol + q.K * cols_max;  // [Og, nb·HWo]: the chunk's dy gathered from NCHW
    // One thread accumulates straight into dw; several use private partial sums.
    float* dwt = dw;
    if (T > 1) {
      dw_part_[t].assign(wsize, 0.0f);
      dwt = dw_part_[t].data();
    }
    for (std::size_t n = n0; n < n1; n += nb_max) {
      const std::size_t nb = std::min(nb_max, n1 - n), cols = nb * q.HWo;
      for (std::size_t g = 0; g < q.g; ++g) {
        const float* wg = w + g * q.Og * q.K;
        const float* xg = x + (n * q.C + g * q.Cg) * q.H * q.W;
        float* dxg = dx ? dx + (n * q.C + g * q.Cg) * q.H * q.W : nullptr;
        const float* dyg = dy + (n * q.O + g * q.Og) * q.HWo;
        const float* cm = direct && nb == 1 ? xg : col;
        if (nb == 1) {
          if (!direct) im2col(xg, q, col, q.HWo);
        } else {
          for (std::size_t j = 0; j < nb; ++j) {
            im2col(xg + j * q.C * q.H * q.W, q, col + j * q.HWo, cols);
            for (std::size_t o = 0; o < q.Og; ++o)
              std::memcpy(dyc + o * cols + j * q.HWo, dyg + (j * q.O + o) * q.HWo,
                          q.HWo * sizeof(float));
          }
          dyg = dyc;
        }
        // dW_g += dy_g · colᵀ
        sgemm(false, true, int(q.Og), int(q.K), int(cols), 1.0f, dyg, int(cols), cm, int(cols),
              1.0f, dwt + g * q.Og * q.K, int(q.K));
        if (!dxg) continue;
        // dcol = W_gᵀ · dy_g, then scattered back to image positions
        if (direct && nb == 1) {
          sgemm(true, false, int(q.K), int(q.HWo), int(q.Og), 1.0f, wg, int(q.K), dyg,
                int(q.HWo), 0.0f, dxg, int(q.HWo));
          continue;
        }
        sgemm(true, false, int(q.K), int(cols), int(q.Og), 1.0f, wg, int(q.K), dyg, int(cols),
              0.0f, dcol, int(cols));
        for (std::size_t j = 0; j < nb; ++j)
          col2im(dcol + j * q.HWo, q, dxg + j * q.C * q.H * q.W, cols);
      }
    }
  }
  if (T > 1) reduce_parts(dw_part_, T, dw, wsize);
}

void Conv2d::forward_depthwise(const float* x, const float* w, float* y, const Shape& xs) {
  const auto q = geometry(spec_, xs);
#pragma omp parallel for schedule(static) collapse(2)
  for (std::size_t n = 0; n < q.N; ++n) {
    for (std::size_t c = 0; c < q.C; ++c) {
      const float* xc = x + (n * q.C + c) * q.H * q.W;
      const float* wc = w + c * q.k * q.k;
      float* yc = y + (n * q.C + c) * q.HWo;
      std::fill(yc, yc + q.HWo, 0.0f);
      for (std::size_t i = 0; i < q.k; ++i) {
        std::size_t oh_lo, oh_hi;
        valid_range(q.H, q.Ho, q.s, q.p, i, oh_lo, oh_hi);
        for (std::size_t j = 0; j < q.k; ++j) {
          std::size_t ow_lo, ow_hi;
          valid_range(q.W, q.Wo, q.s, q.p, j, ow_lo, ow_hi);
          const float wij = wc[i * q.k + j];
          for (std::size_t oh = oh_lo; oh < oh_hi; ++oh) {
            const float* in = xc + (oh * q.s + i - q.p) * q.W;
            float* out = yc + oh * q.Wo;
            for (std::size_t ow = ow_lo; ow < ow_hi; ++ow) out[ow] += wij * in[ow * q.s + j - q.p];
          }
        }
      }
    }
  }
}

void Conv2d::backward_depthwise(const float* dy, const float* x, const float* w, float* dx,
                                float* dw, const Shape& xs) {
  const auto q = geometry(spec_, xs);
  const int T = omp_get_max_threads();
  const std::size_t wsize = q.C * q.k * q.k;
  dw_part_.resize(T);
#pragma omp parallel num_threads(T)
  {
    const int t = omp_get_thread_num();
    std::size_t n0, n1;
    thread_range(q.N, t, T, n0, n1);
    float* dwt = dw;
    if (T > 1) {
      dw_part_[t].assign(wsize, 0.0f);
      dwt = dw_part_[t].data();
    }
    for (std::size_t n = n0; n < n1; ++n) {
      for (std::size_t c = 0; c < q.C; ++c) {
        const float* xc = x + (n * q.C + c) * q.H * q.W;
        const float* dyc = dy + (n * q.C + c) * q.HWo;
        const float* wc = w + c * q.k * q.k;
        float* dxc = dx + (n * q.C + c) * q.H * q.W;
        float* dwc = dwt + c * q.k * q.k;
        std::fill(dxc, dxc + q.H * q.W, 0.0f);
        for (std::size_t i = 0; i < q.k; ++i) {
          std::size_t oh_lo, oh_hi;
          valid_range(q.H, q.Ho, q.s, q.p, i, oh_lo, oh_hi);
          for (std::size_t j = 0; j < q.k; ++j) {
            std::size_t ow_lo, ow_hi;
            valid_range(q.W, q.Wo, q.s, q.p, j, ow_lo, ow_hi);
            const float wij = wc[i * q.k + j];
            float acc = 0.0f;
            for (std::size_t oh = oh_lo; oh < oh_hi; ++oh) {
              const std::size_t row = (oh * q.s + i - q.p) * q.W;
              const float* in = xc + row;
              float* din = dxc + row;
              const float* g = dyc + oh * q.Wo;
              for (std::size_t ow = ow_lo; ow < ow_hi; ++ow) {
                const std::size_t iw = ow * q.s + j - q.p;
                acc += g[ow] * in[iw];
                din[iw] += g[ow] * wij;
              }
            }
            dwc[i * q.k + j] += acc;
          }
        }
      }
    }
  }
  if (T > 1) reduce_parts(dw_part_, T, dw, wsize);
}

}  // namespace qb
