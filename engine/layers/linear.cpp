#include "engine/layers/linear.h"

#include "engine/check.h"
#include "engine/gemm.h"

namespace qb {

Linear::Linear(std::string name, std::size_t in_features, std::size_t out_features, bool bias)
    : Layer(LayerInfo{}), in_(in_features), out_(out_features), has_bias_(bias) {
  info_.name = std::move(name);
  info_.kind = LayerKind::linear;
  info_.weight_shape = {out_, in_};
  info_.in_channels = in_;
  info_.out_channels = out_;
  info_.kernel_h = info_.kernel_w = 1;
  info_.fan_in = in_;
  info_.fan_out = out_;
  weight_.name = info_.name + ".weight";
  weight_.role = ParamRole::weight;
  weight_.value = Tensor::from_shape({out_, in_});
  weight_.init_grad();
  if (has_bias_) {
    bias_.name = info_.name + ".bias";
    bias_.role = ParamRole::bias;
    bias_.value = Tensor::from_shape({out_});
    bias_.value.fill(0.0f);
    bias_.init_grad();
  }
}

Shape Linear::output_shape(const Shape& in) const {
  if (in.size() != 2 || in[1] != in_)
    throw error(name(), ": expected input [N, ", in_, "], got ", to_string(in));
  return {in[0], out_};
}

void Linear::collect_params(std::vector<Param*>& out) {
  out.push_back(&weight_);
  if (has_bias_) out.push_back(&bias_);
  hooks_.collect_params(out);
}

void Linear::set_hook(HookSlot slot, std::shared_ptr<TensorHook> hook) {
  hooks_.at(slot) = std::move(hook);
}

const Tensor& Linear::forward(const Tensor& x_in, bool training) {
  const Shape ys = output_shape(shape_of(x_in));
  x_ = &hook_forward(own_input_hook(), x_in, training);
  w_ = &hook_forward(hooks_.weight.get(), weight_.value, training);
  ensure_shape(y_, ys);
  const int N = int(ys[0]);
  float* y = y_.data();
  if (has_bias_) {
    for (int n = 0; n < N; ++n) std::copy_n(bias_.value.data(), out_, y + n * out_);
  }
  const auto fx = fixed_point_of(hooks_.input.get()), fw = fixed_point_of(hooks_.weight.get());
  const FixedPath path = fixed_path(fx, fw);
  gemm_counts_.add(path);
  if (path != FixedPath::none) {
    fixed_.a.load(path, fx->shift, x_->data(), N, int(in_), int(in_), false);
    fixed_.b.load(path, fw->shift, w_->data(), int(out_), int(in_), int(in_), false);
    fixed_.b.pack_as_right();
    multiply_exact(fixed_.a, fixed_.b, fixed_.c32, fixed_.p);
    store_scaled(fixed_.p, N, int(out_), pow2(fx->shift + fw->shift), y, int(out_), has_bias_);
    return y_;
  }
  sgemm_parallel_rows(false, true, N, int(out_), int(in_), 1.0f, x_->data(), int(in_), w_->data(),
                      int(in_), has_bias_ ? 1.0f : 0.0f, y, int(out_));
  return y_;
}

const Tensor& Linear::backward(const Tensor& dy_in) {
  QB_CHECK(x_ != nullptr);
  const Tensor& dy = hook_forward(hooks_.grad.get(), dy_in, true);
  const int N = int(x_->shape()[0]);
  QB_CHECK(shape_of(dy) == (Shape{std::size_t(N), out_}));

  float* dw = weight_.grad.data();
  if (hooks_.weight) {
    zeros_like_shape(dw_hooked_, info_.weight_shape);
    dw = dw_hooked_.data();
  }
  const auto fdy = fixed_point_of(hooks_.grad.get());
  const auto fx = fixed_point_of(hooks_.input.get()), fw = fixed_point_of(hooks_.weight.get());
  const FixedPath dw_path = fixed_path(fdy, fx), dx_path = fixed_path(fdy, fw);
  gemm_counts_.add(dw_path);
  gemm_counts_.add(dx_path);
  // dW += dyᵀ·x   [out, N]·[N, in]
  if (dw_path != FixedPath::none) {
    fixed_.a.load(dw_path, fdy->shift, dy.data(), int(out_), N, int(out_), true);
    fixed_.b.load(dw_path, fx->shift, x_->data(), int(in_), N, int(in_), true);
    fixed_.b.pack_as_right();
    multiply_exact(fixed_.a, fixed_.b, fixed_.c32, fixed_.p);
    store_scaled(fixed_.p, int(out_), int(in_), pow2(fdy->shift + fx->shift), dw, int(in_), true);
  } else {
    sgemm_parallel_rows(true, false, int(out_), int(in_), N, 1.0f, dy.data(), int(out_), x_->data(),
                        int(in_), 1.0f, dw, int(in_));
  }
  if (hooks_.weight) {
    const Tensor& g = hooks_.weight->backward(dw_hooked_);
    float* wg = weight_.grad.data();
    for (std::size_t i = 0; i < g.size(); ++i) wg[i] += g.data()[i];
  }
  if (has_bias_) {
    float* db = bias_.grad.data();
    const float* d = dy.data();
    for (std::size_t o = 0; o < out_; ++o) {
      float acc = 0.0f;
      for (int n = 0; n < N; ++n) acc += d[n * out_ + o];
      db[o] += acc;
    }
  }
  // dx = dy·W   [N, out]·[out, in]
  ensure_shape(dx_, shape_of(*x_));
  if (dx_path != FixedPath::none) {
    fixed_.a.load(dx_path, fdy->shift, dy.data(), N, int(out_), int(out_), false);
    fixed_.b.load(dx_path, fw->shift, w_->data(), int(in_), int(out_), int(in_), true);
    fixed_.b.pack_as_right();
    multiply_exact(fixed_.a, fixed_.b, fixed_.c32, fixed_.p);
    store_scaled(fixed_.p, N, int(in_), pow2(fdy->shift + fw->shift), dx_.data(), int(in_), false);
  } else {
    sgemm_parallel_rows(false, false, N, int(in_), int(out_), 1.0f, dy.data(), int(out_),
                        w_->data(), int(in_), 0.0f, dx_.data(), int(in_));
  }
  return hook_backward(own_input_hook(), dx_);
}

}  // namespace qb
