// The seam between the engine and quantization methods.
//
// Each Conv2d and Linear layer has three hook slots (empty = identity, at zero cost):
//   weight  — applied to the weight before use;            backward maps dL/dŴ to dL/dW
//   input   — applied to the input activation before use;   backward maps dL/dx̂ to dL/dx
//   grad    — applied to dL/dy before it flows back into the layer (gradient quantization);
//             its backward is never called.
// A hook owns its output buffer and its learnable parameters (registered with
// ParamRole::quantizer, so the trainer can put them in their own optimizer group). The full
// Quantizer interface of methods/ extends this one; the engine needs only these calls.
#pragma once

#include "engine/param.h"
#include "engine/tensor.h"

#include <nlohmann/json.hpp>

#include <vector>

namespace qb {

class TensorHook {
 public:
  virtual ~TensorHook() = default;

  // Returns the transformed tensor; the reference stays valid until the next forward.
  virtual const Tensor& forward(const Tensor& x, bool training) = 0;

  // Given dL/dy for the last forward's output, returns dL/dx and accumulates dL/dθ into the
  // hook's own parameters.
  virtual const Tensor& backward(const Tensor& dy) = 0;

  virtual void collect_params(std::vector<Param*>& out) { (void)out; }

  // Non-parameter state (running ranges, chosen bit-widths) for checkpoints.
  virtual nlohmann::json state() const { return nlohmann::json::object(); }
  virtual void load(const nlohmann::json& s) { (void)s; }
};

enum class HookSlot { weight, input, grad };

}  // namespace qb
