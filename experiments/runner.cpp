#include "experiments/runner.h"

#include "engine/check.h"
#include "engine/checkpoint.h"
#include "engine/io/atomic_file.h"
#include "engine/parallel.h"
#include "engine/train.h"
#include "experiments/cell_integer.h"
#include "experiments/environment.h"
#include "experiments/store.h"
#include "methods/qat.h"

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace qb::exp {
namespace fs = std::filesystem;
namespace {

using Clock = std::chrono::steady_clock;

double since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

// The FP32 checkpoint `c` fine-tunes from, trained here if no process has done it yet. The
// pretraining writes a checkpoint every epoch to <key>.run.h5 and resumes from it after a kill
// (bit for bit, as `qbench train --resume` does); only the finished run is renamed to <key>.h5.
std::string ensure_fp32(const Cell& c, const RunOptions& o, Progress& progress) {
  const std::string path = fp32_path(o.out, c.fp32_key);
  FileLock lock(o.out, "fp32-" + c.fp32_key, /*blocking=*/true);
  if (fs::exists(path)) {
    try {
      load_checkpoint(path);
      return path;
    } catch (const Error& e) {
      progress.line(std::string(e.what()) + ": pretraining again");
    }
  }
  const std::string run = path.substr(0, path.size() - 3) + ".run.h5";
  TrainConfig t = fp32_train_config(c);
  t.threads = o.threads;
  t.out = run;
  if (fs::exists(run)) {
    try {
      load_checkpoint(run);
      t.resume = run;
    } catch (const Error& e) {
      progress.line(std::string(e.what()) + ": starting the pretraining over");
      remove_quietly(run);
    }
  }
  progress.line("pretraining fp32 " + c.net + " seed " + std::to_string(c.seed) + " (" +
                c.fp32_key + ")" + (t.resume.empty() ? "" : ", resumed"));
  train(t, progress);
  commit_partial(run, path);
  return path;
}

// The integer results `c` lacks, computed from its kept checkpoint and written with the ones
// it has into a new cell file that replaces the old one atomically; the training's record is
// copied as it was.
void add_integer(const Cell& c, const RunOptions& o, const std::string& checkpoint,
                 Progress& progress) {
  const CellRecord r = read_cell(cell_path(o.out, c.key), c.key);
  CellOutcome outcome{r.summary, r.environment, r.wall_seconds, r.integer};
  outcome.integer.update(
      run_integer(c, checkpoint, missing_integer(c, r.integer), o.threads, progress));
  write_cell(o.out, c, outcome);
}

// True when `c` fine-tunes from an FP32 pretraining that another process is running now:
// run_cells puts such a cell off and runs others meanwhile instead of idling on the lock (two
// processes on one folder would otherwise both spend the first seed's pretraining on it).
bool pretraining_elsewhere(const Cell& c, const RunOptions& o) {
  if (c.init != Init::fp32 || fs::exists(fp32_path(o.out, c.fp32_key))) return false;
  FileLock lock(o.out, "fp32-" + c.fp32_key, /*blocking=*/false);
  return !lock.owns();
}

// What a cell's training checkpoint must have been written under to be resumed: the same
// build, thread count, CPU and library versions (environment(), less the host name, so that
// another machine of the same kind may resume it), i.e. a run that gives the same bits.
std::string resume_tag(int threads) {
  nlohmann::json env = environment(threads);
  env.erase("host");
  return env.dump();
}

std::string read_small_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return in ? text.str() : std::string();
}

}  // namespace

std::vector<std::size_t> shard_indices(std::size_t cells, std::size_t shard, std::size_t shards) {
  QB_CHECK_LT(shard, shards);
  std::vector<std::size_t> out;
  for (std::size_t i = shard; i < cells; i += shards) out.push_back(i);
  return out;
}

CellStatus cell_status(const std::string& dir, const Cell& c, std::string* why) {
  const std::string path = cell_path(dir, c.key);
  if (!fs::exists(path)) {
    const std::string failed = failed_cell_path(dir, c.key);
    if (!fs::exists(failed)) return CellStatus::todo;
    try {
      const FailedCell f = read_failed_cell(failed, c.key);
      if (why) *why = f.reason;
      return CellStatus::failed;
    } catch (const Error& e) {
      if (why) *why = e.what();
      return CellStatus::damaged;
    }
  }
  try {
    const CellRecord r = read_cell(path, c.key);
    return missing_integer(c, r.integer).empty() ? CellStatus::done : CellStatus::incomplete;
  } catch (const Error& e) {
    if (why) *why = e.what();
    return CellStatus::damaged;
  }
}

CellRun run_cell(const Cell& c, const RunOptions& o, Progress& progress, std::string* why) {
  FileLock lock(o.out, c.key, /*blocking=*/false);
  if (!lock.owns()) return CellRun::busy;
  // Another process may have finished it between our status check and the lock.
  const std::string checkpoint = qat_path(o.out, c.key);
  if (!o.force) {
    const CellStatus s = cell_status(o.out, c);
    if (s == CellStatus::done || (s == CellStatus::failed && !o.retry_failed))
      return CellRun::done_elsewhere;
    if (s == CellStatus::incomplete && fs::exists(checkpoint)) {
      add_integer(c, o, checkpoint, progress);
      return CellRun::integer_added;
    }
  }
  const auto t0 = Clock::now();
  CellOutcome outcome;
  try {
    TrainConfig t = cell_train_config(c);
    t.threads = o.threads;
    if (c.init == Init::fp32) t.init = ensure_fp32(c, o, progress);
    t.out = checkpoint;
    // The training writes its checkpoint every epoch. After a kill, the cell resumes from the
    // last one (bit for bit, for every method: tests/test_qat.cpp) when it was written under
    // the same resume_tag, recorded beside it when the training starts; else it starts over.
    const std::string tag_path = checkpoint.substr(0, checkpoint.size() - 3) + ".resume.json";
    const std::string tag = resume_tag(o.threads);
    if (!o.force && fs::exists(checkpoint)) {
      if (read_small_text(tag_path) != tag) {
        progress.line(c.key +
                      ": its checkpoint was written by another build, thread count or "
                      "CPU: training from the start");
      } else {
        try {
          load_checkpoint(checkpoint);
          t.resume = checkpoint;
        } catch (const Error& e) {
          progress.line(std::string(e.what()) + ": training from the start");
        }
      }
    }
    if (t.resume.empty()) {
      remove_quietly(checkpoint);
      write_text_atomically(tag_path, tag);
    } else {
      progress.line(c.name + " (" + c.key + "): resumed from its last checkpoint");
    }
    const QatConfig q{c.method, c.quant};
    const TrainExtensions ext = make_qat(q);
    t.quantization = to_json(q);
    outcome.summary = train(t, progress, ext);
  } catch (const TrainingDiverged& e) {
    // A result, not a crash of the sweep: recorded, merged and reported as failed.
    write_failed_cell(o.out, c, e.what());
    if (why) *why = e.what();
    return CellRun::failed;
  }
  outcome.environment = environment(num_threads());
  // Integer inference not included (it has its own "seconds"); a resumed cell counts from its
  // resumption (each epoch's own seconds are in its curves).
  outcome.wall_seconds = since(t0);
  outcome.integer = run_integer(c, checkpoint, c.integer_acc, o.threads, progress);
  write_cell(o.out, c, outcome);
  remove_quietly(failed_cell_path(o.out, c.key));  // an earlier failure, retried
  return CellRun::ran;
}

SweepReport run_cells(const Sweep& sweep, const std::vector<std::size_t>& indices,
                      const RunOptions& o, std::FILE* out) {
  Progress progress(o.quiet ? nullptr : stderr);
  Progress notes(stderr);
  SweepReport rep;
  std::vector<std::size_t> todo;
  for (std::size_t i : indices) {
    std::string why;
    const CellStatus s = cell_status(o.out, sweep.cells[i], &why);
    if (s == CellStatus::damaged) notes.line(why + ": running the cell again");
    if (s == CellStatus::incomplete)
      notes.line(sweep.cells[i].key + ": trained; integer results to add");
    if (s == CellStatus::done && !o.force) {
      ++rep.skipped;
      continue;
    }
    // Training is deterministic: a failed cell would fail again unless something changed.
    if (s == CellStatus::failed && !o.force && !o.retry_failed) {
      ++rep.failed_earlier;
      continue;
    }
    todo.push_back(i);
  }
  std::string failed_note;
  if (rep.failed_earlier > 0)
    failed_note = ", " + std::to_string(rep.failed_earlier) +
                  " failed earlier (not retried; --retry-failed runs them)";
  notes.line("sweep " + sweep.hash + ": " + std::to_string(indices.size()) + " cells here, " +
             std::to_string(rep.skipped) + " already done" + failed_note + ", " +
             std::to_string(todo.size()) + " to run");
  const auto t0 = Clock::now();
  // Cells put off for a pretraining held elsewhere go to the end of the queue, once: when
  // their turn comes again they wait for it (everything else is done or held by then).
  std::vector<bool> put_off(sweep.cells.size(), false);
  // The ETA weighs cells by their epochs (+1 for evaluation and integer inference): cells
  // trained from scratch, run first, take ten times a fine-tune's.
  auto cost = [](const Cell& c) { return double(c.recipe.epochs + 1); };
  double cost_left = 0, cost_ran = 0;
  for (std::size_t i : todo) cost_left += cost(sweep.cells[i]);
  std::size_t started = 0;
  for (std::size_t k = 0; k < todo.size(); ++k) {
    const Cell& c = sweep.cells[todo[k]];
    if (!put_off[todo[k]] && k + 1 < todo.size() && pretraining_elsewhere(c, o)) {
      put_off[todo[k]] = true;
      todo.push_back(todo[k]);
      notes.line(c.name + " (" + c.key +
                 "): its FP32 pretraining runs in another process; put off");
      continue;
    }
    std::string eta = "?";
    if (cost_ran > 0) eta = format_duration(since(t0) / cost_ran * cost_left);
    cost_left -= cost(c);
    // Appended piece by piece: g++ 12 warns (-Wrestrict, a false positive) on "[" + to_string.
    std::string head = "[";
    head += std::to_string(rep.skipped + rep.failed_earlier + ++started);
    head += '/';
    head += std::to_string(indices.size());
    head += "] ";
    notes.line(head + c.name + " (" + c.key + ")  ETA " + eta);
    std::string why;
    const CellRun run = run_cell(c, o, progress, &why);
    if (run == CellRun::failed) {
      ++rep.failed;
      notes.line(c.key + ": failed: " + why);
      std::fprintf(out, "%s %s failed: %s\n", c.key.c_str(), c.name.c_str(), why.c_str());
      std::fflush(out);
      continue;
    }
    if (run == CellRun::busy || run == CellRun::done_elsewhere) {
      notes.line(c.key + (run == CellRun::busy ? ": running in another process, skipped"
                                               : ": finished by another process"));
      ++(run == CellRun::busy ? rep.busy : rep.skipped);
      continue;
    }
    ++rep.ran;
    cost_ran += cost(c);
    const CellRecord r = read_cell(cell_path(o.out, c.key), c.key);
    std::string line = c.key + " " + c.name;
    char acc[32];
    std::snprintf(acc, sizeof acc, " test_acc=%.4f", r.test_accuracy);
    line += acc;
    // Integer top-1 per accumulator model: "int_wrap=0.8123", or "int_wrap=refused".
    for (const integer::AccModel m : c.integer_acc) {
      const std::string model = integer::acc_model_name(m);
      if (!r.integer.contains(model)) continue;
      const nlohmann::json& result = r.integer.at(model);
      if (result.contains("refused")) {
        line += " int_" + model + "=refused";
        continue;
      }
      std::snprintf(acc, sizeof acc, "=%.4f", result.at("accuracy").get<double>());
      line += " int_" + model + acc;
    }
    std::fprintf(out, "%s\n", line.c_str());
    std::fflush(out);
  }
  notes.line("sweep " + sweep.hash + ": " + std::to_string(rep.ran) + " run, " +
             std::to_string(rep.failed) + " failed, " + std::to_string(rep.skipped) + " skipped, " +
             std::to_string(rep.busy) + " held elsewhere, in " + format_duration(since(t0)));
  return rep;
}

}  // namespace qb::exp
