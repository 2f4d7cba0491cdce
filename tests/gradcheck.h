// One generic gradient checker for any layer (dlib's test_layer, mlpack's JacobianTest).
//
// The scalar L = Σ r ⊙ layer(x) with a fixed random r makes backward(r) the exact gradient of
// L; every analytic derivative (input and each parameter, hooks' parameters included) is
// compared with the central difference (L(θ+h) − L(θ−h)) / 2h, L summed in double.
// Large tensors are checked at a random sample of coordinates.
#pragma once

#include "engine/hook.h"
#include "engine/layer.h"

#include <cstdint>
#include <string>
#include <vector>

namespace qb::test {

struct GradCheckOptions {
  bool training = true;
  float step = 1e-2f;  // h; inputs are drawn so that no kink lies within h (see .cpp)
  double rtol = 1e-2, atol = 1e-3;
  std::size_t max_coords = 64;  // per tensor
  std::uint64_t seed = 1;
  bool check_input = true;
};

struct GradCheckResult {
  bool ok = true;
  std::size_t checked = 0;
  std::string report;  // the worst mismatch of each failing tensor
};

// Fills x with values in ±[0.05, 1]: away from ReLU's kink at 0 by more than the step.
void fill_away_from_zero(Tensor& x, std::uint64_t seed);
void fill_normal(Tensor& x, std::uint64_t seed, float scale = 1.0f);

GradCheckResult check_layer(Layer& layer, const Shape& input_shape,
                            const GradCheckOptions& opt = {});

// Same with a caller-supplied input.
GradCheckResult check_layer_at(Layer& layer, const Tensor& x, const GradCheckOptions& opt = {});

// y = s·x with a learned scalar s: the smallest hook with a parameter of its own.
class ScaleHook final : public TensorHook {
 public:
  explicit ScaleHook(float s) {
    scale.name = "hook.scale";
    scale.role = ParamRole::quantizer;
    scale.value = Tensor::from_shape({1});
    scale.value(0) = s;
    scale.init_grad();
  }
  const Tensor& forward(const Tensor& x, bool) override {
    x_ = &x;
    y_ = x * scale.value(0);
    return y_;
  }
  const Tensor& backward(const Tensor& dy) override {
    float acc = 0.0f;
    for (std::size_t i = 0; i < dy.size(); ++i) acc += dy.data()[i] * x_->data()[i];
    scale.grad(0) += acc;
    dx_ = dy * scale.value(0);
    return dx_;
  }
  void collect_params(std::vector<Param*>& out) override { out.push_back(&scale); }
  Param scale;

 private:
  const Tensor* x_ = nullptr;
  Tensor y_, dx_;
};

}  // namespace qb::test
