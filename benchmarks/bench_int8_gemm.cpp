// int8 GEMM microbenchmarks, rows named <impl>/<isa>/<shape>/threads:<t>:
//   impl   qbench (engine/int8, u8 activations × packed s8 weights -> int32),
//          qbench_narrow (the same with weights in [-64, 63], PackedWeights::narrow(): the
//          vpmaddubsw kernels of avx2 and avx512bw, exact),
//          qbench_a7 (activations in [0, 127] packed with Activations::u7, weights over the
//          whole range: the same vpmaddubsw kernels, exact, on the very data oneDNN's avx2 and
//          avx512bw rows get),
//          qbench_acc16 (engine/int8 gemm_acc16: the same product accumulated in 16 bits,
//          vpmaddubsw + vpaddw; AVX2 only),
//          openblas_sgemm (fp32 on the same values, the engine's policy: rows split across
//          qbench's threads, single-threaded OpenBLAS inside),
//          onednn (int8 matmul, peer_onednn.cpp; 7-bit activations on its non-VNNI ISAs),
//          gemmlowp (uint8 GEMM with offsets, peer_gemmlowp.cpp);
//          the last two only when CMake found them (QB_HAVE_ONEDNN, QB_HAVE_GEMMLOWP)
//   isa    scalar, avx2, avxvnni, avx512bw, avx512vnni (qbench: every one this CPU has;
//          onednn: the one ONEDNN_MAX_CPU_ISA caps it to, one per process),
//          default (peers at their own choice)
//   peak/<isa>/<sequence> rows (peak_int8.cpp): one core's measured multiply-add throughput of
//          the instruction sequence under each kernel, the yardstick for "% of peak"
//   shape  sq256, sq512, sq1024 (M = N = K) and the ResNet-20 convolutions at batch 128 as
//          im2col GEMMs, M = 128·H·W, N = C_out, K = C_in·9:
//          r20s1 (131072×16×144), r20s2 (32768×32×288), r20s3 (8192×64×576); r20s1_img
//          (1024×16×144) is r20s1 for one image, operands in L2: the integer engine's block
//          (integer/engine.h), the kernel without r20s1's 27 MB of streamed A and C
// qbench_s16/<shape> rows: the int16 GEMM of APT's integer training path (engine/int8/gemm_s16.h,
// 16-bit gradient codes × 8-bit operand codes, int64 sums) on the GEMMs of one image's
// backward pass, M×N×K, each beside openblas_sgemm on the same shape (the fake-quant path's
// GEMM; engine/layers/conv2d_fixed.h says which product each is):
//   apt_r20s1_dx (1024×16×144: dX of a stage-1 conv as the convolution of dy with the flipped
//   filters, K = output channels · 9), apt_r20s3_dx (64×64×576), apt_r20s1_dw (144×16×4096:
//   dW of 4 images side by side, K = their pixels), apt_r20s3_dw (576×64×4096: 64 images),
//   apt_lenet_c2_dx (100×150×16: a 5×5 unpadded conv's dX by col2im, K = output channels).
// B (the right operand) is packed outside the timed loop, as a layer packs its weights once a
// step; dW's B (dy) is packed per chunk of images in real use, O(N·K) against O(M·N·K).
// The GOPS counter counts 2 operations per multiply-add. Weights are packed outside the
// timed loop (once per model in real use). scripts/bench-int8 runs one process per ISA and
// tabulates the ratios (scripts/int8_ratios.py).
#include "benchmarks/int8_peers.h"
#include "benchmarks/main.h"
#include "engine/gemm.h"
#include "engine/int8/gemm.h"
#include "engine/int8/gemm_s16.h"
#include "engine/parallel.h"

#include <benchmark/benchmark.h>

#include <cstdint>
#include <cstdio>
#include <string>
#include <utility>
#include <vector>

namespace {

using namespace qb;
using bench::GemmShape;
using bench::random_values;
using bench::set_gops;

constexpr GemmShape kShapes[] = {
    {"sq256", 256, 256, 256},
    {"sq512", 512, 512, 512},
    {"sq1024", 1024, 1024, 1024},
    {"r20s1", 128 * 32 * 32, 16, 16 * 9},
    {"r20s1_img", 32 * 32, 16, 16 * 9},  // one image: what the integer engine multiplies at once
    {"r20s2", 128 * 16 * 16, 32, 32 * 9},
    {"r20s3", 128 * 8 * 8, 64, 64 * 9},
};

constexpr GemmShape kAptShapes[] = {
    {"apt_r20s1_dx", 32 * 32, 16, 16 * 9},     {"apt_r20s3_dx", 8 * 8, 64, 64 * 9},
    {"apt_r20s1_dw", 16 * 9, 16, 4 * 32 * 32}, {"apt_r20s3_dw", 64 * 9, 64, 64 * 8 * 8},
    {"apt_lenet_c2_dx", 10 * 10, 6 * 25, 16},
};

// Which operands a qbench row multiplies (see the header).
enum class Operands { full, narrow_weights, a7 };

void BM_qbench(benchmark::State& state, int8::Isa isa, GemmShape s, Operands ops) {
  set_threads(int(state.range(0)));
  const int a_max = ops == Operands::a7 ? 127 : 255;
  const int w_max = ops == Operands::narrow_weights ? 63 : 127;
  const auto A = random_values<std::uint8_t>(std::size_t(s.M) * s.K, 0, a_max, 1);
  const auto W = random_values<std::int8_t>(std::size_t(s.N) * s.K, -w_max - 1, w_max, 2);
  const int8::PackedWeights packed(
      W.data(), s.N, s.K, s.K, isa, int8::Accumulator::int32,
      ops == Operands::a7 ? int8::Activations::u7 : int8::Activations::any);
  std::vector<std::int32_t> C(std::size_t(s.M) * s.N);
  for (auto _ : state) {
    int8::gemm(A.data(), s.K, s.M, packed, C.data(), s.N);
    benchmark::DoNotOptimize(C.data());
    benchmark::ClobberMemory();
  }
  set_gops(state, s);
}

void BM_qbench_acc16(benchmark::State& state, GemmShape s) {
  set_threads(int(state.range(0)));
  const auto A = random_values<std::uint8_t>(std::size_t(s.M) * s.K, 0, 255, 1);
  const auto W = random_values<std::int8_t>(std::size_t(s.N) * s.K, -128, 127, 2);
  const int8::PackedWeights packed(W.data(), s.N, s.K, s.K, int8::Isa::avx2,
                                   int8::Accumulator::int16);
  std::vector<std::int32_t> C(std::size_t(s.M) * s.N);
  for (auto _ : state) {
    int8::gemm_acc16(A.data(), s.K, s.M, packed, C.data(), s.N);
    benchmark::DoNotOptimize(C.data());
    benchmark::ClobberMemory();
  }
  set_gops(state, s);
}

void BM_qbench_s16(benchmark::State& state, GemmShape s) {
  set_threads(int(state.range(0)));
  const auto A = random_values<std::int16_t>(std::size_t(s.M) * s.K, -32767, 32767, 1);
  const auto B = random_values<std::int16_t>(std::size_t(s.N) * s.K, -127, 127, 2);
  const int8::PackedS16 packed(B.data(), s.N, s.K, s.K);
  std::vector<std::int64_t> C(std::size_t(s.M) * s.N);
  for (auto _ : state) {
    int8::gemm_s16(s.M, A.data(), s.K, packed, C.data(), s.N);
    benchmark::DoNotOptimize(C.data());
    benchmark::ClobberMemory();
  }
  set_gops(state, s);
}

void BM_openblas_sgemm(benchmark::State& state, GemmShape s) {
  set_threads(int(state.range(0)));
  const auto A = random_values<float>(std::size_t(s.M) * s.K, 0, 255, 1);
  const auto W = random_values<float>(std::size_t(s.N) * s.K, -128, 127, 2);
  std::vector<float> C(std::size_t(s.M) * s.N);
  for (auto _ : state) {
    sgemm_parallel_rows(false, true, s.M, s.N, s.K, 1.0f, A.data(), s.K, W.data(), s.K, 0.0f,
                        C.data(), s.N);
    benchmark::DoNotOptimize(C.data());
    benchmark::ClobberMemory();
  }
  set_gops(state, s);
}

// Every row's settings: 1 thread, and 2 unless `two_threads` is false; wall time; `unit`.
void with_threads(benchmark::internal::Benchmark* b, bool two_threads, benchmark::TimeUnit unit) {
  b->Arg(1);
  if (two_threads) b->Arg(2);
  b->ArgName("threads")->UseRealTime()->Unit(unit);
}

}  // namespace

void qb::bench::register_benchmarks() {
  const auto ms = benchmark::kMillisecond;
  for (const auto& s : kShapes) {
    for (int8::Isa isa : int8::kAllIsas) {
      if (!int8::cpu_has(isa)) {
        std::fprintf(stderr, "bench_int8_gemm: this CPU lacks %s; its rows are not registered\n",
                     int8::isa_name(isa));
        continue;
      }
      const std::string tail = std::string(int8::isa_name(isa)) + "/" + s.name;
      // The scalar reference is single-threaded.
      with_threads(benchmark::RegisterBenchmark(("qbench/" + tail).c_str(), BM_qbench, isa, s,
                                                Operands::full),
                   isa != int8::Isa::scalar, ms);
      if (isa == int8::Isa::avx2 || isa == int8::Isa::avx512bw)
        for (auto [impl, ops] : {std::pair{"qbench_narrow/", Operands::narrow_weights},
                                 std::pair{"qbench_a7/", Operands::a7}})
          with_threads(benchmark::RegisterBenchmark((impl + tail).c_str(), BM_qbench, isa, s, ops),
                       true, ms);
    }
    if (int8::cpu_has(int8::Isa::avx2))
      with_threads(benchmark::RegisterBenchmark(
                       (std::string("qbench_acc16/avx2/") + s.name).c_str(), BM_qbench_acc16, s),
                   true, ms);
    with_threads(
        benchmark::RegisterBenchmark((std::string("openblas_sgemm/default/") + s.name).c_str(),
                                     BM_openblas_sgemm, s),
        true, ms);
#ifdef QB_HAVE_ONEDNN
    bench::register_onednn_rows(s);
#endif
#ifdef QB_HAVE_GEMMLOWP
    bench::register_gemmlowp_rows(s);
#endif
  }
  // APT's int16 products are microseconds long and run single-threaded (the layer splits its
  // images over the threads).
  for (const auto& s : kAptShapes) {
    with_threads(benchmark::RegisterBenchmark((std::string("qbench_s16/") + s.name).c_str(),
                                              BM_qbench_s16, s),
                 false, benchmark::kMicrosecond);
    with_threads(
        benchmark::RegisterBenchmark((std::string("openblas_sgemm/default/") + s.name).c_str(),
                                     BM_openblas_sgemm, s),
        false, benchmark::kMicrosecond);
  }
  bench::register_peak_rows();
}
