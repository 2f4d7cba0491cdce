// Quantization-aware training: a registered method's quantizers installed into the hook
// slots of every conv and linear layer, its parameter group's optimizer, its callbacks, and a
// per-layer report (grid, learned values, statistics) for the run's summary.
#pragma once

#include "engine/train.h"
#include "methods/method.h"

#include <functional>
#include <memory>
#include <string>

namespace qb {

struct QatConfig {
  std::string method;
  QuantSettings settings;
};

nlohmann::json to_json(const QatConfig& c);
// The inverse of to_json (a run's "quantization" entry); throws qb::Error naming a bad key.
QatConfig qat_config_from_json(const nlohmann::json& j);

// Replaces each input quantizer as it is installed (integer/explain.h wraps them to record
// the activations the network computes).
using InputQuantizerWrap = std::function<std::shared_ptr<Quantizer>(std::shared_ptr<Quantizer>)>;

// Throws qb::Error naming the key for an unknown method, bits out of range, unknown options.
TrainExtensions make_qat(const QatConfig& c, InputQuantizerWrap wrap_input = {});

// Grid, learned parameters and statistics of every quantizer installed in `net`.
nlohmann::json quantizer_report(Network& net);

}  // namespace qb
