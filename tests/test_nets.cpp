// Networks by name: shapes for both datasets, parameter counts, layer descriptions, errors,
// and the loss's gradient.
#include "engine/check.h"
#include "engine/loss.h"
#include "engine/nets.h"
#include "engine/rng.h"

#include <catch2/catch.hpp>

#include <cmath>

using namespace qb;

TEST_CASE("every network accepts Fashion-MNIST and CIFAR-10 input", "[nets]") {
  for (const auto& name : network_names()) {
    for (Shape in : {Shape{1, 28, 28}, Shape{3, 32, 32}}) {
      auto net = make_network(name, in, 10, name == "vgg_small" ? 0.25f : 1.0f);
      Tensor x = Tensor::from_shape({2, in[0], in[1], in[2]});
      x.fill(0.5f);
      const Tensor& y = net->forward(x, true);
      INFO(name << " " << to_string(in));
      CHECK(shape_of(y) == Shape{2, 10});
      auto layers = net->hookable_layers();
      CHECK(layers.front()->info().first);
      CHECK(layers.back()->info().last);
      for (std::size_t i = 1; i + 1 < layers.size(); ++i) {
        CHECK_FALSE(layers[i]->info().first);
        CHECK_FALSE(layers[i]->info().last);
      }
    }
  }
}

TEST_CASE("parameter counts match the papers", "[nets]") {
  // ResNet-20 with option-A shortcuts: 0.27 M (He et al. 2016, Table 6), exactly 269,722.
  CHECK(make_network("resnet20", {3, 32, 32})->num_weights() == 269722);
  // LeNet-5: 61,706 weights and biases.
  CHECK(make_network("lenet5", {1, 28, 28})->num_weights() == 61706);
  CHECK(make_network("lenet5", {3, 32, 32})->num_weights() == 61706 + 2 * 150);
}

TEST_CASE("layer descriptions carry what quantization methods need", "[nets]") {
  auto net = make_network("mobilenet_tiny", {3, 32, 32});
  bool saw_depthwise = false;
  for (Layer* l : net->hookable_layers()) {
    const auto& i = l->info();
    if (i.kind == LayerKind::conv && i.groups > 1) {
      saw_depthwise = true;
      CHECK(i.groups == i.in_channels);
      CHECK(i.fan_in == 9);
    }
  }
  CHECK(saw_depthwise);
  auto lenet = make_network("lenet5", {1, 28, 28});
  const auto& conv2 = lenet->hookable_layers()[1]->info();
  CHECK(conv2.name == "conv2");
  CHECK(conv2.weight_shape == Shape{16, 6, 5, 5});
  CHECK(conv2.fan_in == 150);
  CHECK(conv2.fan_out == 400);
}

TEST_CASE("unknown names and bad inputs are refused with the valid choices", "[nets]") {
  CHECK_THROWS_WITH(make_network("resnet18", {3, 32, 32}),
                    Catch::Contains("resnet20") && Catch::Contains("lenet5"));
  CHECK_THROWS_AS(make_network("lenet5", {1, 8, 8}), Error);
  CHECK_THROWS_AS(make_network("lenet5", {1, 28, 28}, 10, 0.0f), Error);
}

TEST_CASE("initialisation is deterministic in the seed", "[nets]") {
  auto a = make_network("resnet20", {3, 32, 32}, 10, 0.5f);
  auto b = make_network("resnet20", {3, 32, 32}, 10, 0.5f);
  a->init_weights(7);
  b->init_weights(7);
  auto pa = a->params(), pb = b->params();
  for (std::size_t i = 0; i < pa.size(); ++i) CHECK(bool(pa[i]->value == pb[i]->value));
  b->init_weights(8);
  CHECK_FALSE(bool(a->params()[0]->value == b->params()[0]->value));
}

TEST_CASE("softmax cross-entropy: value and gradient", "[loss][gradcheck]") {
  Tensor z = Tensor::from_shape({3, 4});
  Rng rng(3);
  for (auto& v : z) v = float(rng.normal()) * 3;
  std::vector<std::int32_t> y = {0, 3, 1};
  SoftmaxCrossEntropy loss;
  const float l = loss.forward(z, y);
  double ref = 0;
  for (std::size_t n = 0; n < 3; ++n) {
    double s = 0;
    for (std::size_t k = 0; k < 4; ++k) s += std::exp(double(z(n, k)));
    ref += std::log(s) - z(n, std::size_t(y[n]));
  }
  CHECK(l == Approx(ref / 3).epsilon(1e-6));
  const Tensor g = loss.backward();
  const float h = 1e-2f;
  for (std::size_t i = 0; i < z.size(); ++i) {
    Tensor zp = z, zm = z;
    zp.data()[i] += h;
    zm.data()[i] -= h;
    const double numeric = (double(loss.forward(zp, y)) - double(loss.forward(zm, y))) / (2 * h);
    CHECK(g.data()[i] == Approx(numeric).margin(1e-4).epsilon(1e-2));
  }
}
