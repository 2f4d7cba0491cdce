// The Method interface: a paper, as a factory of quantizers plus hooks for the trainer.
#pragma once

#include "engine/network.h"
#include "engine/optim.h"
#include "methods/quantizer.h"

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace qb {

struct OptionInfo {
  std::string name;
  nlohmann::json default_value;
  std::string help;
};

struct MethodInfo {
  std::string name;     // registry name
  std::string paper;    // one-line reference
  std::string summary;  // what it quantizes and how, one line
  std::vector<QuantRole> roles;
  int min_bits = 1, max_bits = 32;
  std::vector<OptionInfo> options;
};

// The weights of the first and the last layer: at the cell's bits, at 8 bits (never fewer),
// or left in floating point.
enum class FirstLast { same, eight, fp32 };
inline constexpr Named<FirstLast> kFirstLastRows[] = {
    {"same", FirstLast::same}, {"8", FirstLast::eight}, {"fp32", FirstLast::fp32}};
inline constexpr NameTable<Named<FirstLast>> kFirstLast{"first_last", kFirstLastRows};

// A sweep cell's quantization settings.
struct QuantSettings {
  int wbits = 32, abits = 32, gbits = 32;  // 32: that slot stays in floating point
  // The cell's granularity (a kGranularities name), the one place it is set: make_layer hands
  // it to each quantizer as options.granularity, the form a probe request uses, and a cell's
  // own options may not set it (make_qat refuses).
  std::string granularity = "tensor";
  FirstLast first_last = FirstLast::same;
  nlohmann::json options = nlohmann::json::object();
};

struct LayerQuantizers {
  std::shared_ptr<Quantizer> weight, input, grad;
};

class Method {
 public:
  virtual ~Method() = default;
  virtual const MethodInfo& info() const = 0;

  // Builds one quantizer; `spec` has been validated against info().
  virtual std::unique_ptr<Quantizer> make_quantizer(const QuantizerSpec& spec) const = 0;

  // The quantizers of one layer. The default: weights at wbits (first/last layers per
  // first_last), the input at abits, unsigned (every input but the image follows a ReLU in
  // qbench's networks; the first layer's input image stays in floating point — a method
  // that quantizes it overrides this), the output gradient at gbits when the method
  // quantizes gradients.
  virtual LayerQuantizers make_layer(const LayerInfo& layer, const QuantSettings& s) const;

  // Trainer hooks. The optimizer of the "quantizer" parameter group (nullopt: the weights'
  // optimizer, without weight decay); BN folding (true: every conv → BN pair becomes a
  // FoldedConvBn before the quantizers are installed, so the weight quantizer sees the folded
  // weight); callbacks before each epoch, after each step and after each epoch.
  virtual std::optional<OptimizerSpec> quantizer_optimizer() const { return std::nullopt; }
  // The L2 coefficient of the "quantizer" group (0: not decayed); read after configure().
  virtual float quantizer_weight_decay() const { return 0.0f; }
  virtual bool fold_bn() const { return false; }
  // Before each epoch (0-based), with the network the quantizers live in: freezing BatchNorm
  // statistics or thresholds on a schedule (ALT) happens here. A resumed run calls it from its
  // first remaining epoch on, so a schedule must depend on `epoch` alone.
  virtual void on_epoch_begin(std::size_t epoch, Network& net) { (void)epoch, (void)net; }
  // Once per run (resumed runs too), before the first epoch: the optimizer steps per epoch,
  // for controllers whose schedule is counted in epochs (APT's update interval).
  virtual void on_train_begin(std::size_t steps_per_epoch) { (void)steps_per_epoch; }
  virtual void on_step(std::size_t step) { (void)step; }
  virtual void on_epoch_end(std::size_t epoch) { (void)epoch; }

  // `qbench probe` with a top-level "w" (PROBE.md, "oaq"): `input` has just quantized `x` as a
  // layer's input, and `w` is that layer's weight operand. Returns {"grid": {...}, "stats":
  // {...}}, merged into the response's. The default refuses (key "w").
  virtual nlohmann::json probe_weight_operand(Quantizer& input, const Tensor& x,
                                              const Tensor& w) const;

  // Reads the cell's settings once, before any quantizer is made or hook called (options that
  // steer the trainer hooks: ALT's threshold rate and freezing schedule). `s.options` has
  // passed validate_options.
  virtual void configure(const QuantSettings& s) { (void)s; }

  // Refuses bits out of range, an unsupported role, an unknown option (qb::Error naming the key).
  void validate(const QuantizerSpec& spec) const;
  void validate_options(const nlohmann::json& options) const;
  std::unique_ptr<Quantizer> make_checked(const QuantizerSpec& spec) const;

 protected:
  // The weight bits of `layer` after the first/last policy.
  static int weight_bits(const LayerInfo& layer, const QuantSettings& s);
  // A spec for one slot of `layer`, named "<layer>.<slot>" and carrying the cell's options.
  static QuantizerSpec slot_spec(const LayerInfo& layer, const QuantSettings& s, QuantRole role,
                                 int bits, const std::string& slot);
};

using MethodFactory = std::function<std::unique_ptr<Method>()>;

}  // namespace qb
