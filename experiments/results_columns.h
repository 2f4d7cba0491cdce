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
  // Added after files of this schema were first written: absent from an older merged file,
  // where readers take it as NaN (real) or "" (text).
  bool optional = false;
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
    // Integer inference (experiments/cell_integer.h), one column per quantity and accumulator
    // model ('-' in a model's name written '_'); NaN where the cell did not run that model or
    // export refused it. int_refused: the refusal line, "" otherwise.
    {"int_acc_int32", ColumnType::real, "integer top-1, int32 accumulator (%)", 100, true},
    {"int_acc_wrap", ColumnType::real, "integer top-1, wrap accumulator (%)", 100, true},
    {"int_acc_saturate", ColumnType::real, "integer top-1, saturate accumulator (%)", 100, true},
    {"int_acc_pair_saturate", ColumnType::real, "integer top-1, pair-saturate accumulator (%)", 100,
     true},
    {"int_acc_pair_wrap", ColumnType::real, "integer top-1, pair-wrap accumulator (%)", 100, true},
    {"int_acc_lanes", ColumnType::real, "integer top-1, lanes accumulator (%)", 100, true},
    {"int_agree_int32", ColumnType::real, "agreement with fake-quant, int32 (%)", 100, true},
    {"int_agree_wrap", ColumnType::real, "agreement with fake-quant, wrap (%)", 100, true},
    {"int_agree_saturate", ColumnType::real, "agreement with fake-quant, saturate (%)", 100, true},
    {"int_agree_pair_saturate", ColumnType::real, "agreement with fake-quant, pair-saturate (%)",
     100, true},
    {"int_agree_pair_wrap", ColumnType::real, "agreement with fake-quant, pair-wrap (%)", 100,
     true},
    {"int_agree_lanes", ColumnType::real, "agreement with fake-quant, lanes (%)", 100, true},
    {"int_wrong_int32", ColumnType::real, "overflowed dot products, int32", 1, true},
    {"int_wrong_wrap", ColumnType::real, "overflowed dot products, wrap", 1, true},
    {"int_wrong_saturate", ColumnType::real, "overflowed dot products, saturate", 1, true},
    {"int_wrong_pair_saturate", ColumnType::real, "overflowed dot products, pair-saturate", 1,
     true},
    {"int_wrong_pair_wrap", ColumnType::real, "overflowed dot products, pair-wrap", 1, true},
    {"int_wrong_lanes", ColumnType::real, "overflowed dot products, lanes", 1, true},
    // int_rate_<model>: wrong dot products / dot products, over the cell's int8 layers
    {"int_rate_int32", ColumnType::real, "overflow rate, int32 (% of dot products)", 100, true},
    {"int_rate_wrap", ColumnType::real, "overflow rate, wrap (% of dot products)", 100, true},
    {"int_rate_saturate", ColumnType::real, "overflow rate, saturate (% of dot products)", 100,
     true},
    {"int_rate_pair_saturate", ColumnType::real, "overflow rate, pair-saturate (% of dot products)",
     100, true},
    {"int_rate_pair_wrap", ColumnType::real, "overflow rate, pair-wrap (% of dot products)", 100,
     true},
    {"int_rate_lanes", ColumnType::real, "overflow rate, lanes (% of dot products)", 100, true},
    {"int_mismatch_int32", ColumnType::real, "engine/simulation mismatches, int32", 1, true},
    {"int_mismatch_wrap", ColumnType::real, "engine/simulation mismatches, wrap", 1, true},
    {"int_mismatch_saturate", ColumnType::real, "engine/simulation mismatches, saturate", 1, true},
    {"int_mismatch_pair_saturate", ColumnType::real, "engine/simulation mismatches, pair-saturate",
     1, true},
    {"int_mismatch_pair_wrap", ColumnType::real, "engine/simulation mismatches, pair-wrap", 1,
     true},
    {"int_mismatch_lanes", ColumnType::real, "engine/simulation mismatches, lanes", 1, true},
    {"int_refused", ColumnType::text, {}, 1, true},
    // Where training started (experiments/cell.h Init): "fp32" (fine-tuned) or "scratch".
    {"init", ColumnType::text, {}, 1, true},
    // APT (methods/apt.h): the share of tensor-steps — one quantized tensor (a layer's input,
    // weights or output gradient) in one training step — taken at each width, over every
    // layer of the network; NaN for cells without APT quantizers.
    {"apt_share_8", ColumnType::real, "APT tensor-steps at 8 bits (%)", 100, true},
    {"apt_share_16", ColumnType::real, "APT tensor-steps at 16 bits (%)", 100, true},
    {"apt_share_24", ColumnType::real, "APT tensor-steps at 24 bits (%)", 100, true},
};
inline constexpr NameTable<ResultsColumn> kResultsColumns{"results column", kResultsColumnRows};

}  // namespace qb::exp
