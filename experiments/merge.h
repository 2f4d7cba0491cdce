// `qbench merge`: the finished cells of one sweep (one results folder, or several — shards
// run without a shared file system) gathered into one HDF5 file: a flat summary table, one
// row per cell, plus every cell's own group, and a /failed table of the cells whose training
// diverged (same columns, metrics NaN, plus "reason"). Layout: docs/results-format.md.
#pragma once

#include <string>
#include <vector>

namespace qb::exp {

constexpr int kResultsSchema = 1;

struct MergeReport {
  std::size_t merged = 0, expected = 0;
  std::size_t failed = 0;  // cells recorded as failed (in /failed, not in /summary)
};

// Throws qb::Error (naming the file) for folders of different sweeps or a damaged cell file;
// the output is written atomically, so a failed merge leaves any previous one in place.
MergeReport merge_results(const std::vector<std::string>& dirs, const std::string& out);

}  // namespace qb::exp
