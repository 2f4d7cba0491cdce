#include "engine/layers/sequential.h"

#include "engine/check.h"
#include "engine/layers/batchnorm.h"

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

Sequential::Fused Sequential::fused(std::size_t i) const {
  if (i + 1 >= layers_.size()) return {};
  auto* bn = dynamic_cast<BatchNorm2d*>(layers_[i].get());
  auto* act = dynamic_cast<Activation*>(layers_[i + 1].get());
  return bn && act ? Fused{bn, act} : Fused{};
}

const Tensor& Sequential::forward(const Tensor& x, bool training) {
  const Tensor* h = &x;
  for (std::size_t i = 0; i < layers_.size(); ++i) {
    if (const Fused f = fused(i); f.bn) {
      h = &f.bn->forward_activated(*h, training, *f.act);
      ++i;
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
