#include "engine/train.h"

#include "engine/check.h"
#include "engine/data/loader.h"
#include "engine/io/atomic_file.h"
#include "engine/loss.h"
#include "engine/nets.h"
#include "engine/parallel.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <string_view>

namespace qb {
namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

// Everything that must match for a checkpoint to continue this run.
std::string run_identity(const TrainConfig& c, const DataSplits& d) {
  return nlohmann::json{{"net", c.net},
                        {"width", c.width},
                        {"data", d.identity},
                        {"batch", c.batch},
                        {"seed", c.seed},
                        {"init", c.init},
                        {"quantization", c.quantization}}
      .dump();
}

// Fails before any training when the checkpoint could not be written later.
void check_writable(const std::string& path) {
  check_output_file(path, "a checkpoint file to write");
}

// One line per finished epoch on the progress stream.
std::string epoch_summary(const EpochRecord& rec, std::size_t epochs) {
  char buf[256];
  std::snprintf(buf, sizeof buf,
                "epoch %zu/%zu  loss %.4f  train %.2f%%  val %.2f%%  lr %.3g  %.1fs  %.0f img/s",
                rec.epoch, epochs, rec.train_loss, 100 * rec.train_accuracy, 100 * rec.val_accuracy,
                rec.lr, rec.seconds, rec.images_per_second);
  return buf;
}

}  // namespace

void validate(const TrainConfig& c) {
  // Zero epochs evaluates a given network without training it (static quantization of
  // initial weights).
  if (c.epochs == 0 && c.init.empty())
    throw error("epochs must be at least 1 (0 only when starting from given weights: evaluate ",
                "without training)");
  if (c.batch == 0) throw error("batch size must be at least 1");
  if (c.eval_batch == 0) throw error("evaluation batch must be at least 1");
  if (!(c.width > 0.0f)) throw error("width must be positive, got ", c.width);
  if (c.threads < 0) throw error("threads must be >= 0, got ", c.threads);
  validate(c.opt);
  validate(c.schedule);
}

nlohmann::json to_json(const TrainConfig& c) {
  return {{"net", c.net},
          {"width", c.width},
          {"dataset", c.dataset},
          {"data_dir", c.data.dir},
          {"val_size", c.data.val_size},
          {"train_limit", c.data.train_limit},
          {"test_limit", c.data.test_limit},
          {"epochs", c.epochs},
          {"batch", c.batch},
          {"optimizer",
           {{"type", kOptimizers.row_of(c.opt.type).name},
            {"lr", c.opt.lr},
            {"momentum", c.opt.momentum},
            {"nesterov", c.opt.nesterov},
            {"weight_decay", c.opt.weight_decay}}},
          {"schedule",
           {{"type", kSchedules.row_of(c.schedule.type).name},
            {"warmup_epochs", c.schedule.warmup_epochs},
            {"milestones", c.schedule.milestones},
            {"gamma", c.schedule.gamma}}},
          {"exclude_bn_bias", c.exclude_bn_bias},
          {"seed", c.seed},
          {"threads", c.threads},
          {"init", c.init},
          {"quantization", c.quantization}};
}

nlohmann::json to_json(const EpochRecord& r) {
  return {{"epoch", r.epoch},           {"lr", r.lr},
          {"train_loss", r.train_loss}, {"train_accuracy", r.train_accuracy},
          {"val_loss", r.val_loss},     {"val_accuracy", r.val_accuracy},
          {"seconds", r.seconds},       {"images_per_second", r.images_per_second}};
}

nlohmann::json to_json(const TrainResult& r) {
  nlohmann::json h = nlohmann::json::array();
  for (const auto& e : r.history) h.push_back(to_json(e));
  nlohmann::json j = {{"history", h},
                      {"val_accuracy", r.val.accuracy},
                      {"val_loss", r.val.loss},
                      {"test_accuracy", r.test.accuracy},
                      {"test_loss", r.test.loss},
                      {"test_count", r.test.count},
                      {"train_seconds", r.seconds}};
  // Only when there is one: a healthy run's summary stays as it was.
  if (!r.warnings.empty()) j["warnings"] = r.warnings;
  return j;
}

std::string chance_warning(const EpochRecord& first, std::size_t classes, bool has_val) {
  const double accuracy = has_val ? first.val_accuracy : first.train_accuracy;
  const double chance = 1.0 / double(std::max<std::size_t>(classes, 1));
  if (!(accuracy < 1.5 * chance)) return "";
  char buf[256];
  std::snprintf(buf, sizeof buf,
                "warning: %s accuracy %.2f%% after epoch %zu is at chance (%.2f%% for %zu "
                "classes): the network is not learning (learning rate? quantizer ranges?)",
                has_val ? "validation" : "training", 100 * accuracy, first.epoch, 100 * chance,
                classes);
  return buf;
}

EvalResult evaluate(Network& net, const Dataset& data, std::size_t batch) {
  EvalResult r;
  if (data.size() == 0) return r;
  BatchLoader loader(data, batch, /*shuffle=*/false, /*augment=*/false, /*seed=*/0);
  loader.start_epoch(0);
  SoftmaxCrossEntropy loss;
  Tensor images;
  std::vector<std::int32_t> labels;
  double total = 0;
  std::size_t correct = 0;
  while (loader.next(images, labels)) {
    total += double(loss.forward(net.forward(images, false), labels)) * double(labels.size());
    correct += loss.correct();
    r.count += labels.size();
  }
  r.loss = total / double(r.count);
  r.accuracy = double(correct) / double(r.count);
  return r;
}

Trainer::Trainer(Network& net, const DataSplits& data, const TrainConfig& cfg, Optimizer opt)
    : net_(net), data_(data), cfg_(cfg), opt_(std::move(opt)) {}

void Trainer::calibrate() {
  BatchLoader loader(data_.train, cfg_.batch, /*shuffle=*/false, /*augment=*/false, /*seed=*/0);
  loader.start_epoch(0);
  Tensor images;
  std::vector<std::int32_t> labels;
  if (loader.next(images, labels)) net_.forward(images, false);
}

TrainResult Trainer::run(Progress& progress) {
  const auto run_start = Clock::now();
  BatchLoader loader(data_.train, cfg_.batch, /*shuffle=*/true, data_.augment, cfg_.seed);
  // Methods that schedule by the epoch's length (APT) learn it before the first step.
  if (on_train_begin) on_train_begin(loader.num_batches());
  for (std::size_t epoch = next_epoch_; epoch < cfg_.epochs; ++epoch) {
    if (on_epoch_begin) on_epoch_begin(epoch);
    const EpochRecord rec = run_epoch(loader, epoch, progress);
    history_.push_back(rec);
    next_epoch_ = epoch + 1;
    progress.line(epoch_summary(rec, cfg_.epochs));
    if (rec.epoch == 1) {
      const std::string w = chance_warning(rec, data_.train.num_classes, data_.val.size() > 0);
      if (!w.empty()) progress.line(w);
    }
    if (!cfg_.out.empty()) save_checkpoint(cfg_.out, checkpoint());
    if (on_epoch_end) on_epoch_end(rec);
  }
  // A run of 0 epochs (calibrate and evaluate: e.g. ALT's static mode) still leaves the network
  // it evaluates, so that integer inference can export it like any trained one.
  if (cfg_.epochs == 0 && !cfg_.out.empty()) save_checkpoint(cfg_.out, checkpoint());
  TrainResult result;
  result.seconds = seconds_since(run_start);
  result.history = history_;
  // From the history, so a run resumed after its first epoch still carries the warning.
  if (!history_.empty()) {
    const std::string w =
        chance_warning(history_.front(), data_.train.num_classes, data_.val.size() > 0);
    if (!w.empty()) result.warnings.push_back(w);
  }
  result.val = evaluate(net_, data_.val, cfg_.eval_batch);
  result.test = evaluate(net_, data_.test, cfg_.eval_batch);
  return result;
}

EpochRecord Trainer::run_epoch(BatchLoader& loader, std::size_t epoch, Progress& progress) {
  const auto epoch_start = Clock::now();
  loader.start_epoch(epoch);
  const std::size_t steps = loader.num_batches();
  double loss_sum = 0;
  std::size_t correct = 0, seen = 0, step = 0;
  while (loader.next(images_, labels_)) {
    const float batch_loss = train_step(images_, labels_, epoch, step, steps);
    ++step;
    if (on_step) on_step(epoch * steps + step);
    loss_sum += double(batch_loss) * double(labels_.size());
    correct += loss_.correct();
    seen += labels_.size();
    const double elapsed = seconds_since(epoch_start);
    const double rate = double(seen) / std::max(elapsed, 1e-9);
    const double remaining_images = double(steps - step) * double(cfg_.batch) +
                                    double(cfg_.epochs - epoch - 1) * double(data_.train.size());
    progress.step({epoch + 1, cfg_.epochs, step, steps, loss_sum / double(seen),
                   double(correct) / double(seen), rate, remaining_images / rate});
  }
  EpochRecord rec;
  rec.epoch = epoch + 1;
  rec.lr = opt_.groups().empty() ? 0.0 : opt_.groups().front().lr();
  rec.train_loss = loss_sum / double(seen);
  rec.train_accuracy = double(correct) / double(seen);
  rec.seconds = seconds_since(epoch_start);
  rec.images_per_second = double(seen) / rec.seconds;
  const EvalResult val = evaluate(net_, data_.val, cfg_.eval_batch);
  rec.val_loss = val.loss;
  rec.val_accuracy = val.accuracy;
  return rec;
}

float Trainer::train_step(const Tensor& images, const std::vector<std::int32_t>& labels,
                          std::size_t epoch, std::size_t step, std::size_t steps) {
  const double epochs_done = double(epoch) + double(step) / double(steps);
  opt_.zero_grad();
  const float loss = loss_.forward(net_.forward(images, true), labels);
  if (!std::isfinite(loss))
    throw TrainingDiverged(detail::concat(
        "training diverged: loss is ", loss, " at epoch ", epoch + 1, ", step ", step + 1,
        " (learning rate ",
        scheduled_lr(cfg_.schedule, cfg_.opt.lr, epochs_done, double(cfg_.epochs)), ")"));
  net_.backward(loss_.backward());
  opt_.step(epochs_done, double(cfg_.epochs));
  return loss;
}

Checkpoint Trainer::checkpoint() const {
  Checkpoint ck;
  auto& net = const_cast<Network&>(net_);  // collecting pointers does not modify the network
  for (Param* p : net.params()) ck.params[p->name] = p->value;
  for (Buffer* b : net.buffers()) ck.buffers[b->name] = b->value;
  opt_.save_state(ck.optimizer);
  ck.scalars["epoch"] = double(next_epoch_);
  ck.strings["run"] = run_identity(cfg_, data_);
  ck.strings["config"] = to_json(cfg_).dump();
  ck.strings["hooks"] = net.hook_states().dump();
  nlohmann::json h = nlohmann::json::array();
  for (const auto& e : history_) h.push_back(to_json(e));
  ck.strings["history"] = h.dump();
  return ck;
}

void Trainer::restore(const Checkpoint& ck) {
  auto str = [&](const std::string& key) -> const std::string& {
    auto it = ck.strings.find(key);
    if (it == ck.strings.end()) throw error("checkpoint has no '", key, "' entry");
    return it->second;
  };
  if (str("run") != run_identity(cfg_, data_))
    throw error("checkpoint belongs to a different run: it has ", str("run"), ", this run is ",
                run_identity(cfg_, data_));
  load_weights(net_, ck, /*skip_quantizer_params=*/false);
  auto hooks = ck.strings.find("hooks");
  if (hooks != ck.strings.end()) net_.load_hook_states(nlohmann::json::parse(hooks->second));
  opt_.load_state(ck.optimizer);
  auto ep = ck.scalars.find("epoch");
  if (ep == ck.scalars.end()) throw error("checkpoint has no 'epoch' entry");
  next_epoch_ = std::size_t(ep->second);
  history_.clear();
  for (const auto& e : nlohmann::json::parse(str("history"))) {
    EpochRecord r;
    r.epoch = e.at("epoch");
    r.lr = e.at("lr");
    r.train_loss = e.at("train_loss");
    r.train_accuracy = e.at("train_accuracy");
    r.val_loss = e.at("val_loss");
    r.val_accuracy = e.at("val_accuracy");
    r.seconds = e.at("seconds");
    r.images_per_second = e.at("images_per_second");
    history_.push_back(r);
  }
}

void load_weights(Network& net, const Checkpoint& ck, bool skip_quantizer_params) {
  for (Param* p : net.params()) {
    auto it = ck.params.find(p->name);
    if (it == ck.params.end()) {
      if (skip_quantizer_params && p->role == ParamRole::quantizer) continue;
      throw error("checkpoint has no parameter '", p->name, "'");
    }
    if (it->second.shape() != p->value.shape())
      throw error("checkpoint parameter '", p->name, "' has shape ",
                  to_string(shape_of(it->second)), ", the network needs ",
                  to_string(shape_of(p->value)));
    p->value = it->second;
  }
  for (Buffer* b : net.buffers()) {
    auto it = ck.buffers.find(b->name);
    if (it == ck.buffers.end() || it->second.shape() != b->value.shape())
      throw error("checkpoint has no buffer '", b->name, "' of shape ",
                  to_string(shape_of(b->value)));
    b->value = it->second;
  }
}

nlohmann::json train(const TrainConfig& cfg, Progress& progress, const TrainExtensions& ext) {
  validate(cfg);
  if (!cfg.out.empty()) check_writable(cfg.out);
  set_threads(cfg.threads);
  const DataSplits data = load_dataset(cfg.dataset, cfg.data);
  auto net = make_network(cfg.net, data.train.sample_shape(), data.train.num_classes, cfg.width);
  net->init_weights(cfg.seed);
  if (ext.attach) ext.attach(*net);
  if (!cfg.init.empty()) {
    try {
      load_weights(*net, load_checkpoint(cfg.init), /*skip_quantizer_params=*/true);
    } catch (const Error& e) {
      // The checkpoint's own refusals name the file already.
      if (std::string_view(e.what()).starts_with(cfg.init + ": "))
        throw error("initial weights: ", e.what());
      throw error("initial weights ", cfg.init, ": ", e.what());
    }
  }
  const OptimizerSpec* qopt = ext.quantizer_optimizer ? &*ext.quantizer_optimizer : nullptr;
  Trainer trainer(*net, data, cfg,
                  make_optimizer(net->params(), cfg.opt, cfg.schedule, cfg.exclude_bn_bias, qopt,
                                 ext.quantizer_weight_decay));
  trainer.on_train_begin = ext.on_train_begin;
  trainer.on_epoch_begin = ext.on_epoch_begin;
  trainer.on_step = ext.on_step;
  trainer.on_epoch_end = ext.on_epoch_end;
  if (!cfg.resume.empty())
    trainer.restore(load_checkpoint(cfg.resume));
  else if (ext.calibrate)
    trainer.calibrate();
  const TrainResult r = trainer.run(progress);
  nlohmann::json out = to_json(r);
  if (ext.report) out["layers"] = ext.report(*net);
  out["config"] = to_json(cfg);
  out["threads"] = num_threads();
  out["parameters"] = net->num_weights();
  out["data"] = data.identity;
  if (!cfg.out.empty()) out["checkpoint"] = cfg.out;
  return out;
}

}  // namespace qb
