// Quantizer benchmarks, registered from the method registry: every method × role × bits on a
// tensor that fits in L2 and one that does not, beside a plain copy of the same bytes (the
// memory-bandwidth ceiling a fused fake-quant pass should approach); and the whole LeNet-5 and
// ResNet-20 training steps in FP32 beside the same step with each method at W4A4 (the cost of
// QAT; scripts/qat_step_ratios.py pairs them pass by pass); and APT's training step at
// W8A8G8 (every GEMM operand, output gradients included, starting at 8 bits) with its GEMMs on
// the integer kernels (<net>_step/apt_w8a8g8_integer) and on float GEMMs of the same fixed-point
// values (<net>_step/apt_w8a8g8_fake-quant), beside the FP32 step (<net>_step/none) — batch
// 128, 1 and 2 threads; one interleaved run gives issue 17's three ratios, paired per pass (one
// command, then the script):
//   build/bench_quantizers --benchmark_filter='_step/(none|apt_w8a8g8_)'
//       --benchmark_repetitions=5 --benchmark_enable_random_interleaving=true
//       --benchmark_min_time=1 --benchmark_out=runs/apt-steps.json
//   scripts/qat_step_ratios.py runs/apt-steps.json
#include "benchmarks/main.h"
#include "engine/check.h"
#include "engine/loss.h"
#include "engine/nets.h"
#include "engine/parallel.h"
#include "engine/rng.h"
#include "methods/fake_quant.h"
#include "methods/qat.h"
#include "methods/registry.h"

#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstring>

namespace {

using namespace qb;

Tensor random_tensor(std::size_t n, std::uint64_t seed) {
  Tensor t = Tensor::from_shape({n});
  Rng rng(seed);
  for (auto& v : t) v = float(rng.normal());
  return t;
}

void set_bytes(benchmark::State& state, std::size_t n) {
  // Bytes read plus bytes written per iteration.
  state.SetBytesProcessed(std::int64_t(state.iterations()) * std::int64_t(2 * n * sizeof(float)));
}

void BM_copy(benchmark::State& state) {
  const std::size_t n = std::size_t(state.range(0));
  const Tensor x = random_tensor(n, 1);
  Tensor y = Tensor::from_shape({n});
  for (auto _ : state) {
    std::memcpy(y.data(), x.data(), n * sizeof(float));
    benchmark::ClobberMemory();
  }
  set_bytes(state, n);
}

void BM_fake_quant_kernel(benchmark::State& state) {
  const std::size_t n = std::size_t(state.range(0));
  const Tensor x = random_tensor(n, 1);
  Tensor y = Tensor::from_shape({n});
  for (auto _ : state) {
    fake_quant(x.data(), y.data(), n, 0.25f, -7.0f, 7.0f);
    benchmark::ClobberMemory();
  }
  set_bytes(state, n);
}

QuantizerSpec bench_spec(QuantRole role, int bits) {
  QuantizerSpec spec;
  spec.role = role;
  spec.bits = bits;
  LayerInfo layer;
  layer.kind = LayerKind::conv;
  spec.layer = layer;
  return spec;
}

// Whether `method` builds a quantizer for this role and width (SYQ weights: 1 or 2 bits only).
bool accepts(const std::string& method, QuantRole role, int bits) {
  try {
    make_method(method)->make_checked(bench_spec(role, bits));
    return true;
  } catch (const Error&) {
    return false;
  }
}

void BM_quantizer(benchmark::State& state, std::string method, QuantRole role, int bits) {
  const std::size_t n = std::size_t(state.range(0));
  auto q = make_method(method)->make_checked(bench_spec(role, bits));
  const Tensor x = random_tensor(n, 2);
  q->calibrate(x);
  for (auto _ : state) benchmark::DoNotOptimize(q->forward(x, true).data());
  set_bytes(state, n);
}

// SGD steps of `net` on one batch of 128 random Fashion-MNIST-shaped images, one untimed first.
void sgd_steps(benchmark::State& state, Network& net) {
  Optimizer opt =
      make_optimizer(net.params(), OptimizerSpec{OptimizerKind::sgd, 0.01f, 0.9f, false, 5e-4f},
                     ScheduleSpec{ScheduleKind::constant}, true);
  Tensor x = random_tensor(128 * 784, 3);
  x.reshape({128, 1, 28, 28});
  std::vector<std::int32_t> labels(128);
  for (std::size_t i = 0; i < 128; ++i) labels[i] = std::int32_t(i % 10);
  SoftmaxCrossEntropy loss;
  auto step = [&] {
    opt.zero_grad();
    benchmark::DoNotOptimize(loss.forward(net.forward(x, true), labels));
    net.backward(loss.backward());
    opt.step(0.0, 1.0);
  };
  step();
  for (auto _ : state) step();
  state.SetItemsProcessed(std::int64_t(state.iterations() * 128));
}

void BM_net_step(benchmark::State& state, std::string net_name, std::string method, int wbits,
                 int abits) {
  set_threads(int(state.range(0)));
  auto net = make_network(net_name, {1, 28, 28});
  net->init_weights(1);
  if (!method.empty()) {
    QatConfig c{method, {}};
    c.settings.wbits = method == "fp32" ? 32 : wbits;
    c.settings.abits = method == "fp32" ? 32 : abits;
    make_qat(c).attach(*net);
  }
  sgd_steps(state, *net);
}

// SGD steps of `net_name` with APT at W8A8G8 (every GEMM's operands start at 8 bits) and
// options.gemm = gemm. The widths are those the controller settles on during the untimed step
// and after (no epoch length is given, so its adaptive interval runs throughout).
void BM_apt_step(benchmark::State& state, std::string net_name, std::string gemm) {
  set_threads(int(state.range(0)));
  auto net = make_network(net_name, {1, 28, 28});
  net->init_weights(1);
  QatConfig c{"apt", {}};
  c.settings.wbits = c.settings.abits = c.settings.gbits = 8;
  c.settings.options = {{"gemm", gemm}};
  make_qat(c).attach(*net);
  sgd_steps(state, *net);
}

// ALT's step once BatchNorm is frozen (by its schedule, from the second epoch on): each folded
// conv + BN then runs one convolution, not the second, unquantized one for batch statistics
// that the step above (first epoch) pays for.
void BM_alt_frozen_step(benchmark::State& state, std::string net_name) {
  set_threads(int(state.range(0)));
  auto net = make_network(net_name, {1, 28, 28});
  net->init_weights(1);
  QatConfig c{"alt", {}};
  c.settings.wbits = c.settings.abits = 4;
  make_qat(c).attach(*net);
  net->set_bn_frozen(true);
  sgd_steps(state, *net);
}

}  // namespace

void qb::bench::register_benchmarks() {
  const std::int64_t sizes[] = {1 << 16, 1 << 24};  // 256 KiB (L2) and 64 MiB (DRAM)
  for (auto n : sizes) {
    benchmark::RegisterBenchmark("copy", BM_copy)->Arg(n);
    benchmark::RegisterBenchmark("fake_quant_kernel", BM_fake_quant_kernel)->Arg(n);
  }
  for (const auto& name : method_names()) {
    const auto m = make_method(name);
    for (QuantRole role : m->info().roles)
      for (int bits : {2, 4, 8, 32}) {
        if (bits < m->info().min_bits || bits > m->info().max_bits) continue;
        if (!accepts(name, role, bits)) continue;
        const std::string label =
            "quantizer/" + name + "/" + to_string(role) + "/b" + std::to_string(bits);
        for (auto n : sizes)
          benchmark::RegisterBenchmark(label.c_str(), BM_quantizer, name, role, bits)->Arg(n);
      }
  }
  // The step of each network without quantizers, then with each method at W4A4, or the
  // method's nearest width: narrower weights where 4 bits are refused (SYQ: ternary), its
  // narrowest where that is above 4 (APT: W8A8). scripts/qat_step_ratios.py pairs them.
  for (const char* net : {"lenet5", "resnet20"}) {
    const std::string prefix = std::string(net) + "_step/";
    benchmark::RegisterBenchmark((prefix + "none").c_str(), BM_net_step, std::string(net),
                                 std::string(), 32, 32)
        ->Arg(1)
        ->Arg(2)
        ->ArgName("threads")
        ->UseRealTime()
        ->Unit(benchmark::kMillisecond);
    for (const auto& name : method_names()) {
      const MethodInfo info = make_method(name)->info();
      const int lowest = info.min_bits;
      int wbits = std::max(4, lowest);
      // Only a weight quantizer of the method's own can refuse a width (PACT's weights are
      // DoReFa's, built by its make_layer, and take 4 bits).
      const bool own_weights =
          std::find(info.roles.begin(), info.roles.end(), QuantRole::weight) != info.roles.end();
      while (wbits > 1 && name != "fp32" && own_weights && !accepts(name, QuantRole::weight, wbits))
        --wbits;
      const int abits = std::max(4, lowest);
      const std::string label =
          prefix + name + "_w" + std::to_string(wbits) + "a" + std::to_string(abits);
      benchmark::RegisterBenchmark(label.c_str(), BM_net_step, std::string(net), name, wbits, abits)
          ->Arg(1)
          ->Arg(2)
          ->ArgName("threads")
          ->UseRealTime()
          ->Unit(benchmark::kMillisecond);
    }
  }
  benchmark::RegisterBenchmark("resnet20_step/alt_w4a4_bn_frozen", BM_alt_frozen_step,
                               std::string("resnet20"))
      ->Arg(1)
      ->Arg(2)
      ->ArgName("threads")
      ->UseRealTime()
      ->Unit(benchmark::kMillisecond);
  // APT's steps, named so that scripts/qat_step_ratios.py pairs them with <net>_step/none.
  for (const char* net : {"lenet5", "resnet20"})
    for (const char* gemm : {"fake-quant", "integer"}) {
      const std::string label = std::string(net) + "_step/apt_w8a8g8_" + gemm;
      benchmark::RegisterBenchmark(label.c_str(), BM_apt_step, std::string(net), std::string(gemm))
          ->Arg(1)
          ->Arg(2)
          ->ArgName("threads")
          ->UseRealTime()
          ->Unit(benchmark::kMillisecond);
    }
}
