// What the int8 benchmarks' translation units share: the shapes' type, the data, the GOPS
// counter, the correctness check against gemm_ref, and the peers' registration functions.
// Each peer library lives in its own file (peer_onednn.cpp, peer_gemmlowp.cpp), compiled only
// when CMake finds it (QB_HAVE_ONEDNN, QB_HAVE_GEMMLOWP): gemmlowp's templates are slow to
// compile, and no file mixes two libraries' headers.
#pragma once

#include "engine/int8/reference.h"
#include "engine/rng.h"

#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

namespace qb::bench {

struct GemmShape {
  const char* name;
  int M, N, K;
};

inline void set_gops(benchmark::State& state, const GemmShape& s) {
  state.counters["GOPS"] = benchmark::Counter(2.0 * s.M * s.N * double(s.K) * 1e-9,
                                              benchmark::Counter::kIsIterationInvariantRate);
}

// Uniform integers in [lo, hi]; every implementation gets the same seeds, so the same values.
template <class T>
std::vector<T> random_values(std::size_t n, int lo, int hi, std::uint64_t seed) {
  Rng rng(seed);
  std::vector<T> v(n);
  for (auto& x : v) x = T(lo + int(rng.uniform_int(std::uint64_t(hi - lo + 1))));
  return v;
}

// Compares the first rows of C (M×N, ldc N) with gemm_ref on A (M×K) and W (N×K); 64 rows keep
// the check cheap on the big shapes. Returns "" when equal, else a message for SkipWithError.
inline std::string check_against_ref(const GemmShape& s, const std::uint8_t* A,
                                     const std::int8_t* W, const std::int32_t* C) {
  const int rows = std::min(s.M, 64);
  std::vector<std::int32_t> ref(std::size_t(rows) * s.N);
  int8::gemm_ref(rows, s.N, s.K, A, s.K, W, s.K, ref.data(), s.N);
  for (int m = 0; m < rows; ++m)
    for (int n = 0; n < s.N; ++n)
      if (C[std::size_t(m) * s.N + n] != ref[std::size_t(m) * s.N + n]) {
        char msg[160];
        std::snprintf(msg, sizeof msg, "C[%d][%d] = %d, gemm_ref says %d", m, n,
                      C[std::size_t(m) * s.N + n], ref[std::size_t(m) * s.N + n]);
        return msg;
      }
  return "";
}

// Registers peak/<isa>/<sequence> for every ISA this CPU has (peak_int8.cpp).
void register_peak_rows();
// Registers onednn/<isa>/<shape>/threads:{1,2}, <isa> from ONEDNN_MAX_CPU_ISA (peer_onednn.cpp).
void register_onednn_rows(const GemmShape& s);
// Registers gemmlowp/default/<shape>/threads:{1,2} (peer_gemmlowp.cpp).
void register_gemmlowp_rows(const GemmShape& s);

}  // namespace qb::bench
