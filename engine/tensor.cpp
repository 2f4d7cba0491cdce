#include "engine/tensor.h"

#include <algorithm>

namespace qb {

std::string to_string(const Shape& s) {
  std::string out = "[";
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (i) out += ", ";
    out += std::to_string(s[i]);
  }
  return out + "]";
}

void ensure_shape(Tensor& t, const Shape& s) {
  if (t.dimension() == s.size() && std::equal(s.begin(), s.end(), t.shape().begin())) return;
  t.resize(s);
}

void zeros_like_shape(Tensor& t, const Shape& s) {
  ensure_shape(t, s);
  std::fill(t.begin(), t.end(), 0.0f);
}

}  // namespace qb
