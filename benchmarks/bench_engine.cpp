// Engine microbenchmarks: convolution forward/backward at ResNet-20's and LeNet-5's shapes,
// linear layers, and a whole training step (forward, loss, backward, SGD update) of every
// network at batch 128. Each is registered for 1 and 2 threads; `items_per_second` is images per
// second, the figure benchmarks/peer_torch.py compares with PyTorch's on the same step.
#include "benchmarks/main.h"
#include "engine/layers/conv2d.h"
#include "engine/layers/linear.h"
#include "engine/loss.h"
#include "engine/nets.h"
#include "engine/optim.h"
#include "engine/parallel.h"
#include "engine/rng.h"

#include <benchmark/benchmark.h>

#include <string>

namespace {

using namespace qb;

void fill(Tensor& t, std::uint64_t seed) {
  Rng rng(seed);
  for (auto& v : t) v = float(rng.normal());
}

struct ConvShape {
  const char* name;
  std::size_t C, O, H, stride;
  std::size_t k = 3, pad = 1;
};

// ResNet-20 on CIFAR-10 (3×32×32) and on Fashion-MNIST (1×28×28): the stem, one conv of each
// stage, the two stride-2 convs. QB_CONV_PATH=gemm|direct|onednn|stem forces one path
// (conv2d_kernels.h). A network's first layer computes no dL/dx (its input is the image), so
// the stems' backward rows time dL/dW alone, as training runs them.
constexpr ConvShape kConvs[] = {
    {"stem_3x32x32", 3, 16, 32, 1},
    {"s1_16x32x32", 16, 16, 32, 1},
    {"s2down_16x32x32", 16, 32, 32, 2},
    {"s2_32x16x16", 32, 32, 16, 1},
    {"s3down_32x16x16", 32, 64, 16, 2},
    {"s3_64x8x8", 64, 64, 8, 1},
    {"stem_1x28x28", 1, 16, 28, 1},
    {"s1_16x28x28", 16, 16, 28, 1},
    {"s2down_16x28x28", 16, 32, 28, 2},
    {"s2_32x14x14", 32, 32, 14, 1},
    {"s3down_32x14x14", 32, 64, 14, 2},
    {"s3_64x7x7", 64, 64, 7, 1},
    // VGG-small's and MobileNet-tiny's stems: many output channels over few inputs.
    {"vgg_stem_3x32x32", 3, 128, 32, 1},
    {"mobilenet_stem_3x32x32", 3, 32, 32, 1},
    // LeNet-5's two 5×5 convolutions on Fashion-MNIST.
    {"lenet_c1_1x28x28", 1, 6, 28, 1, 5, 2},
    {"lenet_c2_6x14x14", 6, 16, 14, 1, 5, 0},
};

void BM_conv(benchmark::State& state, ConvShape s, bool backward) {
  set_threads(int(state.range(0)));
  const std::size_t N = 128;
  Conv2d conv("conv", {s.C, s.O, s.k, s.stride, s.pad, 1, false});
  conv.mutable_info().first = s.C <= 3;
  fill(conv.weight().value, 1);
  Tensor x = Tensor::from_shape({N, s.C, s.H, s.H});
  fill(x, 2);
  const Tensor& y = conv.forward(x, true);
  Tensor dy = Tensor::from_shape(shape_of(y));
  fill(dy, 3);
  conv.backward(dy);  // warm-up: allocates the layer's buffers
  for (auto _ : state) {
    if (backward) {
      benchmark::DoNotOptimize(conv.backward(dy).data());
    } else {
      benchmark::DoNotOptimize(conv.forward(x, true).data());
    }
  }
  const double macs = double(N * s.O * y.shape()[2] * y.shape()[3] * s.C * s.k * s.k);
  // Backward does two products of the forward's size (weight and input gradients), a first
  // layer's one.
  const int passes = backward ? (conv.info().first ? 1 : 2) : 1;
  state.counters["GFLOPS"] =
      benchmark::Counter(2.0 * macs * passes * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
  state.SetItemsProcessed(std::int64_t(state.iterations() * N));
}

void BM_linear(benchmark::State& state, std::size_t in, std::size_t out) {
  set_threads(int(state.range(0)));
  const std::size_t N = 128;
  Linear fc("fc", in, out);
  fill(fc.weight().value, 1);
  Tensor x = Tensor::from_shape({N, in});
  fill(x, 2);
  Tensor dy = Tensor::from_shape({N, out});
  fill(dy, 3);
  for (auto _ : state) {
    fc.forward(x, true);
    benchmark::DoNotOptimize(fc.backward(dy).data());
  }
  state.SetItemsProcessed(std::int64_t(state.iterations() * N));
}

// One SGD training step on a fixed random batch, as PyTorch's peer measures it.
void BM_train_step(benchmark::State& state, std::string net_name, Shape input) {
  set_threads(int(state.range(0)));
  const std::size_t N = 128;
  auto net = make_network(net_name, input, 10);
  net->init_weights(1);
  Optimizer opt =
      make_optimizer(net->params(), OptimizerSpec{OptimizerKind::sgd, 0.01f, 0.9f, false, 5e-4f},
                     ScheduleSpec{ScheduleKind::constant}, true);
  Shape xs = {N};
  xs.insert(xs.end(), input.begin(), input.end());
  Tensor x = Tensor::from_shape(xs);
  fill(x, 2);
  std::vector<std::int32_t> labels(N);
  for (std::size_t i = 0; i < N; ++i) labels[i] = std::int32_t(i % 10);
  SoftmaxCrossEntropy loss;
  auto step = [&] {
    opt.zero_grad();
    benchmark::DoNotOptimize(loss.forward(net->forward(x, true), labels));
    net->backward(loss.backward());
    opt.step(0.0, 1.0);
  };
  step();  // warm-up: the first step faults in every activation buffer (~0.7 GB on ResNet-20)
  for (auto _ : state) step();
  state.SetItemsProcessed(std::int64_t(state.iterations() * N));
}

}  // namespace

void qb::bench::register_benchmarks() {
  for (const auto& s : kConvs) {
    benchmark::RegisterBenchmark((std::string("conv_fwd/") + s.name).c_str(), BM_conv, s, false)
        ->Arg(1)
        ->Arg(2)
        ->ArgName("threads")
        ->UseRealTime()
        ->Unit(benchmark::kMillisecond);
    benchmark::RegisterBenchmark((std::string("conv_bwd/") + s.name).c_str(), BM_conv, s, true)
        ->Arg(1)
        ->Arg(2)
        ->ArgName("threads")
        ->UseRealTime()
        ->Unit(benchmark::kMillisecond);
  }
  for (auto [in, out] : {std::pair<std::size_t, std::size_t>{400, 120}, {512, 512}, {64, 10}})
    benchmark::RegisterBenchmark(
        ("linear_fwd_bwd/" + std::to_string(in) + "x" + std::to_string(out)).c_str(), BM_linear, in,
        out)
        ->Arg(1)
        ->Arg(2)
        ->ArgName("threads")
        ->UseRealTime()
        ->Unit(benchmark::kMicrosecond);
  const std::pair<const char*, Shape> nets[] = {
      {"lenet5", {1, 28, 28}},
      {"resnet20", {3, 32, 32}},
      {"mobilenet_tiny", {3, 32, 32}},
      {"vgg_small", {3, 32, 32}},
  };
  for (const auto& [name, shape] : nets)
    benchmark::RegisterBenchmark(("train_step/" + std::string(name)).c_str(), BM_train_step,
                                 std::string(name), shape)
        ->Arg(1)
        ->Arg(2)
        ->ArgName("threads")
        ->UseRealTime()
        ->Unit(benchmark::kMillisecond);
}
