#include "engine/param.h"

#include <algorithm>

namespace qb {

const char* to_string(ParamRole r) {
  switch (r) {
    case ParamRole::weight:
      return "weight";
    case ParamRole::bias:
      return "bias";
    case ParamRole::bn:
      return "bn";
    case ParamRole::quantizer:
      return "quantizer";
  }
  return "?";
}

void Param::zero_grad() { std::fill(grad.begin(), grad.end(), 0.0f); }

void Param::init_grad() { zeros_like_shape(grad, shape_of(value)); }

}  // namespace qb
