// gemmlowp/default/<shape> rows: gemmlowp's uint8 GEMM with int32 output (empty output
// pipeline), on qbench's values:
//   C = (A + 0) · (Wu - 128)ᵀ,  Wu = W + 128 stored as uint8,
// which is A · Wᵀ with our s8 W, exactly (gemmlowp widens to int16 and sums with vpmaddwd).
//
// gemmlowp packs both operands inside every call (its public API has no prepacked weights),
// so unlike qbench's and oneDNN's rows these include packing W. Its threads are its own
// (GemmContext::set_max_num_threads), not OpenMP's.
//
// gemmlowp's AVX2 kernel (24×8) is opt-in: without GEMMLOWP_ENABLE_AVX2 it runs its SSE4.1 one
// (12×4) even when compiled with -mavx2. The peer gets its best x86 kernel.
#if defined(__AVX2__) && !defined(GEMMLOWP_ENABLE_AVX2)
#define GEMMLOWP_ENABLE_AVX2
#endif

#include "benchmarks/int8_peers.h"

#include <gemmlowp/public/gemmlowp.h>

#include <tuple>

namespace qb::bench {
namespace {

void BM_gemmlowp(benchmark::State& state, GemmShape s) {
  const auto A = random_values<std::uint8_t>(std::size_t(s.M) * s.K, 0, 255, 1);
  const auto W = random_values<std::int8_t>(std::size_t(s.N) * s.K, -128, 127, 2);
  std::vector<std::uint8_t> Wu(W.size());
  for (std::size_t i = 0; i < W.size(); ++i) Wu[i] = std::uint8_t(W[i] + 128);
  std::vector<std::int32_t> C(std::size_t(s.M) * s.N);

  gemmlowp::GemmContext context;
  context.set_max_num_threads(int(state.range(0)));
  const gemmlowp::MatrixMap<const std::uint8_t, gemmlowp::MapOrder::RowMajor> lhs(A.data(), s.M,
                                                                                  s.K, s.K);
  // W (N×K row-major) read as K×N is column-major.
  const gemmlowp::MatrixMap<const std::uint8_t, gemmlowp::MapOrder::ColMajor> rhs(Wu.data(), s.K,
                                                                                  s.N, s.K);
  gemmlowp::MatrixMap<std::int32_t, gemmlowp::MapOrder::RowMajor> result(C.data(), s.M, s.N, s.N);
  const auto run = [&] {
    gemmlowp::GemmWithOutputPipeline<std::uint8_t, std::int32_t,
                                     gemmlowp::DefaultL8R8BitDepthParams>(
        &context, lhs, rhs, &result, /*lhs_offset=*/0, /*rhs_offset=*/-128, std::make_tuple());
  };

  run();
  if (auto err = check_against_ref(s, A.data(), W.data(), C.data()); !err.empty()) {
    state.SkipWithError(("gemmlowp differs: " + err).c_str());
    return;
  }
  for (auto _ : state) {
    run();
    benchmark::DoNotOptimize(C.data());
    benchmark::ClobberMemory();
  }
  set_gops(state, s);
}

}  // namespace

void register_gemmlowp_rows(const GemmShape& s) {
  benchmark::RegisterBenchmark((std::string("gemmlowp/default/") + s.name).c_str(), BM_gemmlowp, s)
      ->Arg(1)
      ->Arg(2)
      ->ArgName("threads")
      ->UseRealTime()
      ->Unit(benchmark::kMillisecond);
}

}  // namespace qb::bench
