#include "engine/nets.h"

#include "engine/check.h"
#include "engine/layers/activation.h"
#include "engine/layers/batchnorm.h"
#include "engine/layers/conv2d.h"
#include "engine/layers/flatten.h"
#include "engine/layers/linear.h"
#include "engine/layers/pooling.h"
#include "engine/layers/residual.h"
#include "engine/names.h"

#include <cmath>

namespace qb {
namespace {

std::size_t scaled(std::size_t channels, float width) {
  return std::max<std::size_t>(1, std::size_t(std::lround(double(channels) * width)));
}

// conv → BN → activation, the unit of VGG, ResNet and MobileNet.
void conv_bn_act(Sequential& s, const std::string& name, const Conv2dSpec& spec, LayerKind act) {
  s.emplace<Conv2d>(name + ".conv", spec);
  s.emplace<BatchNorm2d>(name + ".bn", spec.out_channels);
  s.emplace<Activation>(name + ".act", act);
}

std::unique_ptr<Sequential> lenet5(const Shape& in, std::size_t classes, float w) {
  const std::size_t c1 = scaled(6, w), c2 = scaled(16, w), f1 = scaled(120, w), f2 = scaled(84, w);
  auto s = std::make_unique<Sequential>("");
  const std::size_t pad = in[1] == 28 ? 2 : 0;  // both inputs reach 28×28 after conv1
  s->emplace<Conv2d>("conv1", Conv2dSpec{in[0], c1, 5, 1, pad, 1, true});
  s->emplace<Activation>("relu1", LayerKind::relu);
  s->emplace<Pool2d>("pool1", LayerKind::maxpool, 2, 2);
  s->emplace<Conv2d>("conv2", Conv2dSpec{c1, c2, 5, 1, 0, 1, true});
  s->emplace<Activation>("relu2", LayerKind::relu);
  s->emplace<Pool2d>("pool2", LayerKind::maxpool, 2, 2);
  s->emplace<Flatten>("flatten");
  const std::size_t side = ((in[1] + 2 * pad - 4) / 2 - 4) / 2;
  s->emplace<Linear>("fc1", c2 * side * side, f1);
  s->emplace<Activation>("relu3", LayerKind::relu);
  s->emplace<Linear>("fc2", f1, f2);
  s->emplace<Activation>("relu4", LayerKind::relu);
  s->emplace<Linear>("fc3", f2, classes);
  return s;
}

std::unique_ptr<Sequential> vgg_small(const Shape& in, std::size_t classes, float w) {
  auto s = std::make_unique<Sequential>("");
  std::size_t c = in[0], side = in[1];
  const std::size_t widths[3] = {scaled(128, w), scaled(256, w), scaled(512, w)};
  for (int stage = 0; stage < 3; ++stage) {
    for (int j = 0; j < 2; ++j) {
      const std::string name = "conv" + std::to_string(2 * stage + j + 1);
      conv_bn_act(*s, name, {c, widths[stage], 3, 1, 1, 1, false}, LayerKind::relu);
      c = widths[stage];
    }
    s->emplace<Pool2d>("pool" + std::to_string(stage + 1), LayerKind::maxpool, 2, 2);
    side /= 2;
  }
  s->emplace<Flatten>("flatten");
  s->emplace<Linear>("fc", c * side * side, classes);
  return s;
}

std::unique_ptr<Sequential> resnet20(const Shape& in, std::size_t classes, float w) {
  auto s = std::make_unique<Sequential>("");
  std::size_t c = scaled(16, w);
  conv_bn_act(*s, "stem", {in[0], c, 3, 1, 1, 1, false}, LayerKind::relu);
  for (int stage = 0; stage < 3; ++stage) {
    const std::size_t out = scaled(16u << stage, w);
    for (int b = 0; b < 3; ++b) {
      const std::size_t stride = (stage > 0 && b == 0) ? 2 : 1;
      const std::string name = "stage" + std::to_string(stage + 1) + ".block" + std::to_string(b);
      auto main = std::make_unique<Sequential>(name + ".main");
      conv_bn_act(*main, name + ".1", {c, out, 3, stride, 1, 1, false}, LayerKind::relu);
      main->emplace<Conv2d>(name + ".2.conv", Conv2dSpec{out, out, 3, 1, 1, 1, false});
      main->emplace<BatchNorm2d>(name + ".2.bn", out);
      LayerPtr shortcut;
      if (stride != 1 || c != out)
        shortcut = std::make_unique<ShortcutPad>(name + ".shortcut", c, out, stride);
      s->emplace<Residual>(name, std::move(main), std::move(shortcut));
      s->emplace<Activation>(name + ".act", LayerKind::relu);
      c = out;
    }
  }
  s->emplace<GlobalAvgPool>("pool");
  s->emplace<Linear>("fc", c, classes);
  return s;
}

std::unique_ptr<Sequential> mobilenet_tiny(const Shape& in, std::size_t classes, float w) {
  auto s = std::make_unique<Sequential>("");
  std::size_t c = scaled(32, w);
  conv_bn_act(*s, "stem", {in[0], c, 3, 1, 1, 1, false}, LayerKind::relu6);
  const std::pair<std::size_t, std::size_t> blocks[] = {
      {64, 1}, {128, 2}, {128, 1}, {256, 2}, {256, 1}};
  int i = 0;
  for (auto [channels, stride] : blocks) {
    const std::string name = "block" + std::to_string(++i);
    const std::size_t out = scaled(channels, w);
    conv_bn_act(*s, name + ".dw", {c, c, 3, stride, 1, c, false}, LayerKind::relu6);
    conv_bn_act(*s, name + ".pw", {c, out, 1, 1, 0, 1, false}, LayerKind::relu6);
    c = out;
  }
  s->emplace<GlobalAvgPool>("pool");
  s->emplace<Linear>("fc", c, classes);
  return s;
}

using Builder = std::unique_ptr<Sequential> (*)(const Shape&, std::size_t, float);

struct Entry {
  const char* name;
  Builder build;
};

// The one list of networks.
constexpr Entry kNetworks[] = {
    {"lenet5", lenet5},
    {"vgg_small", vgg_small},
    {"resnet20", resnet20},
    {"mobilenet_tiny", mobilenet_tiny},
};

}  // namespace

const std::vector<std::string>& network_names() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> v;
    for (const auto& e : kNetworks) v.emplace_back(e.name);
    return v;
  }();
  return names;
}

std::unique_ptr<Network> make_network(const std::string& name, const Shape& input_shape,
                                      std::size_t num_classes, float width) {
  if (input_shape.size() != 3)
    throw error("network input must be [C, H, W], got ", to_string(input_shape));
  if (!(width > 0.0f && width <= kMaxWidth))
    throw key_error("width", "expected a channel multiplier in (0, ", kMaxWidth, "], got ", width);
  for (const auto& e : kNetworks)
    if (name == e.name)
      return std::make_unique<Network>(name, input_shape, num_classes,
                                       e.build(input_shape, num_classes, width));
  throw unknown_name("network", name, network_names(), "net");
}

}  // namespace qb
