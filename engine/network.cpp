#include "engine/network.h"

#include "engine/check.h"
#include "engine/layers/folded_conv_bn.h"
#include "engine/rng.h"

#include <cmath>
#include <set>

namespace qb {

Network::Network(std::string name, Shape input_shape, std::size_t num_classes,
                 std::unique_ptr<Sequential> body)
    : name_(std::move(name)),
      input_shape_(std::move(input_shape)),
      num_classes_(num_classes),
      body_(std::move(body)) {
  Shape in = {1};
  in.insert(in.end(), input_shape_.begin(), input_shape_.end());
  const Shape out = body_->output_shape(in);  // throws on an incompatible input size
  QB_CHECK(out == (Shape{1, num_classes_}));
  auto hookable = hookable_layers();
  QB_CHECK(!hookable.empty());
  hookable.front()->mutable_info().first = true;
  hookable.back()->mutable_info().last = true;
  std::set<std::string> names;
  for (auto* p : params()) QB_CHECK(names.insert(p->name).second);
  for (auto* b : buffers()) QB_CHECK(names.insert(b->name).second);
}

std::vector<Param*> Network::params() {
  std::vector<Param*> out;
  body_->collect_params(out);
  return out;
}

std::vector<Buffer*> Network::buffers() {
  std::vector<Buffer*> out;
  body_->collect_buffers(out);
  return out;
}

std::vector<Layer*> Network::layers() {
  std::vector<Layer*> out;
  body_->visit([&](Layer& l) { out.push_back(&l); });
  return out;
}

std::vector<Layer*> Network::hookable_layers() {
  std::vector<Layer*> out;
  body_->visit([&](Layer& l) {
    if (l.has_hooks()) out.push_back(&l);
  });
  return out;
}

std::size_t Network::num_weights() {
  std::size_t n = 0;
  for (auto* p : params())
    if (p->role != ParamRole::quantizer) n += p->value.size();
  return n;
}

void Network::zero_grad() {
  for (auto* p : params()) p->zero_grad();
}

namespace {
constexpr std::pair<HookSlot, const char*> kSlots[] = {
    {HookSlot::weight, "weight"}, {HookSlot::input, "input"}, {HookSlot::grad, "grad"}};
}

nlohmann::json Network::hook_states() {
  nlohmann::json out = nlohmann::json::object();
  for (Layer* l : hookable_layers())
    for (auto [slot, slot_name] : kSlots)
      if (TensorHook* h = l->hook(slot)) out[l->name() + "/" + slot_name] = h->state();
  return out;
}

void Network::load_hook_states(const nlohmann::json& states) {
  for (Layer* l : hookable_layers())
    for (auto [slot, slot_name] : kSlots)
      if (TensorHook* h = l->hook(slot)) {
        const std::string key = l->name() + "/" + slot_name;
        if (!states.contains(key)) throw error("checkpoint has no state for hook '", key, "'");
        h->load(states.at(key));
      }
}

void Network::init_weights(std::uint64_t seed) {
  Rng rng(derive_seed(seed, {0x1417}));
  for (Layer* l : hookable_layers()) {
    const auto& info = l->info();
    const double stddev = std::sqrt(2.0 / double(info.fan_in));
    std::vector<Param*> ps;
    l->collect_params(ps);
    for (Param* p : ps) {
      if (p->role == ParamRole::weight)
        for (auto& v : p->value) v = float(stddev * rng.normal());
      else if (p->role == ParamRole::bias)
        p->value.fill(0.0f);
    }
  }
  for (Layer* l : layers()) {
    if (l->info().kind != LayerKind::batchnorm) continue;
    std::vector<Param*> ps;
    l->collect_params(ps);
    ps[0]->value.fill(1.0f);  // gamma
    ps[1]->value.fill(0.0f);  // beta
  }
}

std::size_t Network::fold_batchnorm() {
  std::vector<Sequential*> chains;
  body_->visit([&](Layer& l) {
    if (auto* s = dynamic_cast<Sequential*>(&l)) chains.push_back(s);
  });
  std::size_t folded = 0;
  for (Sequential* s : chains) {
    for (std::size_t i = 0; i + 1 < s->size(); ++i) {
      if (!dynamic_cast<Conv2d*>(&s->at(i)) || !dynamic_cast<BatchNorm2d*>(&s->at(i + 1))) continue;
      std::unique_ptr<BatchNorm2d> bn(static_cast<BatchNorm2d*>(s->release(i + 1).release()));
      std::unique_ptr<Conv2d> conv(static_cast<Conv2d*>(s->release(i).release()));
      s->insert(i, std::make_unique<FoldedConvBn>(std::move(conv), std::move(bn)));
      ++folded;
    }
  }
  return folded;
}

void Network::set_bn_frozen(bool frozen) {
  body_->visit([&](Layer& l) {
    if (auto* f = dynamic_cast<FoldedConvBn*>(&l)) f->set_frozen(frozen);
  });
}

}  // namespace qb
