#include "experiments/mpi_runner.h"

#include "engine/check.h"
#include "experiments/store.h"

#include <mpi.h>

#include <cstdio>
#include <vector>

namespace qb::exp {
namespace {

// MPI_Finalize on every way out, so that an error on one rank does not hang mpirun's others
// (MPI_Abort below makes them stop).
struct MpiSession {
  MpiSession() { MPI_Init(nullptr, nullptr); }
  ~MpiSession() { MPI_Finalize(); }
};

}  // namespace

int run_mpi(const Sweep& sweep, const RunOptions& o, bool dry_run) {
  MpiSession session;
  int rank = 0, size = 1;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  // A shared queue through the results folder: each rank walks its round-robin share first,
  // then everybody else's. Cells are locked while they run and checked for completion under
  // the lock, so a rank that is done early takes over cells nobody has started yet, and no
  // cell runs twice.
  const auto mine = shard_indices(sweep.cells.size(), std::size_t(rank), std::size_t(size));
  // With --force a finished cell is no proof that nobody needs to run it: own share only.
  std::vector<std::size_t> order = mine;
  for (std::size_t r = 1; r < std::size_t(size) && !o.force; ++r)
    for (std::size_t i : shard_indices(
             sweep.cells.size(), (std::size_t(rank) + r) % std::size_t(size), std::size_t(size)))
      order.push_back(i);
  try {
    if (dry_run) {
      for (std::size_t i : mine)
        std::printf("rank %d: %s %s\n", rank, sweep.cells[i].key.c_str(),
                    sweep.cells[i].name.c_str());
      return 0;
    }
    // Rank 0 creates the folder and sweep.json (or refuses it) before any rank writes.
    int ok = 1;
    if (rank == 0) {
      try {
        prepare_results_dir(o.out, sweep, sweep.config);
      } catch (const Error& e) {
        std::fprintf(stderr, "qbench: error: %s\n", e.what());
        ok = 0;
      }
    }
    MPI_Bcast(&ok, 1, MPI_INT, 0, MPI_COMM_WORLD);
    if (!ok) return 1;
    run_cells(sweep, order, o, stdout);
  } catch (const Error& e) {
    std::fprintf(stderr, "qbench: error (rank %d): %s\n", rank, e.what());
    MPI_Abort(MPI_COMM_WORLD, 1);
  }
  MPI_Barrier(MPI_COMM_WORLD);
  return 0;
}

}  // namespace qb::exp
