// OAQ (Xie, Song, Cai, Li 2020, "Overflow Aware Quantization: Accelerating Neural Network
// Inference by Low-bit Multiply-Accumulate Operations", IJCAI 2020; arXiv:2005.13297): quantize
// a layer's input and weights so that its integer dot products fit a 16-bit accumulator, by
// enlarging both scales with one per-layer factor α ≥ 1 until the overflows counted on training
// batches are gone. Only the abstract was reachable; the formulas follow
// shared/research/methods-oaq-apt.md part C (MNN's implementation by the authors' organisation
// and the project's conventions, PROBE.md "oaq"); section numbers below are that note's.
//
// Quantization (C.1), per tensor, symmetric, the same α for a layer's input and weights:
//   scale = range·α / qmax,  qmax = 2^(b−1) − 1 signed (= 2·max|x|/(2^b − 2)·α), 2^b − 1 unsigned
//   y = clamp(rint(x / scale), −qmax or 0, qmax) · scale;   dx = dy (straight through)
// range: weights max|w| of the tensor itself; inputs the batch's max|x| (max x unsigned) in
// training, a running average of it (momentum 0.9, as minmax) in evaluation and export.
// In a network every input but the image is unsigned (it follows a ReLU; integer/ stores u8
// codes with zero point 0, so the accumulator sees exactly the codes counted here); the probe's
// default is signed (PROBE.md). The image stays in float, so the first layer is not
// controlled (its integer input is the dataset's pixels, which OAQ does not choose).
//
// Controller (C.2), per conv/linear layer, on training batches every `period` steps: the
// layer's input and weights of that step are quantized at the current α (the input at the
// running range, as the exported integer network will quantize it; our choice, so that the
// certificate is about what `qbench infer` runs), every dot product is
// computed exactly and under the certified accumulation model (methods/accumulation.h: wrap,
// pair-wrap or lanes), and with N_o of N wrong:
//   rule "alpha" (the paper, as an earlier note recorded it):
//        α ← α + min(λ·ln(1 + N_o/N), Δ_max),  λ = Δ_max = 0.01; α never shrinks
//   rule "clamp" (MNN): an integer clamp c (α = qmax_w / c, c starts at qmax_w / α); while the
//        batch still overflows, c ← c − 1 and recount on the same batch; below `min_clamp` the
//        layer gives up (c back to qmax_w, flagged, never counted again) as MNN does
// The new α applies from the next step (the step counted was computed with the old one).
// Depthwise convolutions are left alone by default (MNN: "does not support depthwise conv").
#pragma once

#include "methods/accumulation.h"
#include "methods/quantizer.h"

#include <functional>
#include <memory>
#include <optional>
#include <vector>

namespace qb {
namespace oaq {

inline constexpr double kLambda = 0.01, kDeltaMax = 0.01;  // the paper rule's constants (C.2)

enum class Rule { alpha, clamp };
inline constexpr Named<Rule> kRuleRows[] = {{"alpha", Rule::alpha}, {"clamp", Rule::clamp}};
inline constexpr NameTable<Named<Rule>> kRules{"OAQ controller rule", kRuleRows};

// The controller's settings, from a cell's (or probe request's) options.
struct Settings {
  double alpha = 1.0;  // starting α (≥ 1)
  int acc_bits = 16;   // P
  Rule rule = Rule::alpha;
  acc::Model model = acc::Model::wrap;  // the accumulation the controller certifies
  std::int64_t period = 10;             // count every `period` training steps
  double lambda = kLambda, delta_max = kDeltaMax;
  int min_clamp = 1;
  bool depthwise = false;  // control depthwise convolutions too
  static Settings from_options(const nlohmann::json& options);  // throws qb::Error (key)
};

// Δα of the paper rule for N_o wrong of N.
double alpha_step(std::int64_t wrong, std::int64_t dot_products, double lambda, double delta_max);

// One layer's controller: α or the clamp, the decisions, the statistics. Tensor-free, so its
// rules are tested on crafted counts. Per training step: due() says whether to count; then
// observe() with a function that counts the step's batch at a given α; then step_done().
class Controller {
 public:
  Controller(const Settings& s, int weight_qmax);

  using CountAt = std::function<acc::Counts(double alpha)>;
  bool due() const;
  void observe(const CountAt& count);
  void step_done(std::size_t steps_per_epoch);

  double alpha() const { return alpha_; }
  int clamp() const { return clamp_; }
  bool gave_up() const { return gave_up_; }
  std::int64_t step() const { return step_; }
  const acc::Counts& total() const { return total_; }
  const acc::Counts& last() const { return last_; }
  const Settings& settings() const { return s_; }

  nlohmann::json stats() const;
  nlohmann::json state() const;
  void load(const nlohmann::json& j);

 private:
  struct EpochStats {
    double alpha = 1.0;
    int clamp = 0;
    std::int64_t counted = 0;  // steps counted
    acc::Counts counts;        // summed over them, at the α each was trained with
  };
  Settings s_;
  int weight_qmax_;
  double alpha_;
  int clamp_;
  bool gave_up_ = false, observed_ = false;
  std::int64_t step_ = 0, counted_ = 0;
  acc::Counts total_, last_;
  std::vector<EpochStats> epochs_;
};

// What a layer's two quantizers share: the controller and, on a counted step, the raw operands
// they saw (copied: the optimizer changes the weights before the step is counted).
struct Layer {
  Layer(const Settings& s, int weight_qmax, std::optional<LayerInfo> info, bool controlled)
      : controller(s, weight_qmax), info(std::move(info)), controlled(controlled) {}
  Controller controller;
  std::optional<LayerInfo> info;
  bool controlled;  // a conv/linear with both operands quantized, not excluded
  // The operands of the step being counted: values, shape, range, bits, signedness.
  struct Operand {
    std::vector<float> values;
    Shape shape;
    float range = 0.0f;
    int qmax = 0;
    bool is_signed = true;
    bool set = false;
  };
  Operand input, weight;
  std::vector<std::int32_t> input_codes, weight_codes;  // reused by every count
  // Count the deposited step (if complete) and advance the controller.
  void step_done(std::size_t steps_per_epoch);
};

// Integer codes of x at scale range·α/qmax: clamp(rint(x/scale)), as the forward computes them.
std::vector<std::int32_t> codes(const float* x, std::size_t n, float scale, int qmax,
                                bool is_signed);
// The same into `out`, resized to n (no allocation once it has held n codes).
void codes(const float* x, std::size_t n, float scale, int qmax, bool is_signed,
           std::vector<std::int32_t>& out);
float scale_of(float range, double alpha, int qmax);

}  // namespace oaq

class OaqQuantizer final : public Quantizer {
 public:
  // `layer` null: a quantizer of its own (a probe), α from the options, nothing counted.
  OaqQuantizer(QuantizerSpec spec, std::shared_ptr<oaq::Layer> layer);

  const Tensor& forward(const Tensor& x, bool training) override;
  const Tensor& backward(const Tensor& dy) override { return dy; }  // straight through
  void calibrate(const Tensor& x) override;
  Grid grid() const override;
  nlohmann::json stats() const override;
  nlohmann::json state() const override;
  void load(const nlohmann::json& s) override;

  int qmax() const { return qmax_; }
  bool is_signed() const { return signed_; }
  float scale() const { return scale_; }
  const oaq::Layer& layer() const { return *layer_; }

 private:
  float range_of(const Tensor& x) const;
  bool is_weight() const { return spec_.role == QuantRole::weight; }

  std::shared_ptr<oaq::Layer> layer_;
  bool signed_;
  int qmax_;
  float running_range_ = 0.0f, scale_ = 1.0f;
  bool calibrated_ = false;
  Tensor y_;
};

}  // namespace qb
