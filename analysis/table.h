// A comparison table: the spec's filters applied to a results file, each cell aggregated over
// seeds (mean ± sample std, n) with its difference to the baseline. Cells without results
// stay in the table, marked missing (n = 0): a gap is shown, never hidden; so do cells whose
// training failed (counted in Aggregate::failed, shown as "failed").
#pragma once

#include "analysis/results.h"
#include "analysis/spec.h"

#include <string>
#include <vector>

namespace qb::analysis {

struct Aggregate {
  std::size_t n = 0;         // seeds; 0: missing
  double mean = 0, std = 0;  // metric units (accuracy in %); std is the sample std, 0 when n < 2
  std::vector<std::string> keys;  // the cells aggregated (for curves)
  std::size_t failed = 0;         // matching cells whose training diverged (not in the mean)
  bool missing() const { return n == 0; }
};

struct Table {
  TableSpec spec;
  Aggregate baseline;                         // missing when the spec has none or it has no cells
  std::vector<std::vector<Aggregate>> cells;  // [row][column]
  std::string source;                         // the results file
  std::int64_t cells_expected = 0, cells_merged = 0, cells_failed = 0;
  // Not for a column with its own metric: the baseline is in the table's.
  bool has_delta(std::size_t r, std::size_t c) const {
    return !cells[r][c].missing() && !baseline.missing() && !spec.columns[c].metric;
  }
  double delta(std::size_t r, std::size_t c) const { return cells[r][c].mean - baseline.mean; }
};

// Throws qb::Error when two results of one table cell share a seed (the row or column filter
// is too loose: add first_last, granularity or options to tell them apart).
Table build_table(const Results& results, const TableSpec& spec);

}  // namespace qb::analysis
