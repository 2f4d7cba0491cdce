// The entry point every benchmark binary shares: benchmarks/main.cpp, which CMake's
// qb_add_benchmark() compiles into each. A binary provides only register_benchmarks().
#pragma once

namespace qb::bench {

// Registers the binary's rows with benchmark::RegisterBenchmark. Rows are registered at run
// time, not with static BENCHMARK() macros, because they are generated from tables (shapes,
// networks, registered methods) and from what this CPU supports (int8 ISAs, peer libraries).
void register_benchmarks();

}  // namespace qb::bench
