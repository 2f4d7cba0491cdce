// The result store: one results folder per sweep.
//
//   DIR/sweep.json          the sweep's identity (hash of its cell keys), name, cells, config
//   DIR/cells/<key>.h5      one finished cell each, written atomically (docs/results-format.md)
//   DIR/fp32/<key>.h5       cached FP32 pretraining checkpoints that cells fine-tune from
//   DIR/fp32/<key>.run.h5   a pretraining in progress (per-epoch checkpoint, resumed after a kill)
//   DIR/qat/<key>.h5        each cell's trained checkpoint (written after every fine-tuning
//                           epoch), kept for integer inference (experiments/cell_integer.h)
//   DIR/locks/<key>.lock    advisory locks (flock) so that concurrent processes — shards on a
//                           shared file system, MPI ranks, an accidental second run — never
//                           write the same file at once; the kernel drops them when a process dies
//
// A cell file exists only once it is complete (written as <key>.h5.partial, flushed, fsynced,
// renamed): a kill at any moment leaves finished cells intact, and a rerun skips every cell
// whose file validates.
#pragma once

#include "experiments/config.h"

#include <nlohmann/json.hpp>

#include <string>

namespace qb::exp {

constexpr int kCellSchema = 1;

std::string cell_path(const std::string& dir, const std::string& key);
std::string fp32_path(const std::string& dir, const std::string& key);
std::string qat_path(const std::string& dir, const std::string& key);

// Creates DIR (and its subfolders) and records the sweep in DIR/sweep.json, or checks that the
// sweep already recorded there is this one. Throws qb::Error for an unwritable folder or a
// folder holding a different sweep.
void prepare_results_dir(const std::string& dir, const Sweep& sweep, const nlohmann::json& config);

// DIR/sweep.json, parsed; throws qb::Error naming the file.
nlohmann::json read_sweep_record(const std::string& dir);

// What a run of one cell produced, as stored.
struct CellOutcome {
  nlohmann::json summary;      // `qbench train`'s JSON summary (history, metrics, layers, ...)
  nlohmann::json environment;  // environment(threads)
  double wall_seconds = 0;     // the whole cell: data, training, evaluation
  nlohmann::json integer = nlohmann::json::object();  // experiments/cell_integer.h; {}: none
};

void write_cell(const std::string& dir, const Cell& cell, const CellOutcome& outcome);

// A finished cell as read back (enough to validate it and to fill a summary row).
struct CellRecord {
  std::string key;
  nlohmann::json config;  // cell_json
  nlohmann::json environment;
  nlohmann::json summary;  // as CellOutcome::summary
  nlohmann::json integer;  // as CellOutcome::integer
  double test_accuracy = 0, val_accuracy = 0, test_loss = 0, val_loss = 0;
  double epochs = 0, train_seconds = 0, wall_seconds = 0;
};

// Reads and checks a cell file (format, schema, key = hash of its config, every dataset
// readable and checksums right). Throws qb::Error naming the file when anything is off.
CellRecord read_cell(const std::string& path, const std::string& expected_key);

// A cell whose training stopped (its loss was no longer finite) is a result too: it is
// recorded as DIR/cells/<key>.failed.json, written atomically ({"format": "qbench-failed-cell",
// "key", "name", "config": cell_json, "reason"}), merged into the results file's /failed table,
// and not run again unless asked (`qbench sweep --retry-failed` or --force). A later success
// removes the record.
std::string failed_cell_path(const std::string& dir, const std::string& key);
void write_failed_cell(const std::string& dir, const Cell& cell, const std::string& reason);

struct FailedCell {
  std::string key, reason;
  nlohmann::json config;  // cell_json
};
// Reads and checks a failure record (format, key, config hashing to its key); throws qb::Error
// naming the file when anything is off.
FailedCell read_failed_cell(const std::string& path, const std::string& expected_key);

// An exclusive advisory lock on DIR/locks/<name>.lock, held until destruction.
class FileLock {
 public:
  // blocking: wait for it; otherwise owns() is false when another process holds it.
  FileLock(const std::string& dir, const std::string& name, bool blocking);
  ~FileLock();
  FileLock(const FileLock&) = delete;
  FileLock& operator=(const FileLock&) = delete;
  bool owns() const { return owns_; }

 private:
  int fd_ = -1;
  bool owns_ = false;
};

}  // namespace qb::exp
