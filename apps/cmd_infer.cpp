// `qbench infer`: integer-only inference of a QAT checkpoint; JSON on stdout, progress on
// stderr (integer/infer.h).
#include "apps/commands.h"
#include "integer/infer.h"

#include <iostream>

namespace qb::app {

Run add_infer(CLI::App& app) {
  auto cfg = std::make_shared<integer::InferConfig>();
  auto isa = std::make_shared<std::string>();
  auto* cmd = app.add_subcommand(
      "infer",
      "Integer-only inference of a QAT checkpoint against its exact simulation and "
      "its fake-quant network; JSON on stdout");
  cmd->add_option("checkpoint", cfg->checkpoint, "Checkpoint of `qbench train --method ...`")
      ->required();
  cmd->add_option("--data", cfg->dataset, "Dataset (default: the checkpoint's)");
  cmd->add_option("--data-dir", cfg->data_dir, "Dataset folder (default: the checkpoint's)");
  add_named_option(cmd, "--acc", integer::kAccModels, cfg->acc, "Accumulator model");
  cmd->add_option("--isa", *isa,
                  one_of("int8 kernels (default: the best this CPU has)", int8::kIsas.names()));
  cmd->add_option("--batch", cfg->batch, "Images per batch")->capture_default_str();
  cmd->add_option("--threads", cfg->threads, "Threads (0: all cores)")->capture_default_str();
  cmd->add_option("--test-limit", cfg->test_limit, "Use only the first N images (0: all)")
      ->capture_default_str();
  cmd->add_option("--split", cfg->split,
                  "Images: test, or train (the data the quantizers were calibrated on)")
      ->capture_default_str();
  cmd->add_option("--simulate-limit", cfg->simulate_limit,
                  "Check against the exact simulation only the batches that start before this "
                  "image (0: all); accuracy and overflow counts still cover every image")
      ->capture_default_str();
  auto no_stats = std::make_shared<bool>(false);
  cmd->add_flag("--no-stats", *no_stats,
                "Count no overflows: pair-wrap then runs on the 16-bit kernels (gemm_acc16), "
                "the speed OAQ is for; the other 16-bit models are refused");
  auto explain = std::make_shared<bool>(false), explain_codes = std::make_shared<bool>(false);
  cmd->add_flag("--explain", *explain,
                "Trace each image the integer and fake-quant networks classify differently to "
                "the first code that differs");
  cmd->add_flag("--explain-codes", *explain_codes,
                "Trace every image some of whose codes differ between the two networks, "
                "whether or not its top-1 does");
  return [cfg, isa, no_stats, explain, explain_codes] {
    using Explain = integer::InferConfig::Explain;
    cfg->explain = *explain_codes ? Explain::codes
                   : *explain     ? Explain::disagreements
                                  : Explain::none;
    cfg->count_overflows = !*no_stats;
    cfg->isa = isa->empty() ? int8::best_isa() : int8::kIsas.parse(*isa, "--isa").value;
    Progress progress(stderr);
    const nlohmann::json out = integer::infer(*cfg, progress);
    std::cout << out.dump(2) << std::endl;
    return 0;
  };
}

}  // namespace qb::app
