// Threading policy.
//
// qbench parallelises its own loops with OpenMP (static schedules only, so that the work each
// thread does, and therefore every floating-point reduction order, depends only on the thread
// count) and calls OpenBLAS single-threaded from inside them: OpenBLAS does not split GEMMs
// with a small M (16-64 output channels) across threads, and two 1-thread halves measured 2x
// faster here than one 2-thread call.
#pragma once

#include <omp.h>

#include <cstdint>

namespace qb {

// Sets the thread count for qbench's loops and pins OpenBLAS to one thread. n = 0: all cores.
void set_threads(int n);
int num_threads();

// Runs body(t, begin, end) on `threads` threads, thread t taking [begin, end) of a fixed
// contiguous partition of [0, n), so the work of each thread depends only on the thread count.
// With threads ≤ 1, or when called from inside an active parallel region (a kernel called by a
// thread of an outer loop), it is one call body(0, 0, n) on the calling thread: the caller
// already uses the cores, and a nested region would get a team of one anyway.
template <class Body>
void parallel_split(std::int64_t n, int threads, const Body& body) {
  if (threads <= 1 || omp_in_parallel()) {
    body(0, std::int64_t(0), n);
    return;
  }
#pragma omp parallel num_threads(threads)
  {
    // Partition by the team that actually runs, which may be smaller than asked.
    const int t = omp_get_thread_num(), team = omp_get_num_threads();
    const std::int64_t begin = n * t / team, end = n * (t + 1) / team;
    if (end > begin) body(t, begin, end);
  }
}

}  // namespace qb
