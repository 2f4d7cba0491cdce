// onednn/<isa>/<shape> rows: oneDNN's int8 matmul, u8 src (M×K, row-major) × s8 weights
// (K×N, ours transposed: W is N×K row-major) -> s32 dst (M×N), the same product as qbench's.
//
// The weights are reordered once into the layout oneDNN picks (format_tag::any), outside the
// timed loop like our packing; the primitive is created there too. Only execute + wait are
// timed. oneDNN (Debian's build) threads with OpenMP, so qb::set_threads sets its threads, and
// it reads the thread count when the primitive is created, so that happens after it.
//
// ISA: oneDNN's maximum ISA can be set once per process, before its first primitive, so a
// process has rows for one ISA only: the one ONEDNN_MAX_CPU_ISA names (DNNL_MAX_CPU_ISA as
// oneDNN's fallback), mapped to our names:
//   AVX2 -> avx2, AVX2_VNNI -> avxvnni, AVX512_CORE -> avx512bw,
//   AVX512_CORE_VNNI -> avx512vnni, unset or ALL -> default (oneDNN's own choice),
//   anything else (SSE41, AVX512_CORE_AMX, ...) -> oneDNN's name of the ISA it then runs.
// The effective ISA is printed (stderr) so the log shows the cap took; when it differs from a
// named cap (CPU lacks it, misspelt value), no rows are registered.
//
// Data: without VNNI (effective ISA avx2 or avx512_core), oneDNN multiplies u8×s8 with
// vpmaddubsw, whose adjacent pair sums saturate to int16, so those rows get activations in
// [0, 127] (|2·127·128| < 2^15: exact). VNNI and AMX rows get the full [0, 255]. Each setup
// checks the result against gemm_ref before timing; the label names oneDNN's implementation.
#include "benchmarks/int8_peers.h"
#include "engine/parallel.h"

#include <oneapi/dnnl/dnnl.hpp>

#include <cctype>
#include <cstdlib>
#include <unordered_map>

namespace qb::bench {
namespace {

struct IsaCap {
  const char* env;  // ONEDNN_MAX_CPU_ISA's spelling
  dnnl::cpu_isa isa;
  const char* ours;  // engine/int8/isa.h's name
};

constexpr IsaCap kCaps[] = {
    {"AVX2", dnnl::cpu_isa::avx2, "avx2"},
    {"AVX2_VNNI", dnnl::cpu_isa::avx2_vnni, "avxvnni"},
    {"AVX512_CORE", dnnl::cpu_isa::avx512_core, "avx512bw"},
    {"AVX512_CORE_VNNI", dnnl::cpu_isa::avx512_core_vnni, "avx512vnni"},
};

const char* dnnl_isa_name(dnnl::cpu_isa isa) {
  switch (isa) {
    case dnnl::cpu_isa::all:
      return "all";
    case dnnl::cpu_isa::sse41:
      return "sse41";
    case dnnl::cpu_isa::avx:
      return "avx";
    case dnnl::cpu_isa::avx2:
      return "avx2";
    case dnnl::cpu_isa::avx2_vnni:
      return "avx2_vnni";
    case dnnl::cpu_isa::avx512_core:
      return "avx512_core";
    case dnnl::cpu_isa::avx512_core_vnni:
      return "avx512_core_vnni";
    case dnnl::cpu_isa::avx512_core_bf16:
      return "avx512_core_bf16";
    case dnnl::cpu_isa::avx512_core_amx:
      return "avx512_core_amx";
    default:
      return "other";
  }
}

struct OnednnSetup {
  std::string isa;  // our row name; empty: register nothing
  int a_max = 255;  // activations in [0, a_max]
};

OnednnSetup onednn_setup() {
  const char* env = std::getenv("ONEDNN_MAX_CPU_ISA");
  if (!env) env = std::getenv("DNNL_MAX_CPU_ISA");
  std::string cap = env ? env : "ALL";
  for (auto& c : cap) c = char(std::toupper(static_cast<unsigned char>(c)));

  const dnnl::cpu_isa effective = dnnl::get_effective_cpu_isa();
  const dnnl::version_t* v = dnnl::version();
  std::fprintf(stderr, "bench_int8_gemm: oneDNN %d.%d.%d (%s), cap %s, effective ISA %s\n",
               v->major, v->minor, v->patch,
               v->cpu_runtime == DNNL_RUNTIME_OMP ? "OpenMP" : "not OpenMP", cap.c_str(),
               dnnl_isa_name(effective));

  OnednnSetup setup;
  if (cap == "ALL") {
    setup.isa = "default";
  } else {
    setup.isa = dnnl_isa_name(effective);
    for (const auto& k : kCaps)
      if (cap == k.env) {
        if (effective != k.isa) {
          std::fprintf(stderr,
                       "bench_int8_gemm: oneDNN runs %s, not the %s asked for: no onednn rows\n",
                       dnnl_isa_name(effective), k.env);
          return {};
        }
        setup.isa = k.ours;
      }
  }
  const bool vnni =
      effective == dnnl::cpu_isa::avx2_vnni || effective == dnnl::cpu_isa::avx512_core_vnni ||
      effective == dnnl::cpu_isa::avx512_core_bf16 || effective == dnnl::cpu_isa::avx512_core_amx;
  setup.a_max = vnni ? 255 : 127;
  return setup;
}

void BM_onednn(benchmark::State& state, GemmShape s, int a_max) {
  using dt = dnnl::memory::data_type;
  using tag = dnnl::memory::format_tag;
  set_threads(int(state.range(0)));
  const auto A = random_values<std::uint8_t>(std::size_t(s.M) * s.K, 0, a_max, 1);
  const auto W = random_values<std::int8_t>(std::size_t(s.N) * s.K, -128, 127, 2);
  std::vector<std::int32_t> C(std::size_t(s.M) * s.N);
  try {
    dnnl::engine eng(dnnl::engine::kind::cpu, 0);
    dnnl::stream strm(eng);
    const dnnl::memory::desc a_md({s.M, s.K}, dt::u8, tag::ab);
    // W (N×K row-major) read as K×N is column-major: tag ba.
    const dnnl::memory::desc w_user_md({s.K, s.N}, dt::s8, tag::ba);
    const dnnl::memory::desc w_any_md({s.K, s.N}, dt::s8, tag::any);
    const dnnl::memory::desc c_md({s.M, s.N}, dt::s32, tag::ab);
    const dnnl::matmul::primitive_desc pd(dnnl::matmul::desc(a_md, w_any_md, c_md), eng);

    dnnl::memory w_user(w_user_md, eng, const_cast<std::int8_t*>(W.data()));
    dnnl::memory w_mem(pd.weights_desc(), eng);
    dnnl::reorder(w_user, w_mem).execute(strm, w_user, w_mem);
    dnnl::memory a_mem(a_md, eng, const_cast<std::uint8_t*>(A.data()));
    dnnl::memory c_mem(c_md, eng, C.data());
    const dnnl::matmul prim(pd);
    const std::unordered_map<int, dnnl::memory> args = {
        {DNNL_ARG_SRC, a_mem}, {DNNL_ARG_WEIGHTS, w_mem}, {DNNL_ARG_DST, c_mem}};

    prim.execute(strm, args);
    strm.wait();
    if (auto err = check_against_ref(s, A.data(), W.data(), C.data()); !err.empty()) {
      state.SkipWithError(
          ("oneDNN (" + std::string(pd.impl_info_str()) + ") differs: " + err).c_str());
      return;
    }
    state.SetLabel(pd.impl_info_str());
    for (auto _ : state) {
      prim.execute(strm, args);
      strm.wait();
      benchmark::DoNotOptimize(C.data());
      benchmark::ClobberMemory();
    }
  } catch (const dnnl::error& e) {
    state.SkipWithError((std::string("oneDNN: ") + e.what()).c_str());
    return;
  }
  set_gops(state, s);
}

}  // namespace

void register_onednn_rows(const GemmShape& s) {
  static const OnednnSetup setup = onednn_setup();
  if (setup.isa.empty()) return;
  benchmark::RegisterBenchmark(("onednn/" + setup.isa + "/" + s.name).c_str(), BM_onednn, s,
                               setup.a_max)
      ->Arg(1)
      ->Arg(2)
      ->ArgName("threads")
      ->UseRealTime()
      ->Unit(benchmark::kMillisecond);
}

}  // namespace qb::bench
