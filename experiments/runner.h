// Running a sweep's cells: status (done / to do / damaged), FP32 pretraining cache, training
// through qb::train() with the method's extensions, and the store.
//
// Which cells a process runs is the caller's choice (all of them, a shard, or one at a time
// from an MPI queue); run_cell is safe to call from several processes on one results folder:
// a cell another process holds is skipped, a cell whose pretraining another process runs is put
// off until the other cells are done or held, then waits for it.
#pragma once

#include "engine/progress.h"
#include "experiments/config.h"

#include <cstdio>
#include <string>
#include <vector>

namespace qb::exp {

struct RunOptions {
  std::string out;            // results folder
  bool force = false;         // rerun finished cells (the FP32 cache is kept)
  bool retry_failed = false;  // run again the cells recorded as failed (force does too)
  int threads = 0;            // 0: all cores; results are bitwise reproducible for a fixed count
  bool quiet = false;         // no training bars (the per-cell lines stay)
};

// Cells of shard `shard` (0-based) of `shards`: those whose index ≡ shard (mod shards).
std::vector<std::size_t> shard_indices(std::size_t cells, std::size_t shard, std::size_t shards);

// incomplete: trained, but integer results the sweep asks for (Cell::integer_acc) are missing.
enum class CellStatus { todo, done, damaged, failed, incomplete };
// `why` gets the reason when the file exists but does not validate, or why the cell failed.
CellStatus cell_status(const std::string& dir, const Cell& c, std::string* why = nullptr);

enum class CellRun { ran, integer_added, failed, busy, done_elsewhere };
// Pretrains (or reuses) the cell's FP32 checkpoint, fine-tunes (keeping the checkpoint in
// DIR/qat/), runs integer inference under the cell's accumulator models, writes
// DIR/cells/<key>.h5. An incomplete cell whose checkpoint is kept is not trained again: the
// missing integer results are added and the cell file rewritten atomically (integer_added).
// When either training diverges (TrainingDiverged), records the cell as failed
// (write_failed_cell, with the message as reason) and returns CellRun::failed; `why` gets it.
CellRun run_cell(const Cell& c, const RunOptions& o, Progress& progress,
                 std::string* why = nullptr);

struct SweepReport {
  std::size_t ran = 0, skipped = 0, busy = 0;
  std::size_t failed = 0;          // cells that failed in this run
  std::size_t failed_earlier = 0;  // recorded as failed before, not retried
};
// Runs `indices` of the sweep in order with overall progress (cells done/total, ETA) on stderr
// and one line per finished cell on `out` ("<key> <name> test_acc=<x>", or
// "<key> <name> failed: <reason>").
SweepReport run_cells(const Sweep& sweep, const std::vector<std::size_t>& indices,
                      const RunOptions& o, std::FILE* out);

}  // namespace qb::exp
