#include "engine/layers/conv2d.h"

#include "engine/check.h"

#include <algorithm>

namespace qb {
namespace {

Conv2dGeometry geometry(const Conv2dSpec& sp, const Shape& xs) {
  return conv2d_geometry(xs[0], xs[1], xs[2], xs[3], sp.out_channels, sp.kernel, sp.stride,
                         sp.padding, sp.groups);
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
  x_ = &hook_forward(own_input_hook(), x_in, training);
  w_ = &hook_forward(hooks_.weight.get(), weight_.value, training);
  ensure_shape(y_, ys);
  const Conv2dGeometry q = geometry(spec_, shape_of(*x_));
  const auto fx = fixed_point_of(hooks_.input.get()), fw = fixed_point_of(hooks_.weight.get());
  const FixedPath path = q.depthwise() ? FixedPath::none : fixed_path(fx, fw);
  gemm_counts_.add(path);
  float_forward_ = path == FixedPath::none;
  if (path != FixedPath::none)
    conv2d_forward_fixed(y_.data(), x_->data(), *fx, w_->data(), *fw, path, q, fixed_);
  else
    conv2d_forward(y_.data(), x_->data(), w_->data(), q, scratch_);
  if (has_bias_) add_channel_bias(y_.data(), bias_.value.data(), ys[0], ys[1], ys[2] * ys[3]);
  return y_;
}

void Conv2d::convolve(const Tensor& x, const Tensor& w, Tensor& y) {
  const Shape xs = shape_of(x);
  QB_CHECK(shape_of(w) == info_.weight_shape);
  ensure_shape(y, output_shape(xs));
  conv2d_forward(y.data(), x.data(), w.data(), geometry(spec_, xs), scratch_);
}

void Conv2d::convolve_backward(const Tensor& dy, const Tensor& x, const Tensor& w, Tensor* dx,
                               Tensor& dw) {
  const Shape xs = shape_of(x);
  QB_CHECK(shape_of(dy) == output_shape(xs));
  QB_CHECK(shape_of(w) == info_.weight_shape && shape_of(dw) == info_.weight_shape);
  if (dx) ensure_shape(*dx, xs);
  conv2d_backward(dx ? dx->data() : nullptr, dw.data(), dy.data(), x.data(), w.data(),
                  geometry(spec_, xs), scratch_, ConvInput::forwarded);
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
  const Conv2dGeometry q = geometry(spec_, xs);
  const auto fdy = fixed_point_of(hooks_.grad.get());
  const auto fx = fixed_point_of(hooks_.input.get()), fw = fixed_point_of(hooks_.weight.get());
  const FixedPath dw_path = q.depthwise() ? FixedPath::none : fixed_path(fdy, fx);
  const FixedPath dx_path = q.depthwise() || !need_dx ? FixedPath::none : fixed_path(fdy, fw);
  gemm_counts_.add(dw_path);
  if (need_dx) gemm_counts_.add(dx_path);
  if (dw_path != FixedPath::none)
    conv2d_weight_grad_fixed(dw, dy.data(), *fdy, x_->data(), *fx, dw_path, q, fixed_);
  if (dx_path != FixedPath::none)
    conv2d_data_grad_fixed(dx_.data(), dy.data(), *fdy, w_->data(), *fw, dx_path, q, fixed_);
  const bool float_dx = need_dx && dx_path == FixedPath::none;
  const ConvInput input = float_forward_ ? ConvInput::forwarded : ConvInput::unknown;
  if (dw_path == FixedPath::none) {
    conv2d_backward(float_dx ? dx_.data() : nullptr, dw, dy.data(), x_->data(), w_->data(), q,
                    scratch_, input);
  } else if (float_dx) {  // one float GEMM left: the float kernels compute dW with it, unused
    dw_discarded_.assign(info_.weight_shape[0] * q.K, 0.0f);
    conv2d_backward(dx_.data(), dw_discarded_.data(), dy.data(), x_->data(), w_->data(), q,
                    scratch_, input);
  }

  if (hooks_.weight) {
    const Tensor& g = hooks_.weight->backward(dw_hooked_);
    float* wg = weight_.grad.data();
    const float* gp = g.data();
    for (std::size_t i = 0, n = g.size(); i < n; ++i) wg[i] += gp[i];
  }
  if (has_bias_) accumulate_channel_bias_grad(bias_.grad.data(), dy.data(), q.N, q.O, q.HWo);
  return hook_backward(own_input_hook(), dx_);
}

}  // namespace qb
