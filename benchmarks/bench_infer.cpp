// Inference throughput: our fp32 network (evaluation forward, OpenBLAS convolutions) against
// the integer engine (integer/engine.h: the int8 kernels, exact int32 sums) on the same
// architecture, rows named
//   infer/<fp32|int8|int8_a7>/<net>/batch:<B>/threads:<T>   items_per_second = images per second
// for LeNet-5 (1×28×28, Fashion-MNIST's shape) and ResNet-20 (3×32×32, CIFAR-10's shape, as
// bench_engine and bench_int8_gemm's r20 shapes), batch 128 and 1, 1 and 2 threads.
//
// No checkpoint is read: both networks get the same deterministic random init (seed 1); the
// integer one is minmax W8A8 (per-tensor), calibrated by one evaluation forward of random
// 8-bit images, then exported once outside the timed loop. int8_a7 rows are the same with
// 7-bit activations (W8A7): codes ≤ 127, so the engine runs AVX2's vpmaddubsw kernels, exact
// for them, where full 8-bit codes need vpmaddwd (half the multiply-adds per instruction).
// PyTorch's onednn engine runs vpmaddubsw on full 8-bit activations without VNNI, letting pair
// sums saturate; fbgemm calibrates 7-bit activations (reduce_range) to avoid that: int8_a7 is
// the like-for-like row for both on an AVX2 machine. The timed region of an int8 row is
// Engine::forward alone — the image quantised to codes, every layer, the logits dequantised —
// with no exact simulation, no fake-quant pass and no agreement check. The ratio int8 / fp32
// of the same net, batch and threads is the speed-up of integer inference;
// benchmarks/peer_torch_int8.py sets these rows beside PyTorch's quantized engine.
//
// 16-bit accumulation (issue 16, "Speed"), rows
//   infer/<acc16|acc32>/<net>/batch:<B>/threads:<T>
// for LeNet-5, ResNet-20 and MobileNet-tiny (3×32×32): one overflow-free W8A7 network run twice,
// by the engine's pair-wrap model on gemm_acc16 without counting (acc16: vpmaddubsw + vpaddw)
// and by its exact int32 path (acc32: the same vpmaddubsw, widened by vpmaddwd and added by
// vpaddd, as 7-bit activations allow). The network is A2Q's (L1 bound for a 16-bit accumulator
// and 7-bit inputs, the image's 8-bit pixels in the first layer): no dot product can overflow,
// whatever the input; the row checks it on its images with the counting engine (0 wrong dot
// products under pair-wrap) and fails otherwise. Which OAQ-style network it is does not change
// the time: the kernels' work depends on the shapes, not on the codes. Pair the rows pass by
// pass with scripts/infer_acc16_ratios.py (the command is in its docstring).
#include "benchmarks/main.h"
#include "engine/int8/isa.h"
#include "engine/nets.h"
#include "engine/parallel.h"
#include "engine/rng.h"
#include "integer/engine.h"
#include "integer/export.h"
#include "methods/qat.h"

#include <benchmark/benchmark.h>

#include <memory>
#include <string>
#include <vector>

namespace {

using namespace qb;

struct NetCase {
  const char* name;
  Shape input;  // C, H, W
};

constexpr double kMean = 0.5, kStd = 0.25;  // the images' normalisation, every channel

// N random 8-bit images, normalised as a dataset would give them.
Tensor random_images(std::size_t N, const Shape& input, std::uint64_t seed) {
  Rng rng(seed);
  Shape shape = {N};
  shape.insert(shape.end(), input.begin(), input.end());
  Tensor x = Tensor::from_shape(shape);
  for (float& v : x) v = float((double(rng.uniform_int(256)) / 255.0 - kMean) / kStd);
  return x;
}

void BM_fp32(benchmark::State& state, NetCase c, std::size_t N) {
  set_threads(int(state.range(0)));
  auto net = make_network(c.name, c.input, 10);
  net->init_weights(1);
  const Tensor x = random_images(N, c.input, 2);
  net->forward(x, false);  // warm-up: allocates the layers' buffers
  for (auto _ : state) benchmark::DoNotOptimize(net->forward(x, false).data());
  state.SetItemsProcessed(std::int64_t(state.iterations() * N));
}

// The network quantized by `q`, calibrated on 64 random images, exported to integers.
integer::Network exported(const NetCase& c, const QatConfig& q) {
  auto net = make_network(c.name, c.input, 10);
  make_qat(q).attach(*net);
  net->init_weights(1);
  net->forward(random_images(64, c.input, 3), false);  // calibrates every quantizer
  // One normalisation for every channel: the image's 8-bit pixel grid (export.h).
  return integer::export_network(*net, {q.method, {kMean}, {kStd}});
}

void time_engine(benchmark::State& state, integer::Engine& engine, const Tensor& x, std::size_t N) {
  std::vector<double> logits;
  engine.forward(x.data(), int(N), logits);  // warm-up: allocates the engine's buffers
  for (auto _ : state) {
    engine.forward(x.data(), int(N), logits);
    benchmark::DoNotOptimize(logits.data());
  }
  state.SetItemsProcessed(std::int64_t(state.iterations() * N));
  state.SetLabel(int8::isa_name(engine.isa()));
}

void BM_int8(benchmark::State& state, NetCase c, std::size_t N, int abits) {
  set_threads(int(state.range(0)));
  QatConfig q{"minmax", {}};
  q.settings.wbits = 8;
  q.settings.abits = abits;
  const integer::Network inet = exported(c, q);  // the engine keeps a reference
  integer::Engine engine(inet, integer::AccModel::int32, int8::best_isa());
  time_engine(state, engine, random_images(N, c.input, 2), N);
}

// acc16: `pair-wrap` on the 16-bit kernels; otherwise exact int32 sums.
void BM_acc(benchmark::State& state, NetCase c, std::size_t N, bool acc16) {
  set_threads(int(state.range(0)));
  QatConfig q{"a2q", {}};
  q.settings.wbits = 8;
  q.settings.abits = 7;
  q.settings.options = {{"acc_bits", 16}};
  const integer::Network inet = exported(c, q);
  const Tensor x = random_images(N, c.input, 2);
  {  // the certificate, on these images
    std::vector<double> logits;
    integer::Engine counting(inet, integer::AccModel::pair_wrap, int8::best_isa());
    counting.forward(x.data(), int(N), logits);
    for (const integer::OverflowStats& st : counting.stats())
      if (st.wrong > 0)
        return state.SkipWithError(("layer " + st.layer + " overflows 16 bits").c_str());
  }
  integer::Engine engine(inet, acc16 ? integer::AccModel::pair_wrap : integer::AccModel::int32,
                         int8::best_isa(), {.count_overflows = !acc16});
  time_engine(state, engine, x, N);
}

}  // namespace

void qb::bench::register_benchmarks() {
  const NetCase nets[] = {{"lenet5", {1, 28, 28}}, {"resnet20", {3, 32, 32}}};
  for (const NetCase& c : nets)
    for (std::size_t N : {128, 1})
      for (const char* kind : {"fp32", "int8", "int8_a7"}) {
        const std::string name =
            "infer/" + std::string(kind) + "/" + c.name + "/batch:" + std::to_string(N);
        auto* b = kind == std::string("fp32")
                      ? benchmark::RegisterBenchmark(name.c_str(), BM_fp32, c, N)
                      : benchmark::RegisterBenchmark(name.c_str(), BM_int8, c, N,
                                                     kind == std::string("int8") ? 8 : 7);
        b->Arg(1)->Arg(2)->ArgName("threads")->UseRealTime()->Unit(benchmark::kMicrosecond);
      }
  const NetCase acc_nets[] = {
      {"lenet5", {1, 28, 28}}, {"resnet20", {3, 32, 32}}, {"mobilenet_tiny", {3, 32, 32}}};
  for (const NetCase& c : acc_nets)
    for (std::size_t N : {128, 1})
      for (const bool acc16 : {true, false}) {
        const std::string name = "infer/" + std::string(acc16 ? "acc16" : "acc32") + "/" + c.name +
                                 "/batch:" + std::to_string(N);
        benchmark::RegisterBenchmark(name.c_str(), BM_acc, c, N, acc16)
            ->Arg(1)
            ->Arg(2)
            ->ArgName("threads")
            ->UseRealTime()
            ->Unit(benchmark::kMicrosecond);
      }
}
