// A chain of layers; backward runs the chain in reverse. Forward runs a layer followed by an
// Activation as one where the layer can (Layer::forward_activated: BatchNorm2d and Residual;
// the same bits, and the tensor between the two neither written nor read back). Fusing
// BatchNorm's backward with the activation's too (the mask applied a plane at a time inside
// BatchNorm's sums) measured slower on ResNet-20: three streams per channel where the two
// layers apart read two.
#pragma once

#include "engine/layer.h"

namespace qb {

class Sequential final : public Layer {
 public:
  explicit Sequential(std::string name);

  Layer& add(LayerPtr layer);
  template <class L, class... Args>
  L& emplace(Args&&... args) {
    return static_cast<L&>(add(std::make_unique<L>(std::forward<Args>(args)...)));
  }

  const Tensor& forward(const Tensor& x, bool training) override;
  const Tensor& backward(const Tensor& dy) override;
  Shape output_shape(const Shape& in) const override;
  void collect_params(std::vector<Param*>& out) override;
  void collect_buffers(std::vector<Buffer*>& out) override;
  void visit(const std::function<void(Layer&)>& f) override;

  std::size_t size() const { return layers_.size(); }
  // Graph rewrites (BatchNorm folding): take the layer at i out of the chain, put one in at i.
  LayerPtr release(std::size_t i);
  void insert(std::size_t i, LayerPtr layer);
  Layer& at(std::size_t i) { return *layers_.at(i); }

 private:
  std::vector<LayerPtr> layers_;
};

}  // namespace qb
