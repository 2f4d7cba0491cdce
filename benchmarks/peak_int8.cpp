// peak/<isa>/<sequence> rows of bench_int8_gemm: the multiply-add throughput of one core for
// the instruction sequence each int8 kernel's inner loop is built on, measured on this CPU
// rather than taken from a data sheet. A GEMM row divided by its peak row says how much of the
// arithmetic the kernel keeps busy (scripts/int8_ratios.py, table 4).
//
//   sequence            instructions per vector step          multiply-adds (256 / 512 bit)
//   vpmaddwd            vpmaddwd + vpaddd (exact int32)        16 / 32   qbench avx2, avx512bw
//   vpmaddubsw          vpmaddubsw + vpmaddwd(1) + vpaddd      32 / 64   qbench_narrow, oneDNN
//   vpmaddubsw_acc16    vpmaddubsw + vpaddw                    32        qbench_acc16
//   vpdpbusd            vpdpbusd                               32 / 64   avxvnni, avx512vnni
#include "benchmarks/int8_peers.h"
#include "engine/int8/isa.h"

#include <immintrin.h>

#include <cstdint>
#include <cstring>
#include <string>

namespace qb::bench {
namespace {

constexpr int kChains = 10;
constexpr int kRounds = 24;  // asm statements (rounds of kChains steps) per iteration

// Each round is one asm statement of kChains steps on ten independent accumulators (enough
// to cover every sequence's latency at its throughput), so the compiler can neither merge the
// identical multiplies nor spill the accumulators, as it does when the steps are intrinsics.
// STEP(n) is the text of one step on accumulator %[cn]; %[t] is a scratch register.
#define QB_ROUND(STEP) \
  STEP(0) STEP(1) STEP(2) STEP(3) STEP(4) STEP(5) STEP(6) STEP(7) STEP(8) STEP(9)
#define QB_VPMADDWD(n) "vpmaddwd %[w], %[a], %[t]\n\tvpaddd %[t], %[c" #n "], %[c" #n "]\n\t"
#define QB_VPMADDUBSW(n)                                            \
  "vpmaddubsw %[w], %[a], %[t]\n\tvpmaddwd %[ones], %[t], %[t]\n\t" \
  "vpaddd %[t], %[c" #n "], %[c" #n "]\n\t"
#define QB_ACC16(n) "vpmaddubsw %[w], %[a], %[t]\n\tvpaddw %[t], %[c" #n "], %[c" #n "]\n\t"
#define QB_VPDPBUSD_VEX(n) "%{vex%} vpdpbusd %[w], %[a], %[c" #n "]\n\t"
#define QB_VPDPBUSD(n) "vpdpbusd %[w], %[a], %[c" #n "]\n\t"

#define QB_PEAK_KERNEL(NAME, TARGET, V, SET1, STEP)                                             \
  __attribute__((target(TARGET))) std::int64_t NAME(std::int64_t iterations) {                  \
    const V a = SET1(0x01020304), w = SET1(0x05060708), ones = SET1(0x00010001);                \
    V c0 = SET1(0), c1 = c0, c2 = c0, c3 = c0, c4 = c0, c5 = c0, c6 = c0, c7 = c0, c8 = c0,     \
      c9 = c0, t;                                                                               \
    for (std::int64_t i = 0; i < iterations * kRounds; ++i)                                     \
      asm volatile(QB_ROUND(STEP)                                                               \
                   : [c0] "+v"(c0), [c1] "+v"(c1), [c2] "+v"(c2), [c3] "+v"(c3), [c4] "+v"(c4), \
                     [c5] "+v"(c5), [c6] "+v"(c6), [c7] "+v"(c7), [c8] "+v"(c8), [c9] "+v"(c9), \
                     [t] "=&v"(t)                                                               \
                   : [a] "v"(a), [w] "v"(w), [ones] "v"(ones));                                 \
    const V all[] = {c0, c1, c2, c3, c4, c5, c6, c7, c8, c9};                                   \
    /* Only keeps the chains alive: unsigned, so the sum may wrap without UB. */                \
    std::uint32_t sum = 0;                                                                      \
    for (const V& v : all) {                                                                    \
      std::uint32_t first;                                                                      \
      std::memcpy(&first, &v, sizeof first);                                                    \
      sum += first;                                                                             \
    }                                                                                           \
    return sum;                                                                                 \
  }

QB_PEAK_KERNEL(avx2_vpmaddwd, "avx2", __m256i, _mm256_set1_epi32, QB_VPMADDWD)
QB_PEAK_KERNEL(avx2_vpmaddubsw, "avx2", __m256i, _mm256_set1_epi32, QB_VPMADDUBSW)
QB_PEAK_KERNEL(avx2_vpmaddubsw_acc16, "avx2", __m256i, _mm256_set1_epi32, QB_ACC16)
QB_PEAK_KERNEL(avxvnni_vpdpbusd, "avx2,avxvnni", __m256i, _mm256_set1_epi32, QB_VPDPBUSD_VEX)
QB_PEAK_KERNEL(avx512bw_vpmaddwd, "avx512f,avx512bw", __m512i, _mm512_set1_epi32, QB_VPMADDWD)
QB_PEAK_KERNEL(avx512bw_vpmaddubsw, "avx512f,avx512bw", __m512i, _mm512_set1_epi32, QB_VPMADDUBSW)
QB_PEAK_KERNEL(avx512vnni_vpdpbusd, "avx512f,avx512bw,avx512vnni", __m512i, _mm512_set1_epi32,
               QB_VPDPBUSD)

#undef QB_ROUND
#undef QB_VPMADDWD
#undef QB_VPMADDUBSW
#undef QB_ACC16
#undef QB_VPDPBUSD_VEX
#undef QB_VPDPBUSD
#undef QB_PEAK_KERNEL

struct PeakRow {
  int8::Isa isa;
  const char* sequence;
  std::int64_t (*kernel)(std::int64_t);
  int macs_per_step;
};

constexpr PeakRow kRows[] = {
    {int8::Isa::avx2, "vpmaddwd", avx2_vpmaddwd, 16},
    {int8::Isa::avx2, "vpmaddubsw", avx2_vpmaddubsw, 32},
    {int8::Isa::avx2, "vpmaddubsw_acc16", avx2_vpmaddubsw_acc16, 32},
    {int8::Isa::avxvnni, "vpdpbusd", avxvnni_vpdpbusd, 32},
    {int8::Isa::avx512bw, "vpmaddwd", avx512bw_vpmaddwd, 32},
    {int8::Isa::avx512bw, "vpmaddubsw", avx512bw_vpmaddubsw, 64},
    {int8::Isa::avx512vnni, "vpdpbusd", avx512vnni_vpdpbusd, 64},
};

void BM_peak(benchmark::State& state, PeakRow row) {
  constexpr std::int64_t kIterations = 4096;
  for (auto _ : state) benchmark::DoNotOptimize(row.kernel(kIterations));
  const double macs = double(kIterations) * kRounds * kChains * row.macs_per_step;
  state.counters["GOPS"] =
      benchmark::Counter(2.0 * macs * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
}

}  // namespace

void register_peak_rows() {
  for (const PeakRow& row : kRows) {
    if (!int8::cpu_has(row.isa)) continue;
    benchmark::RegisterBenchmark(
        (std::string("peak/") + int8::isa_name(row.isa) + "/" + row.sequence).c_str(), BM_peak,
        row);
  }
}

}  // namespace qb::bench
