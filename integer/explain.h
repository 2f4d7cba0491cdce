// Why the integer network and the float fake-quant network disagree on an image (`qbench infer
// --explain`): the first layer, in forward order, whose output code differs between them, and
// for that code both values before their rounding, in output-code units:
//   fake_quant  x / s + z, x the float activation the next layer's input quantizer received
//               (float32 sums in the float network's order, its BatchNorm, shortcut add, ReLU),
//               in long double, and x / s as float32 arithmetic rounds it (`fake_quant_quotient`,
//               minmax's quantizer; x itself is `fake_quant_input`)
//   integer     the requantisation's exact rational value before its one rounding,
//               (x·m0 + B) / 2^(31 − e) + z, or v / 2^shift + z for a residual or pooled conv
//               (integer/network.h), recomputed from the traced input codes
// and the integer value's own error bound against exact real arithmetic on the exported scales
// (its Q31 multipliers' 2^−31 and its int64 bias's rounding). When the integer value lies
// further from the rounding boundary than that bound, the integer code is the correctly
// rounded one and the float network's own rounding error (float32 summation, its scale
// arithmetic) put its value across the boundary; `tie` marks an integer value exactly at one.
// A depthwise conv's differing code is reported without the values; a conv followed by max
// pooling (LeNet-5) is not traced (the pool's input has no quantizer), and says so.
#pragma once

#include "integer/engine.h"
#include "integer/network.h"
#include "methods/qat.h"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace qb::integer {

// An input quantizer that keeps its last forward's input and output (everything else is the
// wrapped quantizer's): the float network's activations, before and after quantisation.
class RecordingQuantizer : public Quantizer {
 public:
  explicit RecordingQuantizer(std::shared_ptr<Quantizer> q);
  const Tensor& forward(const Tensor& x, bool training) override;
  const Tensor& backward(const Tensor& dy) override { return q_->backward(dy); }
  void calibrate(const Tensor& x) override { q_->calibrate(x); }
  Grid grid() const override { return q_->grid(); }
  nlohmann::json stats() const override { return q_->stats(); }
  bool idempotent() const override { return q_->idempotent(); }
  void collect_params(std::vector<Param*>& out) override { q_->collect_params(out); }
  nlohmann::json state() const override { return q_->state(); }
  void load(const nlohmann::json& s) override { q_->load(s); }

  const Tensor& input() const { return input_; }
  const Tensor& output() const { return *output_; }

 private:
  std::shared_ptr<Quantizer> q_;
  Tensor input_;
  const Tensor* output_ = nullptr;
};

// The recording quantizers of one network, by layer name; wrap() installs them (make_qat).
class Recorders {
 public:
  InputQuantizerWrap wrap();
  const RecordingQuantizer* at(const std::string& layer) const;

 private:
  std::map<std::string, RecordingQuantizer*> by_layer_;
};

// Image k of a batch that both networks ran (the engine's trace and the recorders hold that
// batch; image_codes: quantize_image of it): the first layer whose output codes differ,
// the first differing code's values as above and how many codes of that layer differ.
nlohmann::json explain_image(const Network& net, const Recorders& rec, const Trace& trace,
                             const std::vector<std::uint8_t>& image_codes, int k);

}  // namespace qb::integer
