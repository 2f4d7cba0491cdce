// `qbench infer`: a QAT checkpoint's network three ways over a test set — the fake-quant float
// network (the checkpoint as trained), the integer engine, and the exact simulation — with
// accuracy, top-1 agreement engine vs fake-quant, mismatches engine vs simulation (an image
// counts when any layer's codes, the logits or the overflow counts differ), per-layer overflow
// statistics under the chosen accumulator model, and the engine's images per second.
#pragma once

#include "engine/int8/isa.h"
#include "engine/progress.h"
#include "integer/accumulator.h"

#include <nlohmann/json.hpp>

#include <span>
#include <string>
#include <vector>

namespace qb::integer {

struct InferConfig {
  std::string checkpoint;
  std::string dataset;   // empty: the checkpoint's
  std::string data_dir;  // empty: the checkpoint's
  AccModel acc = AccModel::int32;
  int8::Isa isa = int8::best_isa();  // results do not depend on it (tests/test_integer_engine)
  std::size_t batch = 256;
  int threads = 0;
  std::size_t test_limit = 0;  // 0: the whole split
  // "test", or "train": the images the quantizers were trained (calibrated) on, where a
  // data-driven overflow certificate (OAQ) is checked.
  std::string split = "test";
  // false (`--no-stats`): pair-wrap on gemm_acc16's kernels, no overflow statistics (EngineOptions
  // in integer/engine.h); the simulation still checks every code and logit.
  bool count_overflows = true;
  // Which images the output's `explained` list traces to their first differing code
  // (integer/explain.h): those whose top-1 differs from the fake-quant network's
  // (`--explain`), or also those whose top-1 agrees but some traced code differs
  // (`--explain-codes`: how often and where the two networks part, not only when it matters).
  enum class Explain { none, disagreements, codes } explain = Explain::none;
  // The simulation (integer/reference.h, scalar and slow) checks only the batches that start
  // before this image, 0: every batch. Accuracy and overflow counts are the engine's on all
  // images either way; the output's `reference` says how many images were simulated, and the
  // overflow counts it compares are the engine's after those batches.
  std::size_t simulate_limit = 0;
};

// Throws qb::Error naming the problem: a file that is not a checkpoint, an FP32 checkpoint, one
// without quantizer state, a layer export refuses.
nlohmann::json infer(const InferConfig& cfg, Progress& progress);

// The same for several accumulator models (cfg.acc ignored), one document per model, in their
// order, equal to infer() for each: the checkpoint, the data, the fake-quant network and the
// simulation (integer/reference.h, products shared across models) run once — a sweep cell's
// integer results.
std::vector<nlohmann::json> infer_models(const InferConfig& cfg, std::span<const AccModel> models,
                                         Progress& progress);

}  // namespace qb::integer
