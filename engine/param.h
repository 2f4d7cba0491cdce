// Trainable parameters and non-trainable state buffers.
//
// Every parameter carries a `role`, which is how the trainer sorts parameters into named groups
// (each group has its own optimizer, learning rate, schedule and weight-decay policy). A method
// that learns its own values (a clipping threshold, a scale) registers them with its own role
// and gets its own group, without the engine knowing what they are.
#pragma once

#include "engine/tensor.h"

#include <limits>
#include <string>

namespace qb {

enum class ParamRole {
  weight,     // conv / linear weights: decayed
  bias,       // conv / linear biases: not decayed when exclude_bn_bias is set
  bn,         // BatchNorm gamma and beta: not decayed when exclude_bn_bias is set
  quantizer,  // learned by a quantization method (thresholds, alpha, scales): never decayed
};

const char* to_string(ParamRole r);

struct Param {
  std::string name;  // unique in a network: "stage1.block0.conv1.weight"
  ParamRole role = ParamRole::weight;
  Tensor value;
  Tensor grad;          // same shape as value; accumulated by backward, cleared by zero_grad()
  bool frozen = false;  // optimizers leave a frozen parameter (and its moments) untouched
  // The parameter's domain is value >= min_value: optimizers project every element back onto
  // it after each update (projected gradient descent), so a learned clipping level such as
  // PACT's α > 0 cannot be stepped out of it. -inf: unconstrained.
  float min_value = -std::numeric_limits<float>::infinity();

  void zero_grad();
  void init_grad();  // gives grad value's shape, zero-filled
};

// State that is saved and restored but not trained (BatchNorm running statistics).
struct Buffer {
  std::string name;
  Tensor value;
};

}  // namespace qb
