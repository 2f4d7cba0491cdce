// Residual block: y = main(x̂) + shortcut(x̂), the shortcut being the identity when absent.
//
// x̂ = q(x) is the block input as the input hook q of main's first layer quantizes it (x itself
// when that layer has no input hook: fp32). The block applies q once and feeds x̂ to both
// branches, so the shortcut adds the values the first convolution sees, on its input grid —
// what an integer network adds (integer/export.cpp: the block input's codes). Backward, q gets
// the sum of both branches' dL/dx̂ and maps it to dL/dx by its own rule (the STE, or the
// method's exact gradient), as a convolution's input hook does.
//
// ShortcutPad is He et al.'s option A for CIFAR ResNets (2016, §4.2): subsample by the stride
// and zero-pad the new channels (half before, half after, as the reference implementations
// do). It has no parameters, which keeps ResNet-20 at the paper's 0.27 M weights.
#pragma once

#include "engine/layer.h"
#include "engine/layers/sequential.h"

namespace qb {

class Residual final : public Layer {
 public:
  Residual(std::string name, std::unique_ptr<Sequential> main, LayerPtr shortcut = nullptr);

  const Tensor& forward(const Tensor& x, bool training) override;
  const Tensor& backward(const Tensor& dy) override;
  // act(main + shortcut) in the sum's pass (Layer::forward_activated).
  const Tensor* forward_activated(const Tensor& x, bool training, Clip act, Tensor& out) override;
  Shape output_shape(const Shape& in) const override;
  void collect_params(std::vector<Param*>& out) override;
  void collect_buffers(std::vector<Buffer*>& out) override;
  void visit(const std::function<void(Layer&)>& f) override;

  Sequential& main() { return *main_; }
  Layer* shortcut() { return shortcut_.get(); }  // nullptr: the identity

 private:
  TensorHook* input_hook();  // main's first layer's input hook, applied here; may be null
  // act(main(x̂) + shortcut(x̂)) into y, shaped here.
  void add_branches(const Tensor& x_in, bool training, Clip act, Tensor& y);

  std::unique_ptr<Sequential> main_;
  LayerPtr shortcut_;
  Tensor y_, dx_;
};

class ShortcutPad final : public Layer {
 public:
  ShortcutPad(std::string name, std::size_t in_channels, std::size_t out_channels,
              std::size_t stride);

  const Tensor& forward(const Tensor& x, bool training) override;
  const Tensor& backward(const Tensor& dy) override;
  Shape output_shape(const Shape& in) const override;

 private:
  std::size_t cin_, cout_, stride_;
  Shape xs_;
  Tensor y_, dx_;
};

}  // namespace qb
