// The read side of a merged results file (`qbench merge`, docs/results-format.md): the flat
// summary table, and per-cell details (curves, parameter count) on request. The analysis
// reads files, never live objects, so a report can be regenerated from committed results.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace qb::analysis {

// One row of /summary: one finished cell.
struct ResultRow {
  std::string key, net, method, dataset, granularity, first_last, options;  // options: JSON
  std::string init = "fp32";  // where training started (a file merged before: "fp32")
  int wbits = 32, abits = 32, gbits = 32;
  std::int64_t seed = 0;
  std::map<std::string, double> values;  // test_acc, val_acc, test_loss, val_loss, epochs, ...
};

struct Results {
  std::string path, sweep_name;
  std::int64_t cells_expected = 0, cells_merged = 0;
  std::vector<ResultRow> rows;  // the sweep's expansion order
  // Cells whose training diverged (/failed; files merged before it existed have none): their
  // configuration, metrics NaN, and why each failed (same order).
  std::vector<ResultRow> failed;
  std::vector<std::string> failed_reasons;
};

// Throws qb::Error naming the file when it is missing, not HDF5, not a merged results file
// (@format "qbench-results"), of another schema version, or damaged.
Results read_results(const std::string& path);

// What plots need beyond the summary, from /cells/<key>.
struct CellDetails {
  std::map<std::string, std::vector<double>> curves;  // epoch, val_accuracy, train_loss, ...
  double parameters = 0;                              // the network's parameter count
};
std::map<std::string, CellDetails> read_details(const std::string& path,
                                                const std::vector<std::string>& keys);

}  // namespace qb::analysis
