// main() of every benchmark binary (see benchmarks/main.h).
#include "benchmarks/main.h"

#include <benchmark/benchmark.h>

int main(int argc, char** argv) {
  qb::bench::register_benchmarks();
  benchmark::Initialize(&argc, argv);
  // A misspelt flag would otherwise be ignored, and the run would time what the user did not ask.
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
