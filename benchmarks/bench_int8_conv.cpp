// int8 convolution and requantisation microbenchmarks, rows named:
//   qbench/<isa>/<shape>/threads:<t>     engine/int8 Conv2dInt8 (u8 NHWC × s8 -> int32 NHWC),
//                                        weights packed outside the timed loop
//   fp32_conv/default/<shape>/threads:<t>  the engine's fp32 Conv2d layer (NCHW, im2col +
//                                        OpenBLAS sgemm; a direct loop for depthwise), forward
//                                        only, on the same values
//   requant/<isa>/<n>                    per-column multiplier requantisation of n int32
//                                        (64 columns, with a bias) to u8, one thread
//   requant_shift/<isa>/<n>              the same by a power-of-2 shift
// Shapes, batch 32, 3×3 kernels, stride 1, padding 1:
//   r20_c16_32x32, r20_c32_16x16, r20_c64_8x8     ResNet-20's three stages (C_in = C_out)
//   dw_c32_32x32, dw_c64_16x16, dw_c128_8x8      MobileNet-like depthwise convolutions
// Depthwise rows exist for scalar and avx2 only: every ISA above avx2 runs the AVX2 kernel.
// GOPS counts 2 operations per multiply-add; requant rows count Gelem/s and GB/s (4 bytes
// read and 1 written per element).
#include "benchmarks/int8_peers.h"
#include "benchmarks/main.h"
#include "engine/int8/conv.h"
#include "engine/int8/requantize.h"
#include "engine/layers/conv2d.h"
#include "engine/parallel.h"
#include "engine/rng.h"

#include <benchmark/benchmark.h>

#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

namespace {

using namespace qb;
using bench::random_values;

constexpr int kBatch = 32;

struct ConvShape {
  const char* name;
  int C, H;  // C_in = C_out, H = W
  bool depthwise;
};

constexpr ConvShape kShapes[] = {
    {"r20_c16_32x32", 16, 32, false}, {"r20_c32_16x16", 32, 16, false},
    {"r20_c64_8x8", 64, 8, false},    {"dw_c32_32x32", 32, 32, true},
    {"dw_c64_16x16", 64, 16, true},   {"dw_c128_8x8", 128, 8, true},
};

void set_gops(benchmark::State& state, const ConvShape& s) {
  // 3×3, stride 1, padding 1: H×W outputs; K = 9·C (9 for depthwise) per output channel.
  const double macs = double(kBatch) * s.H * s.H * s.C * 9.0 * (s.depthwise ? 1 : s.C);
  state.counters["GOPS"] =
      benchmark::Counter(2.0 * macs * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
}

void BM_qbench(benchmark::State& state, int8::Isa isa, ConvShape s) {
  set_threads(int(state.range(0)));
  const auto x = random_values<std::uint8_t>(std::size_t(kBatch) * s.H * s.H * s.C, 0, 255, 1);
  const auto w =
      random_values<std::int8_t>(std::size_t(s.C) * 9 * (s.depthwise ? 1 : s.C), -128, 127, 2);
  const auto g = int8::ConvGeometry::square(3, 1, 1);
  int8::Conv2dInt8 conv = s.depthwise ? int8::Conv2dInt8::depthwise(w.data(), s.C, g, isa)
                                      : int8::Conv2dInt8(w.data(), s.C, s.C, g, isa);
  std::vector<std::int32_t> y(std::size_t(kBatch) * s.H * s.H * s.C);
  conv.forward(x.data(), kBatch, s.H, s.H, 128, y.data());  // warm-up: the im2col buffer
  for (auto _ : state) {
    conv.forward(x.data(), kBatch, s.H, s.H, 128, y.data());
    benchmark::DoNotOptimize(y.data());
    benchmark::ClobberMemory();
  }
  set_gops(state, s);
}

void BM_fp32_conv(benchmark::State& state, ConvShape s) {
  set_threads(int(state.range(0)));
  const auto C = std::size_t(s.C);
  Conv2d conv("conv", {C, C, 3, 1, 1, s.depthwise ? C : 1, false});
  const auto w = random_values<float>(conv.weight().value.size(), -128, 127, 2);
  std::copy(w.begin(), w.end(), conv.weight().value.begin());
  Tensor x = Tensor::from_shape({std::size_t(kBatch), C, std::size_t(s.H), std::size_t(s.H)});
  const auto xv = random_values<float>(x.size(), 0, 255, 1);
  std::copy(xv.begin(), xv.end(), x.begin());
  conv.forward(x, false);  // warm-up: the layer's buffers
  for (auto _ : state) benchmark::DoNotOptimize(conv.forward(x, false).data());
  set_gops(state, s);
}

constexpr int kRequantCols = 64;

void BM_requant(benchmark::State& state, int8::Isa isa, int n, bool by_shift) {
  set_threads(1);
  const int M = n / kRequantCols, N = kRequantCols;
  // Accumulators of a K = 576 GEMM's size.
  const auto C = random_values<std::int32_t>(std::size_t(n), -2000000, 2000000, 3);
  const auto bias = random_values<std::int32_t>(N, -50000, 50000, 4);
  std::vector<int8::Multiplier> mult(N);
  Rng rng(5);
  for (auto& m : mult) m = int8::quantize_multiplier(1e-4 * (1 + rng.uniform()));
  int8::OutputParams out{128};
  out.bias = bias.data();
  std::vector<std::uint8_t> y(static_cast<std::size_t>(n));
  for (auto _ : state) {
    if (by_shift)
      int8::requantize_shift(C.data(), N, M, N, 14, out, y.data(), N, isa);
    else
      int8::requantize(C.data(), N, M, N, mult, out, y.data(), N, isa);
    benchmark::DoNotOptimize(y.data());
    benchmark::ClobberMemory();
  }
  state.counters["Gelem/s"] =
      benchmark::Counter(n * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
  state.counters["GB/s"] =
      benchmark::Counter(n * 5e-9, benchmark::Counter::kIsIterationInvariantRate);
}

}  // namespace

void qb::bench::register_benchmarks() {
  std::vector<int8::Isa> isas;
  for (int8::Isa isa : int8::kAllIsas) {
    if (int8::cpu_has(isa))
      isas.push_back(isa);
    else
      std::fprintf(stderr, "bench_int8_conv: this CPU lacks %s; its rows are not registered\n",
                   int8::isa_name(isa));
  }
  for (const auto& s : kShapes) {
    for (int8::Isa isa : isas) {
      if (s.depthwise && isa > int8::Isa::avx2) continue;  // the AVX2 kernel again
      auto* b = benchmark::RegisterBenchmark(
          (std::string("qbench/") + int8::isa_name(isa) + "/" + s.name).c_str(), BM_qbench, isa, s);
      b->Arg(1);
      if (isa != int8::Isa::scalar || s.depthwise) b->Arg(2);
      b->ArgName("threads")->UseRealTime()->Unit(benchmark::kMillisecond);
    }
    benchmark::RegisterBenchmark((std::string("fp32_conv/default/") + s.name).c_str(), BM_fp32_conv,
                                 s)
        ->Arg(1)
        ->Arg(2)
        ->ArgName("threads")
        ->UseRealTime()
        ->Unit(benchmark::kMillisecond);
  }
  // 65536 (one 1K-pixel image at 64 channels) and 32·32·32·16 (ResNet-20's first stage).
  for (int n : {65536, 524288})
    for (int8::Isa isa : isas) {
      // avxvnni and avx512vnni run the avx2 and avx512bw requantisation kernels.
      if (isa == int8::Isa::avxvnni || isa == int8::Isa::avx512vnni) continue;
      for (bool by_shift : {false, true})
        benchmark::RegisterBenchmark((std::string(by_shift ? "requant_shift/" : "requant/") +
                                      int8::isa_name(isa) + "/" + std::to_string(n))
                                         .c_str(),
                                     BM_requant, isa, n, by_shift)
            ->UseRealTime()
            ->Unit(benchmark::kMicrosecond);
    }
}
