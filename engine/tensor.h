// Tensors: float32, row-major, NCHW for images, [N, features] for vectors.
//
// Storage and shapes are xtensor's; hot loops use raw pointers (`.data()`). Layers own their
// output buffers and reshape them in place with `ensure_shape`, which allocates only when the
// element count grows, so a training step allocates nothing after the first one.
#pragma once

#include <xtensor/xarray.hpp>

#include <cstddef>
#include <string>
#include <vector>

namespace qb {

using Tensor = xt::xarray<float, xt::layout_type::row_major>;
using Shape = std::vector<std::size_t>;

inline std::size_t numel(const Shape& s) {
  std::size_t n = 1;
  for (auto d : s) n *= d;
  return n;
}

inline Shape shape_of(const Tensor& t) { return Shape(t.shape().begin(), t.shape().end()); }

std::string to_string(const Shape& s);  // "[128, 3, 32, 32]"

// Gives `t` the shape `s`. Contents are unspecified afterwards unless the shape was unchanged.
void ensure_shape(Tensor& t, const Shape& s);

// Same, and fills with zeros.
void zeros_like_shape(Tensor& t, const Shape& s);

}  // namespace qb
