#include "engine/parallel.h"

#include "engine/gemm.h"

#include <omp.h>

namespace qb {

void set_threads(int n) {
  if (n <= 0) n = omp_get_num_procs();
  omp_set_num_threads(n);
  set_blas_single_threaded();
}

int num_threads() { return omp_get_max_threads(); }

}  // namespace qb
