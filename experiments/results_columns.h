// The columns of a merged results file's /summary table (docs/results-format.md): written by
// `qbench merge` (experiments/merge.cpp), read by the analysis (analysis/results.cpp), offered
// as report metrics (analysis/spec.cpp). One row per column; nothing else spells them.
#pragma once

#include "engine/names.h"

#include <string_view>

namespace qb::exp {

enum class ColumnType { text, integer, real };

struct ResultsColumn {
  std::string_view name;
  ColumnType type;
  // A metric a table can show: its label and the factor it is shown with (accuracies as
  // percentages); empty for the other columns.
  std::string_view metric_label = {};
  double metric_scale = 1;
};

inline constexpr ResultsColumn kResultsColumnRows[] = {
    {"key", ColumnType::text},
    {"net", ColumnType::text},
    {"method", ColumnType::text},
    {"dataset", ColumnType::text},
    {"granularity", ColumnType::text},
    {"first_last", ColumnType::text},
    {"options", ColumnType::text},  // canonical JSON
    {"qbench_commit", ColumnType::text},
    {"wbits", ColumnType::integer},
    {"abits", ColumnType::integer},
    {"gbits", ColumnType::integer},
    {"seed", ColumnType::integer},
    {"threads", ColumnType::integer},
    {"test_acc", ColumnType::real, "test accuracy (%)", 100},
    {"val_acc", ColumnType::real, "validation accuracy (%)", 100},
    {"test_loss", ColumnType::real, "test loss"},
    {"val_loss", ColumnType::real, "validation loss"},
    {"epochs", ColumnType::real},
    {"seconds", ColumnType::real, "wall time per cell (s)"},
    {"train_seconds", ColumnType::real, "training time (s)"},
};
inline constexpr NameTable<ResultsColumn> kResultsColumns{"results column", kResultsColumnRows};

}  // namespace qb::exp
