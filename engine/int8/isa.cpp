#include "engine/int8/isa.h"

#include "engine/check.h"

#include <cpuid.h>

#include <array>
#include <cstdlib>
#include <string>

namespace qb::int8 {

const char* isa_name(Isa isa) { return kIsas.row_of(isa).name.data(); }

Isa parse_isa(std::string_view name) { return kIsas.parse(name).value; }

namespace {

// AVX-VNNI is CPUID.(EAX=7, ECX=1):EAX bit 4, read here directly: clang 14 (the fuzz build)
// does not know the name "avxvnni" in __builtin_cpu_supports.
bool cpu_has_avxvnni() {
  unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
  if (!__get_cpuid_count(7, 1, &eax, &ebx, &ecx, &edx)) return false;
  return (eax >> 4) & 1u;
}

bool probe_cpu(Isa isa) {
#ifdef QB_INT8_EMULATE
  return true;  // every kernel runs on SIMDe's intrinsics (engine/int8/intrinsics.h)
#endif
  __builtin_cpu_init();
  switch (isa) {
    case Isa::scalar:
      return true;
    case Isa::avx2:
      return __builtin_cpu_supports("avx2");
    case Isa::avxvnni:
      return __builtin_cpu_supports("avx2") && cpu_has_avxvnni();
    case Isa::avx512bw:
      return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw");
    case Isa::avx512vnni:
      return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
             __builtin_cpu_supports("avx512vnni");
  }
  return false;
}

}  // namespace

bool cpu_has(Isa isa) {
  // Asked once: CPUID serialises the core, and under a hypervisor it traps to it (microseconds
  // a call); best_isa() runs per GEMM, and asking every time cost 9% of an APT training step
  // on LeNet-5 (perf, KVM guest).
  static const auto has = [] {
    std::array<bool, kAllIsas.size()> h{};
    for (Isa i : kAllIsas) h[std::size_t(i)] = probe_cpu(i);
    return h;
  }();
  return has[std::size_t(isa)];
}

Isa best_isa() {
  Isa cap = Isa::avx512vnni;
  if (const char* env = std::getenv("QB_MAX_ISA"); env && *env) {
    cap = kIsas.parse(env, "QB_MAX_ISA").value;
  }
  Isa best = Isa::scalar;
  for (Isa isa : kAllIsas)
    if (isa <= cap && cpu_has(isa)) best = isa;
  return best;
}

}  // namespace qb::int8
