// `qbench sweep CONFIG.json --out DIR`: run (or, with --dry-run, list) a sweep's cells.
#include "apps/commands.h"
#include "engine/check.h"
#include "experiments/config.h"
#ifdef QB_WITH_MPI
#include "experiments/mpi_runner.h"
#endif
#include "experiments/runner.h"
#include "experiments/store.h"

#include <cstdio>
#include <cstdlib>
#include <optional>
#include <set>

namespace qb::app {
namespace {

struct SweepArgs {
  std::string config, shard;
  bool dry_run = false, mpi = false;
  std::optional<std::uint64_t> max_cells;
  exp::RunOptions run;
};

// "i/n" from --shard, else SLURM_ARRAY_TASK_ID (minus SLURM_ARRAY_TASK_MIN) of
// SLURM_ARRAY_TASK_COUNT when set, else 0/1.
std::pair<std::size_t, std::size_t> parse_shard(const std::string& flag) {
  std::string spec = flag;
  std::string where = "--shard";
  if (spec.empty()) {
    const char* id = std::getenv("SLURM_ARRAY_TASK_ID");
    const char* count = std::getenv("SLURM_ARRAY_TASK_COUNT");
    if (!id || !count) return {0, 1};
    const char* min = std::getenv("SLURM_ARRAY_TASK_MIN");
    spec = std::to_string(std::stoll(id) - (min ? std::stoll(min) : 0)) + "/" + count;
    where = "SLURM_ARRAY_TASK_ID/SLURM_ARRAY_TASK_COUNT";
  }
  std::size_t i = 0, n = 0;
  char rest = 0;
  if (std::sscanf(spec.c_str(), "%zu/%zu%c", &i, &n, &rest) != 2 || n == 0 || i >= n)
    throw error(where, ": expected i/n with 0 <= i < n, got '", spec, "'");
  return {i, n};
}

int dry_run(const exp::Sweep& sweep, const std::vector<std::size_t>& cells, const SweepArgs& a) {
  std::set<std::string> pretrain;
  for (std::size_t i : cells) {
    const exp::Cell& c = sweep.cells[i];
    if (!c.fp32_key.empty()) pretrain.insert(c.fp32_key);  // "": from scratch
    const char* status = "todo";
    if (!a.run.out.empty()) {
      const auto s = exp::cell_status(a.run.out, c);
      status = s == exp::CellStatus::done         ? "done"
               : s == exp::CellStatus::damaged    ? "damaged"
               : s == exp::CellStatus::failed     ? "failed"
               : s == exp::CellStatus::incomplete ? "integer-missing"
                                                  : "todo";
    }
    std::printf("%s %s %s\n", c.key.c_str(), c.name.c_str(), status);
  }
  std::fprintf(stderr, "sweep %s: %zu cells here (of %zu), %zu FP32 pretrainings\n",
               sweep.hash.c_str(), cells.size(), sweep.cells.size(), pretrain.size());
  return 0;
}

}  // namespace

Run add_sweep(CLI::App& app) {
  auto a = std::make_shared<SweepArgs>();
  auto* cmd =
      app.add_subcommand("sweep", "Run a sweep of cells from a JSON config into a results folder");
  cmd->add_option("config", a->config, "Sweep config (experiments/configs/README.md)")->required();
  cmd->add_option("--out", a->run.out, "Results folder (created; reruns skip finished cells)");
  cmd->add_flag("--dry-run", a->dry_run,
                "Validate and list the cells (key, name, status); run nothing");
  cmd->add_flag("--force", a->run.force, "Rerun finished cells (the FP32 cache is kept)");
  cmd->add_flag("--retry-failed", a->run.retry_failed,
                "Run again the cells recorded as failed (training diverged)");
  cmd->add_option("--shard", a->shard,
                  "Run shard i/n (0-based): cells whose index is i modulo n "
                  "(default: from SLURM_ARRAY_TASK_ID/SLURM_ARRAY_TASK_COUNT when set)");
  cmd->add_flag("--mpi", a->mpi,
                "Under mpirun: rank r of n runs the cells whose index is r modulo n");
  cmd->add_option("--threads", a->run.threads, "Threads per process (0: all cores)")
      ->capture_default_str();
  cmd->add_flag("--quiet", a->run.quiet, "No training bars (per-cell lines only)");
  cmd->add_option("--max-cells", a->max_cells,
                  "Accept a config of up to this many cells (default: its \"max_cells\", else " +
                      std::to_string(exp::kDefaultMaxCells) + ")");
  return [a] {
    const exp::Sweep sweep = exp::load_sweep(a->config, a->max_cells);
    if (a->mpi) {
#ifdef QB_WITH_MPI
      if (a->run.out.empty() && !a->dry_run) throw error("--out: required (the results folder)");
      return exp::run_mpi(sweep, a->run, a->dry_run);
#else
      throw error("--mpi: this qbench was built without MPI (install libopenmpi-dev, reconfigure)");
#endif
    }
    const auto [shard, shards] = parse_shard(a->shard);
    const auto cells = exp::shard_indices(sweep.cells.size(), shard, shards);
    if (a->dry_run) return dry_run(sweep, cells, *a);
    if (a->run.out.empty()) throw error("--out: required (the results folder)");
    exp::prepare_results_dir(a->run.out, sweep, sweep.config);
    exp::run_cells(sweep, cells, a->run, stdout);
    return 0;
  };
}

}  // namespace qb::app
