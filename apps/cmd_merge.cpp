// `qbench merge DIR... -o results.h5`: one HDF5 file from a sweep's results folder(s).
#include "apps/commands.h"
#include "experiments/merge.h"

#include <cstdio>

namespace qb::app {

Run add_merge(CLI::App& app) {
  auto dirs = std::make_shared<std::vector<std::string>>();
  auto out = std::make_shared<std::string>();
  auto* cmd = app.add_subcommand(
      "merge", "Merge a sweep's finished cells into one HDF5 file (docs/results-format.md)");
  cmd->add_option("dirs", *dirs, "Results folder(s) of one sweep (shards may be separate folders)")
      ->required();
  cmd->add_option("-o,--out", *out, "Merged HDF5 file (written atomically)")->required();
  return [dirs, out] {
    const exp::MergeReport r = exp::merge_results(*dirs, *out);
    std::fprintf(stderr, "merged %zu of %zu cells into %s%s\n", r.merged, r.expected, out->c_str(),
                 r.merged + r.failed < r.expected ? " (the sweep is not finished)" : "");
    if (r.failed > 0)
      std::fprintf(stderr, "%zu cells failed (training diverged): listed in /failed\n", r.failed);
    return 0;
  };
}

}  // namespace qb::app
