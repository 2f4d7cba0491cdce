#include "methods/method.h"

#include "engine/check.h"

#include <algorithm>

namespace qb {

void Method::validate(const QuantizerSpec& spec) const {
  const MethodInfo& mi = info();
  if (std::find(mi.roles.begin(), mi.roles.end(), spec.role) == mi.roles.end()) {
    std::string valid;
    for (auto r : mi.roles) valid += (valid.empty() ? "" : ", ") + std::string(to_string(r));
    throw error("role: ", mi.name, " does not quantize ", to_string(spec.role), " (it supports ",
                valid, ")");
  }
  if (spec.bits < mi.min_bits || spec.bits > mi.max_bits)
    throw error("bits: ", mi.name, " supports ", mi.min_bits, "..", mi.max_bits, " bits, got ",
                spec.bits);
  validate_options(spec.options);
}

void Method::validate_options(const nlohmann::json& options) const {
  const MethodInfo& mi = info();
  if (!options.is_object()) throw error("options: expected an object");
  for (const auto& [key, value] : options.items()) {
    const auto it = std::find_if(mi.options.begin(), mi.options.end(),
                                 [&](const OptionInfo& o) { return o.name == key; });
    if (it == mi.options.end()) {
      std::string valid;
      for (const auto& o : mi.options) valid += (valid.empty() ? "" : ", ") + o.name;
      throw error("options.", key, ": ", mi.name, " has no such option (valid: ",
                  valid.empty() ? "none" : valid, ")");
    }
    if (value.type() != it->default_value.type() &&
        !(value.is_number() && it->default_value.is_number()))
      throw error("options.", key, ": expected ", it->default_value.type_name(), ", got ",
                  value.type_name());
  }
}

std::unique_ptr<Quantizer> Method::make_checked(const QuantizerSpec& spec) const {
  validate(spec);
  return make_quantizer(spec);
}

int Method::weight_bits(const LayerInfo& layer, const QuantSettings& s) {
  if (s.first_last != "same" && s.first_last != "8" && s.first_last != "fp32")
    throw error("first_last: expected same, 8 or fp32, got '", s.first_last, "'");
  if (!(layer.first || layer.last)) return s.wbits;
  if (s.first_last == "fp32") return 32;
  if (s.first_last == "8") return std::max(s.wbits, 8);  // never fewer than 8 bits
  return s.wbits;
}

QuantizerSpec Method::slot_spec(const LayerInfo& layer, const QuantSettings& s, QuantRole role,
                                int bits, const std::string& slot) {
  QuantizerSpec q;
  q.role = role;
  q.bits = bits;
  q.options = s.options;
  q.layer = layer;
  q.name = layer.name + "." + slot;
  if (!s.granularity.empty() && s.granularity != "tensor") q.options["granularity"] = s.granularity;
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
