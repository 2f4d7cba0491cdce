#include "methods/probe.h"

#include "engine/check.h"
#include "methods/registry.h"

#include <cmath>
#include <limits>

namespace qb {
namespace {

using nlohmann::json;

const json& require(const json& req, const char* key) {
  if (!req.contains(key)) throw error(key, ": missing");
  return req.at(key);
}

Tensor parse_tensor(const json& j, const std::string& key) {
  if (!j.is_object() || !j.contains("shape") || !j.contains("data"))
    throw error(key, ": expected {\"shape\": [...], \"data\": [...]}");
  const json& shape = j.at("shape");
  const json& data = j.at("data");
  if (!shape.is_array()) throw error(key, ".shape: expected an array");
  if (!data.is_array()) throw error(key, ".data: expected an array");
  // The element count is checked against the values given, so a shape can never make the
  // probe allocate more than the request holds: products are checked for overflow (2^32 ×
  // 2^32 would wrap to 0), and an empty tensor's other dimensions stay small.
  Shape s;
  std::size_t count = 1;
  bool overflow = false;
  for (const auto& d : shape) {
    if (!d.is_number_integer() || d.get<long long>() < 0)
      throw error(key, ".shape: expected non-negative integers");
    s.push_back(d.get<std::size_t>());
    overflow |= s.back() != 0 && count > std::numeric_limits<std::size_t>::max() / s.back();
    count *= s.back();
  }
  constexpr std::size_t kMaxEmptyDim = 1 << 16;
  for (std::size_t dim : s)
    if (overflow || (count == 0 && dim > kMaxEmptyDim))
      throw error(key, ".shape: ", to_string(s), " is too large");
  if (numel(s) != data.size())
    throw error(key, ".data: ", data.size(), " values for shape ", to_string(s), " (", numel(s),
                " expected)");
  Tensor t = Tensor::from_shape(s);
  for (std::size_t i = 0; i < data.size(); ++i) {
    if (!data[i].is_number()) throw error(key, ".data[", i, "]: not a number");
    const float v = data[i].get<float>();
    if (!std::isfinite(v)) throw error(key, ".data[", i, "]: non-finite value");
    t.data()[i] = v;
  }
  return t;
}

json tensor_json(const Tensor& t) {
  json shape = json::array();
  for (auto d : t.shape()) shape.push_back(d);
  json data = json::array();
  for (std::size_t i = 0; i < t.size(); ++i) data.push_back(double(t.data()[i]));
  return {{"shape", shape}, {"data", data}};
}

std::size_t get_size(const json& layer, const char* key, std::size_t fallback) {
  if (!layer.contains(key)) return fallback;
  const json& v = layer.at(key);
  if (!v.is_number_integer() || v.get<long long>() < 0)
    throw error("layer.", key, ": expected a non-negative integer");
  return v.get<std::size_t>();
}

LayerInfo parse_layer(const json& l) {
  if (!l.is_object()) throw key_error("layer", "expected an object");
  LayerInfo info;
  info.name = "probe";
  // Read as what it must be: a kind that is not a string is refused here, naming the key, not
  // by the JSON library's own exception (found by fuzz_probe: "layer": {"kind": 2}).
  if (l.contains("kind") && !l.at("kind").is_string())
    throw key_error("layer.kind", "expected conv or linear, got ", l.at("kind").dump());
  // Without "kind" the layer's kind stays unknown (LayerInfo's default, neither conv nor
  // linear): PROBE.md needs it only where a method would initialise from it (PACT's α), and
  // that method refuses then, naming layer.kind.
  if (l.contains("kind")) {
    const std::string kind = l.at("kind").get<std::string>();
    if (kind == "conv")
      info.kind = LayerKind::conv;
    else if (kind == "linear")
      info.kind = LayerKind::linear;
    else
      throw key_error("layer.kind", "expected conv or linear, got '", kind, "'");
  }
  info.in_channels = get_size(l, "in_channels", 0);
  info.out_channels = get_size(l, "out_channels", 0);
  info.kernel_h = info.kernel_w = 1;
  if (l.contains("kernel")) {
    const json& k = l.at("kernel");
    if (!k.is_array() || k.size() != 2 || !k[0].is_number_unsigned() || !k[1].is_number_unsigned())
      throw key_error("layer.kernel", "expected [kh, kw]");
    info.kernel_h = k[0].get<std::size_t>();
    info.kernel_w = k[1].get<std::size_t>();
  }
  info.stride = get_size(l, "stride", 1);
  info.padding = get_size(l, "padding", 0);
  info.groups = get_size(l, "groups", 1);
  info.fan_in = get_size(l, "fan_in", info.in_channels * info.kernel_h * info.kernel_w);
  info.fan_out = get_size(l, "fan_out", info.out_channels * info.kernel_h * info.kernel_w);
  if (info.kind == LayerKind::conv)
    info.weight_shape = {info.out_channels,
                         info.in_channels / std::max<std::size_t>(info.groups, 1), info.kernel_h,
                         info.kernel_w};
  else if (info.kind == LayerKind::linear)
    info.weight_shape = {info.out_channels, info.in_channels};
  return info;
}

}  // namespace

json run_probe(const json& req) {
  if (!req.is_object()) throw key_error("request", "expected a JSON object");
  const json& m = require(req, "method");
  if (!m.is_string()) throw key_error("method", "expected a string");
  const auto method = make_method(m.get<std::string>());

  const json& r = require(req, "role");
  if (!r.is_string()) throw key_error("role", "expected a string");
  QuantizerSpec spec;
  spec.role = parse_role(r.get<std::string>());

  const json& b = require(req, "bits");
  if (!b.is_number() || std::floor(b.get<double>()) != b.get<double>())
    throw key_error("bits", "expected an integer");
  const double bits = b.get<double>();
  if (bits < 1 || bits > 32) throw key_error("bits", "expected 1..32, got ", bits);
  spec.bits = int(bits);

  if (req.contains("signed")) {
    if (!req.at("signed").is_boolean()) throw key_error("signed", "expected true or false");
    spec.is_signed = req.at("signed").get<bool>();
  }
  if (req.contains("options")) spec.options = req.at("options");
  if (req.contains("layer")) spec.layer = parse_layer(req.at("layer"));
  bool training = true;
  if (req.contains("training")) {
    if (!req.at("training").is_boolean()) throw key_error("training", "expected true or false");
    training = req.at("training").get<bool>();
  }
  spec.training = training;
  const Tensor x = parse_tensor(require(req, "x"), "x");
  std::optional<Tensor> dy;
  if (req.contains("dy")) {
    dy = parse_tensor(req.at("dy"), "dy");
    if (dy->shape() != x.shape())
      throw key_error("dy", "shape ", to_string(shape_of(*dy)), " differs from x's ",
                      to_string(shape_of(x)));
  }

  method->validate(spec);
  auto q = method->make_quantizer(spec);

  // Parameters absent from the request are initialised as the method does, from x.
  q->calibrate(x);
  if (req.contains("params")) {
    const json& ps = req.at("params");
    if (!ps.is_object()) throw key_error("params", "expected an object");
    for (const auto& [name, value] : ps.items()) {
      Param* p = q->param(name);
      if (!p) {
        std::string valid;
        for (const auto& n : q->param_names()) valid += (valid.empty() ? "" : ", ") + n;
        throw error("params.", name, ": ", m.get<std::string>(), " has no such parameter here",
                    " (it has: ", valid.empty() ? "none" : valid, ")");
      }
      Tensor v;
      if (value.is_number()) {
        v = Tensor::from_shape({});
        v() = value.get<float>();
        if (!std::isfinite(v())) throw error("params.", name, ": non-finite value");
      } else {
        v = parse_tensor(value, "params." + name);
      }
      if (v.size() != p->value.size())
        throw error("params.", name, ": shape ", to_string(shape_of(v)), ", expected ",
                    to_string(shape_of(p->value)));
      std::copy(v.begin(), v.end(), p->value.begin());
    }
  }

  const Tensor y = q->forward(x, training);
  // A weight operand (OAQ's overflow mode): the method quantizes it and counts the products.
  json operand = json::object();
  if (req.contains("w"))
    operand = method->probe_weight_operand(*q, x, parse_tensor(req.at("w"), "w"));
  json out = {{"method", m}, {"role", r}, {"bits", spec.bits}, {"y", tensor_json(y)}};
  std::vector<Param*> params;
  q->collect_params(params);
  json pj = json::object();
  for (std::size_t i = 0; i < params.size(); ++i)
    pj[q->param_names()[i]] = tensor_json(params[i]->value);
  out["params"] = pj;
  if (dy && spec.role != QuantRole::gradient) {
    for (Param* p : params) p->zero_grad();
    out["dx"] = tensor_json(q->backward(*dy));
    json dp = json::object();
    for (std::size_t i = 0; i < params.size(); ++i)
      dp[q->param_names()[i]] = tensor_json(params[i]->grad);
    out["dparams"] = dp;
  }
  out["grid"] = q->grid().to_json();
  out["stats"] = q->stats();
  for (const char* part : {"grid", "stats"})
    if (operand.contains(part)) out[part].update(operand.at(part));
  return out;
}

}  // namespace qb
