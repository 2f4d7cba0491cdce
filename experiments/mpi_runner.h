// `qbench sweep --mpi`: the sweep spread over the ranks of an MPI job (built only when CMake
// finds MPI; QB_WITH_MPI). Rank 0 prepares one results folder on a shared file system; then
// ranks take cells from a shared queue kept in that folder: rank r starts with the cells whose
// index is r modulo n (the split of --shard r/n) and goes on to the others' cells, skipping
// any that another rank holds (per-cell lock) or has finished. Fast ranks so take over the
// work of slow ones; no cell runs twice, and the folder is what a local run produces, which
// `qbench merge` accepts.
#pragma once

#include "experiments/config.h"
#include "experiments/runner.h"

namespace qb::exp {

// Initialises and finalises MPI itself. Returns the process exit code.
int run_mpi(const Sweep& sweep, const RunOptions& o, bool dry_run);

}  // namespace qb::exp
