// The layer contract.
//
//   forward(x, training)  -> y      y is owned by the layer and valid until its next forward;
//                                   the layer may keep a pointer to x for backward, so the
//                                   caller keeps x alive and unchanged until backward returns.
//   backward(dy)          -> dx     must follow the forward it differentiates; accumulates
//                                   (adds) parameter gradients into Param::grad.
//
// Composite layers (Sequential, Residual) hold children and forward `visit` to them, so
// anything that walks a network (parameter collection, hook installation, statistics) sees
// every leaf in forward order.
#pragma once

#include "engine/hook.h"
#include "engine/param.h"
#include "engine/tensor.h"

#include <algorithm>
#include <functional>
#include <limits>
#include <memory>
#include <string>
#include <vector>

namespace qb {

enum class LayerKind {
  conv,
  linear,
  batchnorm,
  relu,
  relu6,
  maxpool,
  avgpool,
  global_avgpool,
  flatten,
  sequential,
  residual,
  shortcut,
};

const char* to_string(LayerKind k);

// What a quantization method needs to know about a layer to choose its quantizers.
struct LayerInfo {
  std::string name;  // "stage1.block0.conv1"
  LayerKind kind = LayerKind::sequential;
  Shape weight_shape;  // [out, in/groups, kh, kw] for conv, [out, in] for linear; empty otherwise
  std::size_t in_channels = 0, out_channels = 0;  // features for linear
  std::size_t kernel_h = 0, kernel_w = 0, stride = 1, padding = 0, groups = 1;
  std::size_t fan_in = 0;   // inputs feeding one output: in/groups * kh * kw
  std::size_t fan_out = 0;  // outputs one input feeds:  out/groups * kh * kw
  bool first = false;       // the first conv/linear of the network (sees the raw image)
  bool last = false;        // the last conv/linear (produces the logits)
  // The first layer of a residual block's main branch: the block applies this layer's input
  // hook and adds that same x̂ on its shortcut, so the layer takes x̂ and returns dL/dx̂.
  bool block_applies_input_hook = false;
};

// A clipping activation, y = min(max(v, lo), hi): ReLU is [0, +inf], ReLU6 [0, 6]. The
// Activation layer and every layer that applies one in its own pass (Layer::forward_activated)
// call this one function, so fused and unfused give the same bits. `none()` passes every value
// through unchanged, −0 and NaN included (std::max and std::min return their first argument
// unless the second compares beyond it), so a layer keeps one loop for both cases.
struct Clip {
  float lo, hi;
  float operator()(float v) const { return std::min(std::max(v, lo), hi); }
  static Clip none() {
    constexpr float inf = std::numeric_limits<float>::infinity();
    return {-inf, inf};
  }
};

class Layer {
 public:
  explicit Layer(LayerInfo info) : info_(std::move(info)) {}
  virtual ~Layer() = default;
  Layer(const Layer&) = delete;
  Layer& operator=(const Layer&) = delete;

  virtual const Tensor& forward(const Tensor& x, bool training) = 0;
  virtual const Tensor& backward(const Tensor& dy) = 0;

  // forward, then the activation `act` that follows this layer, in this layer's own pass: the
  // result shaped and written into `out` (the Activation's own output, so its backward runs as
  // if its forward had), bit for bit what the two layers give apart. Sequential calls it for a
  // layer followed by an Activation, saving a write and a read of the tensor between them.
  // Null: this layer does not fuse (the default) and has not touched `out`; Sequential then
  // runs the two apart.
  virtual const Tensor* forward_activated(const Tensor& x, bool training, Clip act, Tensor& out) {
    (void)x, (void)training, (void)act, (void)out;
    return nullptr;
  }

  // Output shape for an input shape; throws qb::Error on an incompatible input.
  virtual Shape output_shape(const Shape& in) const = 0;

  virtual void collect_params(std::vector<Param*>& out) { (void)out; }
  virtual void collect_buffers(std::vector<Buffer*>& out) { (void)out; }

  // Calls f on this layer and, for composites, on every descendant in forward order.
  virtual void visit(const std::function<void(Layer&)>& f) { f(*this); }

  // Hook slots exist only on conv and linear; others refuse.
  virtual bool has_hooks() const { return false; }
  virtual void set_hook(HookSlot slot, std::shared_ptr<TensorHook> hook);
  virtual TensorHook* hook(HookSlot slot) const {
    (void)slot;
    return nullptr;
  }

  const LayerInfo& info() const { return info_; }
  LayerInfo& mutable_info() { return info_; }
  const std::string& name() const { return info_.name; }

 protected:
  // The input hook this layer applies itself: none when its block applies it (see LayerInfo).
  TensorHook* own_input_hook() const {
    return info_.block_applies_input_hook ? nullptr : hook(HookSlot::input);
  }

  LayerInfo info_;
};

using LayerPtr = std::unique_ptr<Layer>;

}  // namespace qb
