// A network: a named body of layers that maps images [N, C, H, W] to logits [N, classes].
//
// On construction the first and last conv/linear layers are marked (LayerInfo::first/last) —
// quantization methods treat them specially — and every parameter name is checked unique,
// since checkpoints and results are keyed by name.
#pragma once

#include "engine/layers/sequential.h"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace qb {

class Network {
 public:
  Network(std::string name, Shape input_shape, std::size_t num_classes,
          std::unique_ptr<Sequential> body);

  const Tensor& forward(const Tensor& x, bool training) { return body_->forward(x, training); }
  void backward(const Tensor& dlogits) { body_->backward(dlogits); }

  const std::string& name() const { return name_; }
  const Shape& input_shape() const { return input_shape_; }  // [C, H, W]
  std::size_t num_classes() const { return num_classes_; }
  Sequential& body() { return *body_; }

  std::vector<Param*> params();    // every trainable tensor, hooks' included, in forward order
  std::vector<Buffer*> buffers();  // non-trained state (BatchNorm running statistics)
  std::vector<Layer*> layers();    // every leaf and composite in forward order
  std::vector<Layer*> hookable_layers();  // conv and linear, in forward order
  std::size_t num_weights();              // elements of conv/linear/bn parameters (not quantizers')

  void zero_grad();

  // Replaces every Conv2d directly followed by a BatchNorm2d (in any chain, residual branches
  // included) by a FoldedConvBn (engine/layers/folded_conv_bn.h); names, parameters and hook
  // slots are kept. Returns how many pairs were folded. A conv with a bias before BN is refused.
  std::size_t fold_batchnorm();
  // Freezes or unfreezes every folded BatchNorm.
  void set_bn_frozen(bool frozen);

  // Non-parameter state of every installed hook, keyed "<layer>/<slot>", for checkpoints.
  nlohmann::json hook_states();
  void load_hook_states(const nlohmann::json& states);  // throws qb::Error on a missing entry
  // He-normal (fan-in, gain √2) conv/linear weights, zero biases, BN γ = 1, β = 0.
  void init_weights(std::uint64_t seed);

 private:
  std::string name_;
  Shape input_shape_;
  std::size_t num_classes_;
  std::unique_ptr<Sequential> body_;
};

}  // namespace qb
