// The instruction sets the int8 kernels are written for, chosen at run time.
//
// Ordered as oneDNN orders its ISAs, each usually implying the ones before it on the CPUs
// that have it:   scalar < avx2 < avxvnni < avx512bw < avx512vnni
// `best_isa()` is the highest one the CPU has (CPUID, through __builtin_cpu_supports, which
// also checks that the OS saves the vector registers), capped by the environment variable
// QB_MAX_ISA=<name>, so every path can be tested and benchmarked on one machine.
#pragma once

#include "engine/names.h"

#include <array>
#include <string_view>

namespace qb::int8 {

enum class Isa { scalar, avx2, avxvnni, avx512bw, avx512vnni };

// The ISAs' names, in the order above. What each runs (kernel, panel layout, pack) is one row
// of engine/int8/gemm.cpp's kGemmConfigs.
inline constexpr Named<Isa> kIsaRows[] = {{"scalar", Isa::scalar},
                                          {"avx2", Isa::avx2},
                                          {"avxvnni", Isa::avxvnni},
                                          {"avx512bw", Isa::avx512bw},
                                          {"avx512vnni", Isa::avx512vnni}};
inline constexpr NameTable<Named<Isa>> kIsas{"ISA", kIsaRows};
// Every ISA, lowest first (derived from the table).
inline constexpr auto kAllIsas = [] {
  std::array<Isa, std::size(kIsaRows)> isas{};
  for (std::size_t i = 0; i < isas.size(); ++i) isas[i] = kIsaRows[i].value;
  return isas;
}();

const char* isa_name(Isa isa);
// Throws qb::Error naming the accepted values.
Isa parse_isa(std::string_view name);

// True when this CPU (and OS) can run the kernels of `isa` (CPUID read once, on the first call);
// always, in the emulation build (engine/int8/intrinsics.h).
bool cpu_has(Isa isa);

// The highest ISA that the CPU has and QB_MAX_ISA allows (read on every call; an unknown
// value throws qb::Error).
Isa best_isa();

}  // namespace qb::int8
