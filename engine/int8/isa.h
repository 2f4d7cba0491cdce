// The instruction sets the int8 kernels are written for, chosen at run time.
//
// Ordered as oneDNN orders its ISAs, each usually implying the ones before it on the CPUs
// that have it:   scalar < avx2 < avxvnni < avx512bw < avx512vnni
// `best_isa()` is the highest one the CPU has (CPUID, through __builtin_cpu_supports, which
// also checks that the OS saves the vector registers), capped by the environment variable
// QB_MAX_ISA=<name>, so every path can be tested and benchmarked on one machine.
#pragma once

#include <string_view>

namespace qb::int8 {

enum class Isa { scalar, avx2, avxvnni, avx512bw, avx512vnni };

inline constexpr Isa kAllIsas[] = {Isa::scalar, Isa::avx2, Isa::avxvnni, Isa::avx512bw,
                                   Isa::avx512vnni};

const char* isa_name(Isa isa);
// Throws qb::Error naming the accepted values.
Isa parse_isa(std::string_view name);

// True when this CPU (and OS) can run the kernels of `isa`; always, in the emulation build
// (engine/int8/intrinsics.h).
bool cpu_has(Isa isa);

// The highest ISA that the CPU has and QB_MAX_ISA allows (read on every call; an unknown
// value throws qb::Error).
Isa best_isa();

}  // namespace qb::int8
