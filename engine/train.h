// Training a network on a dataset: the loop behind `qbench train`.
//
// One epoch = one pass over the training split in an order drawn from (seed, epoch) alone;
// the learning rate follows the schedule at every step; after each epoch the validation split
// is evaluated and, with `out` set, a checkpoint is written atomically. The test split is
// evaluated once, at the end. Resuming from a checkpoint written after epoch k continues with
// epoch k+1 and reproduces an uninterrupted run bit for bit (same thread count).
#pragma once

#include "engine/check.h"
#include "engine/checkpoint.h"
#include "engine/data/dataset.h"
#include "engine/loss.h"
#include "engine/network.h"
#include "engine/optim.h"
#include "engine/progress.h"

#include <nlohmann/json.hpp>

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace qb {

class BatchLoader;

struct TrainConfig {
  std::string net = "lenet5";
  float width = 1.0f;
  std::string dataset = "fashion-mnist";
  DataOptions data;
  std::size_t epochs = 10, batch = 128, eval_batch = 1000;
  OptimizerSpec opt;
  ScheduleSpec schedule;
  bool exclude_bn_bias = true;  // no weight decay on biases and BN parameters
  std::uint64_t seed = 1;
  int threads = 0;              // 0: all cores
  std::string out;              // checkpoint written after every epoch (atomic)
  std::string resume;           // checkpoint to continue from
  std::string init;             // checkpoint whose weights start the run (fine-tuning)
  nlohmann::json quantization;  // opaque description of attached quantizers (identity, summary)
};

// Copies parameters and buffers present in `ck` into `net`; with `skip_quantizer_params`,
// quantizer parameters may be absent (an FP32 checkpoint starting a quantized run).
void load_weights(Network& net, const Checkpoint& ck, bool skip_quantizer_params);

void validate(const TrainConfig& c);  // throws qb::Error naming the bad setting
nlohmann::json to_json(const TrainConfig& c);

struct EvalResult {
  double loss = 0, accuracy = 0;
  std::size_t count = 0;
};

struct EpochRecord {
  std::size_t epoch = 0;  // 1-based
  double lr = 0, train_loss = 0, train_accuracy = 0, val_loss = 0, val_accuracy = 0;
  double seconds = 0, images_per_second = 0;
};

struct TrainResult {
  std::vector<EpochRecord> history;  // every epoch, those before a resume included
  EvalResult val, test;
  double seconds = 0;  // wall time of this invocation's training epochs
  // Health warnings (a run still at chance after its first epoch); in the JSON summary as
  // "warnings" when there is any, and on the progress stream when they arise.
  std::vector<std::string> warnings;
};

// The warning for a run whose first epoch left it at chance: accuracy (validation, or training
// when there is no validation split) below 1.5× chance, 1/classes. Empty when it learns.
std::string chance_warning(const EpochRecord& first, std::size_t classes, bool has_val);

// What a caller above the engine adds to a run: quantizers installed into the network's hook
// slots after initialisation, the optimizer of their parameter group, and a per-layer report.
// With `calibrate`, a fresh run (not a resumed one) first passes one batch of the training
// split (its first `batch` images, in file order) through the network in evaluation mode, so
// quantizers initialise their ranges from training data before the first step — and before
// the first evaluation when there are no training epochs (static quantization).
struct TrainExtensions {
  std::function<void(Network&)> attach;
  std::optional<OptimizerSpec> quantizer_optimizer;
  float quantizer_weight_decay = 0.0f;  // L2 on the quantizer group (PACT's on α)
  std::function<nlohmann::json(Network&)> report;
  bool calibrate = false;
  std::function<void(std::size_t steps_per_epoch)> on_train_begin;  // once, before any epoch
  std::function<void(std::size_t epoch)> on_epoch_begin;  // 0-based, before its first step
  std::function<void(std::size_t step)> on_step;
  std::function<void(const EpochRecord&)> on_epoch_end;
};

nlohmann::json to_json(const EpochRecord& r);
nlohmann::json to_json(const TrainResult& r);

// The training loss stopped being finite. The message says where and at which learning rate;
// callers that know how the rate was set (a flag, a config key) add their own hint.
class TrainingDiverged : public Error {
 public:
  using Error::Error;
};

// Evaluation mode forward over a whole split.
EvalResult evaluate(Network& net, const Dataset& data, std::size_t batch);

class Trainer {
 public:
  Trainer(Network& net, const DataSplits& data, const TrainConfig& cfg, Optimizer opt);

  // Runs the remaining epochs (all of them unless restore() was called).
  TrainResult run(Progress& progress);

  Checkpoint checkpoint() const;
  void restore(const Checkpoint& ck);  // throws qb::Error when it does not fit this run

  // Runs one evaluation-mode forward over the first `batch` training images (calibration).
  void calibrate();

  // Called once before the first (or first remaining) epoch with the number of optimizer
  // steps per epoch, before every epoch (0-based index, resumed epochs included), after every
  // optimizer step and at the end of every epoch (method controllers).
  std::function<void(std::size_t steps_per_epoch)> on_train_begin;
  std::function<void(std::size_t epoch)> on_epoch_begin;
  std::function<void(std::size_t step)> on_step;
  std::function<void(const EpochRecord&)> on_epoch_end;

 private:
  // One pass over the training split, then the validation split's evaluation.
  EpochRecord run_epoch(BatchLoader& loader, std::size_t epoch, Progress& progress);
  // Step `step` (0-based) of the `steps` in epoch `epoch`: forward, loss, backward, optimizer
  // step at the schedule's point for that fraction of the run. Returns the batch's mean loss;
  // throws TrainingDiverged when it is not finite.
  float train_step(const Tensor& images, const std::vector<std::int32_t>& labels, std::size_t epoch,
                   std::size_t step, std::size_t steps);

  Network& net_;
  const DataSplits& data_;
  TrainConfig cfg_;
  Optimizer opt_;
  std::size_t next_epoch_ = 0;  // 0-based index of the next epoch to run
  std::vector<EpochRecord> history_;
  SoftmaxCrossEntropy loss_;
  Tensor images_;  // the batch being trained on, reused from step to step
  std::vector<std::int32_t> labels_;
};

// Everything `qbench train` does: data, network, initialisation, optimizer, resume, training,
// test evaluation. The returned JSON is the run's summary.
nlohmann::json train(const TrainConfig& cfg, Progress& progress, const TrainExtensions& ext = {});

}  // namespace qb
