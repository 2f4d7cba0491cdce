#include "methods/qat.h"

#include "engine/check.h"
#include "methods/registry.h"

namespace qb {

nlohmann::json to_json(const QatConfig& c) {
  const QuantSettings& s = c.settings;
  return {{"method", c.method},
          {"wbits", s.wbits},
          {"abits", s.abits},
          {"gbits", s.gbits},
          {"granularity", s.granularity},
          {"first_last", kFirstLast.row_of(s.first_last).name},
          {"options", s.options}};
}

QatConfig qat_config_from_json(const nlohmann::json& j) {
  QatConfig c;
  try {
    c.method = j.at("method").get<std::string>();
    c.settings.wbits = j.at("wbits").get<int>();
    c.settings.abits = j.at("abits").get<int>();
    c.settings.gbits = j.at("gbits").get<int>();
    c.settings.granularity = j.at("granularity").get<std::string>();
    c.settings.first_last =
        kFirstLast.parse(j.at("first_last").get<std::string>(), "first_last").value;
    c.settings.options = j.at("options");
  } catch (const nlohmann::json::exception& e) {
    throw key_error("quantization", "malformed (", e.what(), ")");
  }
  return c;
}

TrainExtensions make_qat(const QatConfig& c, InputQuantizerWrap wrap_input) {
  std::shared_ptr<Method> method = make_method(c.method);
  for (int bits : {c.settings.wbits, c.settings.abits, c.settings.gbits})
    if (bits < 1 || bits > 32) throw key_error("bits", "expected 1..32, got ", bits);
  kGranularities.parse(c.settings.granularity, "granularity");
  if (c.settings.options.contains("granularity"))
    throw key_error("options.granularity",
                    "a cell's granularity is its own setting (the granularity key), not an option");
  method->validate_options(c.settings.options);
  method->configure(c.settings);
  TrainExtensions ext;
  // The network the quantizers were attached to, for the per-epoch hook (the trainer owns it
  // and outlives every callback).
  auto attached = std::make_shared<Network*>(nullptr);
  ext.attach = [method, settings = c.settings, attached, wrap_input](Network& net) {
    *attached = &net;
    if (method->fold_bn()) net.fold_batchnorm();
    for (Layer* l : net.hookable_layers()) {
      const LayerQuantizers q = method->make_layer(l->info(), settings);
      if (q.weight) l->set_hook(HookSlot::weight, q.weight);
      if (q.input) l->set_hook(HookSlot::input, wrap_input ? wrap_input(q.input) : q.input);
      if (q.grad) l->set_hook(HookSlot::grad, q.grad);
    }
  };
  ext.quantizer_optimizer = method->quantizer_optimizer();
  ext.quantizer_weight_decay = method->quantizer_weight_decay();
  ext.calibrate = true;
  ext.on_train_begin = [method](std::size_t steps) { method->on_train_begin(steps); };
  ext.on_epoch_begin = [method, attached](std::size_t epoch) {
    QB_CHECK(*attached != nullptr);
    method->on_epoch_begin(epoch, **attached);
  };
  ext.report = quantizer_report;
  ext.on_step = [method](std::size_t step) { method->on_step(step); };
  ext.on_epoch_end = [method](const EpochRecord& r) { method->on_epoch_end(r.epoch); };
  return ext;
}

nlohmann::json quantizer_report(Network& net) {
  nlohmann::json out = nlohmann::json::array();
  constexpr std::pair<HookSlot, const char*> slots[] = {
      {HookSlot::weight, "weight"}, {HookSlot::input, "input"}, {HookSlot::grad, "grad"}};
  for (Layer* l : net.hookable_layers()) {
    nlohmann::json layer = {{"layer", l->name()}, {"kind", to_string(l->info().kind)}};
    for (auto [slot, name] : slots) {
      auto* q = dynamic_cast<Quantizer*>(l->hook(slot));
      if (!q) continue;
      nlohmann::json params = nlohmann::json::object();
      std::vector<Param*> ps;
      q->collect_params(ps);
      for (std::size_t i = 0; i < ps.size(); ++i)
        params[q->param_names()[i]] = std::vector<float>(ps[i]->value.begin(), ps[i]->value.end());
      layer[name] = {{"grid", q->grid().to_json()}, {"params", params}, {"stats", q->stats()}};
    }
    out.push_back(layer);
  }
  return out;
}

}  // namespace qb
