// The Quantizer interface: one tensor, in one place of one layer.
//
// A Quantizer is an engine TensorHook — Conv2d and Linear call forward/backward through their
// weight, input and grad slots — plus what methods, checkpoints and integer export need:
//
//   forward(x, training)  fake-quantized x (values on the grid, as float)
//   backward(dy)          dL/dx by the method's rule (STE or exact); adds dL/dθ into params
//   calibrate(x)          initialise from data (max, 3SD, KL, ... as the paper says)
//   grid()                bits, signedness, scales or power-of-2 exponents, zero points,
//                         granularity: everything integer inference needs
//   state() / load()      (from TensorHook) non-parameter state (running ranges, chosen
//                         bit-widths) as JSON; learned parameters are Params and travel
//                         with the checkpoint
//   stats()               per-quantizer statistics reported per layer (thresholds, bits, ...)
//
// Learned parameters have local names ("alpha", "log2_t") and, inside a network, the full
// name "<layer>.<slot>.<local>" so checkpoints and results key them uniquely.
#pragma once

#include "engine/hook.h"
#include "engine/layer.h"
#include "engine/names.h"

#include <nlohmann/json.hpp>

#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace qb {

enum class QuantRole { weight, activation, gradient };
inline constexpr Named<QuantRole> kRoleRows[] = {{"weight", QuantRole::weight},
                                                 {"activation", QuantRole::activation},
                                                 {"gradient", QuantRole::gradient}};
inline constexpr NameTable<Named<QuantRole>> kRoles{"role", kRoleRows};

const char* to_string(QuantRole r);
QuantRole parse_role(const std::string& s);  // throws qb::Error (key "role")

// How a quantizer groups its scales. Each method supports some of them (minmax: tensor,
// channel; syq: layer, row, pixel, channel — "layer" is SYQ's word for one α per tensor, and
// takes "tensor" as its alias); the names are parsed here, the support checked by the method.
struct GranularityInfo {
  std::string_view name;
  std::string_view about;
};
inline constexpr GranularityInfo kGranularityRows[] = {
    {"tensor", "one scale per tensor"},
    {"layer", "one scale per tensor (SYQ's name)"},
    {"channel", "one scale per output channel"},
    {"row", "one scale per kernel row (SYQ)"},
    {"pixel", "one scale per kernel position (SYQ)"}};
inline constexpr NameTable<GranularityInfo> kGranularities{"granularity", kGranularityRows};

struct Grid {
  int bits = 32;
  bool is_signed = true;
  std::vector<float> scale;        // one per group; empty when not quantized
  std::vector<int> pow2_exponent;  // set when every scale is an exact power of two
  std::vector<int> zero_point;     // empty: symmetric
  std::string granularity = "tensor";
  nlohmann::json to_json() const;
};

// Everything a method needs to build one quantizer.
struct QuantizerSpec {
  QuantRole role = QuantRole::weight;
  int bits = 8;
  std::optional<bool> is_signed;  // unset: the method's default for the role
  nlohmann::json options = nlohmann::json::object();
  std::optional<LayerInfo> layer;  // absent in a bare probe request
  std::string name;                // parameter-name prefix inside a network ("conv1.weight_q")
  // Whether the quantizer will be trained (quantization-aware training, a probe with
  // `training: true`) or only calibrated for inference (static quantization). Methods whose
  // initialisation depends on it read it (ALT: 3SD weight thresholds for retraining, MAX for
  // static).
  bool training = true;

  // An option's value, or `fallback` when absent.
  template <class T>
  T option(const std::string& key, T fallback) const {
    return options.contains(key) ? options.at(key).get<T>() : fallback;
  }
};

class Quantizer : public TensorHook {
 public:
  explicit Quantizer(QuantizerSpec spec) : spec_(std::move(spec)) {}

  virtual void calibrate(const Tensor& x) { (void)x; }
  virtual Grid grid() const = 0;
  virtual nlohmann::json stats() const { return nlohmann::json::object(); }
  // q(q(x)) = q(x) with parameters fixed. False only where the method renormalises its input
  // first (DoReFa's tanh), which the conformance suite then does not demand.
  virtual bool idempotent() const { return true; }
  // True when backward's dL/dθ is the exact derivative of forward (no straight-through
  // estimate in it, e.g. a scale that multiplies the output); the conformance suite then
  // checks it against finite differences. STE gradients are checked against their closed form
  // in the method's own tests instead.
  virtual bool exact_param_gradients() const { return false; }

  void collect_params(std::vector<Param*>& out) override;
  // The learned parameter with this local name, or nullptr.
  Param* param(const std::string& local_name);
  const std::vector<std::string>& param_names() const { return local_names_; }
  const QuantizerSpec& spec() const { return spec_; }

 protected:
  Param& add_param(const std::string& local_name, const Shape& shape, float init);

  QuantizerSpec spec_;

 private:
  std::vector<std::unique_ptr<Param>> params_;  // stable addresses for the optimizer
  std::vector<std::string> local_names_;
};

}  // namespace qb
