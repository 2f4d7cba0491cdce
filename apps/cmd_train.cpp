// `qbench train`: train one network on one dataset; JSON summary on stdout.
#include "apps/commands.h"
#include "engine/check.h"
#include "engine/data/dataset.h"
#include "engine/nets.h"
#include "engine/train.h"
#include "methods/qat.h"
#include "methods/registry.h"

#include <iostream>

namespace qb::app {

Run add_train(CLI::App& app) {
  auto cfg = std::make_shared<TrainConfig>();
  auto qat = std::make_shared<QatConfig>();
  auto opts = std::make_shared<std::vector<std::string>>();
  auto* cmd =
      app.add_subcommand("train", "Train a network; progress on stderr, JSON summary on stdout");
  cmd->add_option("--net", cfg->net, one_of("Network", network_names()))->capture_default_str();
  cmd->add_option("--width", cfg->width, "Channel width multiplier")->capture_default_str();
  cmd->add_option("--data", cfg->dataset, one_of("Dataset", kDatasets.names()))
      ->capture_default_str();
  cmd->add_option("--data-dir", cfg->data.dir,
                  "Dataset folder (default for fashion-mnist: /usr/share/datasets/fashion-mnist)");
  cmd->add_option("--val-size", cfg->data.val_size,
                  "Images held out from the end of the training set for validation")
      ->capture_default_str();
  cmd->add_option("--train-limit", cfg->data.train_limit,
                  "Use only the first N training images (0: all)")
      ->capture_default_str();
  cmd->add_option("--test-limit", cfg->data.test_limit, "Use only the first N test images (0: all)")
      ->capture_default_str();
  cmd->add_option("--epochs", cfg->epochs, "Epochs (0 with --init: calibrate and evaluate only)")
      ->capture_default_str();
  cmd->add_option("--batch", cfg->batch, "Batch size")->capture_default_str();
  add_named_option(cmd, "--optimizer", kOptimizers, cfg->opt.type, "Optimizer");
  cmd->add_option("--lr", cfg->opt.lr, "Base learning rate")->capture_default_str();
  cmd->add_option("--momentum", cfg->opt.momentum, "SGD momentum")->capture_default_str();
  cmd->add_flag("--nesterov", cfg->opt.nesterov, "Nesterov momentum");
  cmd->add_option("--wd", cfg->opt.weight_decay, "Weight decay (L2)")->capture_default_str();
  cmd->add_flag("!--decay-bn-bias", cfg->exclude_bn_bias,
                "Also decay biases and BatchNorm parameters (excluded by default)");
  add_named_option(cmd, "--schedule", kSchedules, cfg->schedule.type, "Learning-rate schedule");
  cmd->add_option("--warmup", cfg->schedule.warmup_epochs, "Linear warm-up epochs")
      ->capture_default_str();
  cmd->add_option("--milestones", cfg->schedule.milestones, "Step schedule: epochs to decay at");
  cmd->add_option("--gamma", cfg->schedule.gamma, "Step schedule: decay factor")
      ->capture_default_str();
  cmd->add_option("--seed", cfg->seed, "Random seed (initialisation, order, augmentation)")
      ->capture_default_str();
  cmd->add_option("--threads", cfg->threads, "Threads for qbench and OpenBLAS (0: all cores)")
      ->capture_default_str();
  cmd->add_option("--out", cfg->out, "Checkpoint written (atomically) after every epoch");
  cmd->add_option("--resume", cfg->resume, "Continue from this checkpoint");
  cmd->add_option("--init", cfg->init,
                  "Start from this checkpoint's weights (e.g. an FP32 run) instead of random ones");
  cmd->add_option("--method", qat->method,
                  one_of("Quantization method (qbench methods describes them)", method_names()));
  cmd->add_option("--wbits", qat->settings.wbits, "Weight bits (32: not quantized)")
      ->capture_default_str();
  cmd->add_option("--abits", qat->settings.abits, "Activation (layer input) bits")
      ->capture_default_str();
  cmd->add_option("--gbits", qat->settings.gbits,
                  "Output-gradient bits (methods that quantize gradients)")
      ->capture_default_str();
  cmd->add_option("--granularity", qat->settings.granularity,
                  one_of("Scale grouping (which ones a method supports: qbench methods)",
                         kGranularities.names()))
      ->capture_default_str();
  add_named_option(cmd, "--first-last", kFirstLast, qat->settings.first_last,
                   "Weights of the first and last layer");
  cmd->add_option("--opt", *opts, "Method option KEY=VALUE (VALUE parsed as JSON when it is)");
  return [cfg, qat, opts] {
    TrainExtensions ext;
    if (!qat->method.empty()) {
      for (const std::string& kv : *opts) {
        const auto eq = kv.find('=');
        if (eq == std::string::npos || eq == 0)
          throw error("--opt: expected KEY=VALUE, got '", kv, "'");
        const std::string key = kv.substr(0, eq), value = kv.substr(eq + 1);
        const auto parsed = nlohmann::json::parse(value, nullptr, /*allow_exceptions=*/false);
        qat->settings.options[key] = parsed.is_discarded() ? nlohmann::json(value) : parsed;
      }
      ext = make_qat(*qat);
      cfg->quantization = to_json(*qat);
    } else if (!opts->empty()) {
      throw error("--opt needs --method");
    }
    Progress progress(stderr);
    nlohmann::json summary;
    try {
      summary = train(*cfg, progress, ext);
    } catch (const TrainingDiverged& e) {
      throw error(e.what(), "; lower --lr?");
    }
    std::cout << summary.dump(2) << std::endl;
    return 0;
  };
}

}  // namespace qb::app
