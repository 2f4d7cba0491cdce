#include "methods/method.h"

#include "engine/check.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace qb {
namespace {

// Options are read as their default's type: an int (bits, epochs) or a float (rates). A value
// that type cannot hold is refused here, naming the key, for every option of every method,
// before a conversion wraps it (2^70 as an int) or turns it into infinity (1e39 as a float).
void check_number_fits(const std::string& key, const nlohmann::json& value,
                       const nlohmann::json& default_value) {
  const double v = value.get<double>();
  if (default_value.is_number_integer()) {
    if (v != std::floor(v) || v < std::numeric_limits<int>::min() ||
        v > std::numeric_limits<int>::max())
      throw key_error("options." + key, "expected an integer in -2^31 .. 2^31-1, got ",
                      value.dump());
  } else if (!(std::abs(v) <= double(std::numeric_limits<float>::max()))) {
    throw key_error("options." + key,
                    "expected a number of magnitude at most 3.4e38 (a float), got ", value.dump());
  }
}

}  // namespace

void Method::validate(const QuantizerSpec& spec) const {
  const MethodInfo& mi = info();
  if (std::find(mi.roles.begin(), mi.roles.end(), spec.role) == mi.roles.end()) {
    std::vector<std::string> valid;
    for (auto r : mi.roles) valid.push_back(to_string(r));
    throw key_error("role", mi.name, " does not quantize ", to_string(spec.role), " (it supports ",
                    join_names(valid), ")");
  }
  if (spec.bits < mi.min_bits || spec.bits > mi.max_bits)
    throw key_error("bits", mi.name, " supports ", mi.min_bits, "..", mi.max_bits, " bits, got ",
                    spec.bits);
  validate_options(spec.options);
}

void Method::validate_options(const nlohmann::json& options) const {
  const MethodInfo& mi = info();
  if (!options.is_object()) throw key_error("options", "expected an object");
  for (const auto& item : options.items()) {
    // Named, not a structured binding: clang 14 (the fuzz build) cannot capture one in a lambda.
    const std::string& key = item.key();
    const nlohmann::json& value = item.value();
    const auto it = std::find_if(mi.options.begin(), mi.options.end(),
                                 [&](const OptionInfo& o) { return o.name == key; });
    if (it == mi.options.end()) {
      std::vector<std::string> valid;
      for (const auto& o : mi.options) valid.push_back(o.name);
      if (valid.empty()) throw key_error("options." + key, mi.name, " takes no options");
      throw unknown_name(mi.name + " option", key, valid, "options." + key);
    }
    if (value.type() != it->default_value.type() &&
        !(value.is_number() && it->default_value.is_number()))
      throw key_error("options." + key, "expected ", it->default_value.type_name(), ", got ",
                      value.type_name());
    if (value.is_number()) check_number_fits(key, value, it->default_value);
    if (key == "granularity") kGranularities.parse(value.get<std::string>(), "options." + key);
  }
}

nlohmann::json Method::probe_weight_operand(Quantizer& input, const Tensor& x,
                                            const Tensor& w) const {
  (void)input, (void)x, (void)w;
  throw key_error("w", info().name, " takes no weight operand");
}

std::unique_ptr<Quantizer> Method::make_checked(const QuantizerSpec& spec) const {
  validate(spec);
  return make_quantizer(spec);
}

int Method::weight_bits(const LayerInfo& layer, const QuantSettings& s) {
  if (!(layer.first || layer.last)) return s.wbits;
  switch (s.first_last) {
    case FirstLast::same:
      return s.wbits;
    case FirstLast::eight:
      return std::max(s.wbits, 8);  // never fewer than 8 bits
    case FirstLast::fp32:
      return 32;
  }
  QB_CHECK(false);
}

QuantizerSpec Method::slot_spec(const LayerInfo& layer, const QuantSettings& s, QuantRole role,
                                int bits, const std::string& slot) {
  QuantizerSpec q;
  q.role = role;
  q.bits = bits;
  q.options = s.options;
  q.layer = layer;
  q.name = layer.name + "." + slot;
  if (s.granularity != "tensor") q.options["granularity"] = s.granularity;
  return q;
}

LayerQuantizers Method::make_layer(const LayerInfo& layer, const QuantSettings& s) const {
  const MethodInfo& mi = info();
  auto supports = [&](QuantRole r) {
    return std::find(mi.roles.begin(), mi.roles.end(), r) != mi.roles.end();
  };
  LayerQuantizers out;
  const int wbits = weight_bits(layer, s);
  if (wbits < 32 && supports(QuantRole::weight))
    out.weight = make_checked(slot_spec(layer, s, QuantRole::weight, wbits, "weight_q"));
  // The first layer's input is the normalised image: left in floating point, as SAT, PACT,
  // DoReFa and SYQ do. Every other input follows a ReLU in qbench's networks: unsigned.
  if (s.abits < 32 && supports(QuantRole::activation) && !layer.first) {
    QuantizerSpec a = slot_spec(layer, s, QuantRole::activation, s.abits, "input_q");
    a.is_signed = false;
    out.input = make_checked(a);
  }
  if (s.gbits < 32 && supports(QuantRole::gradient))
    out.grad = make_checked(slot_spec(layer, s, QuantRole::gradient, s.gbits, "grad_q"));
  return out;
}

}  // namespace qb
