// The networks qbench trains, by name, for 1×28×28 (Fashion-MNIST) or 3×32×32 (CIFAR-10)
// input. `width` multiplies every channel count (rounded, at least 1).
//
//   lenet5          conv5(6)-pool-conv5(16)-pool-fc120-fc84-fc10, ReLU, max pooling
//                   (LeCun et al. 1998 with ReLU/max-pool; 28×28 input padded by 2 in conv1)
//   vgg_small       2×conv3(128)-pool-2×conv3(256)-pool-2×conv3(512)-pool-fc, BN+ReLU
//                   (the "VGG-Small" of LQ-Nets / Zhang et al. 2018)
//   resnet20        He et al. 2016 CIFAR ResNet-20: conv3(16), 3 stages × 3 basic blocks
//                   (16/32/64 channels), option-A (zero-pad) shortcuts, global pool, fc
//   mobilenet_tiny  conv3(32) then 5 depthwise-separable blocks (dw3 + pw1, BN + ReLU6)
//                   64 s1, 128 s2, 128 s1, 256 s2, 256 s1, global pool, fc
#pragma once

#include "engine/network.h"

#include <memory>
#include <string>
#include <vector>

namespace qb {

const std::vector<std::string>& network_names();

// The widest channel multiplier accepted (64× the channels; beyond, counts overflow their types).
inline constexpr float kMaxWidth = 64.0f;

// Throws qb::Error naming the valid networks when `name` is unknown.
std::unique_ptr<Network> make_network(const std::string& name, const Shape& input_shape,
                                      std::size_t num_classes = 10, float width = 1.0f);

}  // namespace qb
