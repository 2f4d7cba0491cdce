// Softmax cross-entropy over logits [N, K], averaged over the batch.
//   L = −(1/N) Σ_n log softmax(z_n)[y_n],    dL/dz_n = (softmax(z_n) − onehot(y_n)) / N
#pragma once

#include "engine/tensor.h"

#include <cstdint>
#include <vector>

namespace qb {

class SoftmaxCrossEntropy {
 public:
  // Returns the mean loss; labels must lie in [0, K).
  float forward(const Tensor& logits, const std::vector<std::int32_t>& labels);
  std::size_t correct() const { return correct_; }  // arg-max hits in the last forward
  const Tensor& backward() const { return grad_; }

 private:
  Tensor grad_;
  std::size_t correct_ = 0;
};

}  // namespace qb
