#include "engine/layers/sequential.h"

#include "engine/check.h"
#include "engine/layers/activation.h"

namespace qb {

Sequential::Sequential(std::string name) : Layer(LayerInfo{}) {
  info_.name = std::move(name);
  info_.kind = LayerKind::sequential;
}

Layer& Sequential::add(LayerPtr layer) {
  layers_.push_back(std::move(layer));
  return *layers_.back();
}

LayerPtr Sequential::release(std::size_t i) {
  QB_CHECK_LT(i, layers_.size());
  LayerPtr l = std::move(layers_[i]);
  layers_.erase(layers_.begin() + std::ptrdiff_t(i));
  return l;
}

void Sequential::insert(std::size_t i, LayerPtr layer) {
  QB_CHECK_LE(i, layers_.size());
  layers_.insert(layers_.begin() + std::ptrdiff_t(i), std::move(layer));
}

const Tensor& Sequential::forward(const Tensor& x, bool training) {
  const Tensor* h = &x;
  for (std::size_t i = 0; i < layers_.size(); ++i) {
    auto* act = i + 1 < layers_.size() ? dynamic_cast<Activation*>(layers_[i + 1].get()) : nullptr;
    const Tensor* y =
        act ? layers_[i]->forward_activated(*h, training, act->clip(), act->fused_output())
            : nullptr;
    if (y) {
      h = y;
      ++i;  // the activation ran inside layer i
    } else {
      h = &layers_[i]->forward(*h, training);
    }
  }
  return *h;
}

const Tensor& Sequential::backward(const Tensor& dy) {
  const Tensor* g = &dy;
  for (auto it = layers_.rbegin(); it != layers_.rend(); ++it) g = &(*it)->backward(*g);
  return *g;
}

Shape Sequential::output_shape(const Shape& in) const {
  Shape s = in;
  for (const auto& l : layers_) s = l->output_shape(s);
  return s;
}

void Sequential::collect_params(std::vector<Param*>& out) {
  for (auto& l : layers_) l->collect_params(out);
}

void Sequential::collect_buffers(std::vector<Buffer*>& out) {
  for (auto& l : layers_) l->collect_buffers(out);
}

void Sequential::visit(const std::function<void(Layer&)>& f) {
  f(*this);
  for (auto& l : layers_) l->visit(f);
}

}  // namespace qb
