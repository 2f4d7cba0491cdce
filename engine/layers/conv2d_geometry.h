// One 2-D convolution's shape, shared by the fp32 kernels (conv2d_kernels.h, conv2d_direct.h)
// and the fixed-point ones (conv2d_fixed.h).
//
//   x (N,C,H,W)  ⊛  w (O,C/g,k,k)  ->  y (N,O,Ho,Wo),   Ho = (H + 2p - k) / s + 1, Wo likewise
#pragma once

#include <cstddef>

namespace qb {

struct Conv2dGeometry {
  std::size_t N, C, H, W;  // input (N,C,H,W)
  std::size_t O;           // output channels
  std::size_t k, s, p, g;  // square kernel, stride, padding on every side, groups
  std::size_t Ho, Wo;      // output height and width
  std::size_t Cg, Og;      // channels per group: input, output
  std::size_t K;           // one output's reduction length, Cg·k·k (im2col rows)
  std::size_t HWo;         // Ho·Wo (im2col columns per image)

  // g = C = O: one k×k filter per channel.
  bool depthwise() const { return g > 1 && g == C && g == O; }
};

// The geometry of a convolution of x (N,C,H,W) into O channels. The caller has checked that
// g divides C and O and that the padded input is at least k×k.
Conv2dGeometry conv2d_geometry(std::size_t N, std::size_t C, std::size_t H, std::size_t W,
                               std::size_t O, std::size_t k, std::size_t s, std::size_t p,
                               std::size_t g);

}  // namespace qb
