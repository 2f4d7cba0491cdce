// Threading policy.
//
// qbench parallelises its own loops with OpenMP (static schedules only, so that the work each
// thread does, and therefore every floating-point reduction order, depends only on the thread
// count) and calls OpenBLAS single-threaded from inside them: OpenBLAS does not split GEMMs
// with a small M (16-64 output channels) across threads, and two 1-thread halves measured 2x
// faster here than one 2-thread call.
#pragma once

namespace qb {

// Sets the thread count for qbench's loops and pins OpenBLAS to one thread. n = 0: all cores.
void set_threads(int n);
int num_threads();

}  // namespace qb
