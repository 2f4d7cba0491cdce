// `qbench sweep --mpi`: the sweep spread over the ranks of an MPI job (built only when CMake
// finds MPI; QB_WITH_MPI). Rank r of n runs the cells whose index is r modulo n — a static
// round-robin, the same split as --shard r/n — into one results folder on a shared file
// system. Rank 0 prepares the folder before the others start; every rank writes only its own
// cells, so the folder is what a local run produces and `qbench merge` accepts it.
#pragma once

#include "experiments/config.h"
#include "experiments/runner.h"

#include <string>

namespace qb::exp {

// Initialises and finalises MPI itself. Returns the process exit code.
int run_mpi(const Sweep& sweep, const std::string& config_path, const RunOptions& o, bool dry_run);

}  // namespace qb::exp
