#include "engine/optim.h"

#include "engine/check.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numbers>

namespace qb {

void validate(const OptimizerSpec& o) {
  if (!(o.lr >= 0.0f) || !std::isfinite(o.lr))
    throw key_error("lr", "must be finite and >= 0, got ", o.lr);
  if (!(o.momentum >= 0.0f && o.momentum < 1.0f))
    throw key_error("momentum", "must be in [0, 1), got ", o.momentum);
  if (!(o.weight_decay >= 0.0f)) throw key_error("wd", "must be >= 0, got ", o.weight_decay);
  if (o.nesterov && o.momentum == 0.0f) throw key_error("nesterov", "needs momentum > 0");
  if (!(o.beta1 >= 0 && o.beta1 < 1 && o.beta2 >= 0 && o.beta2 < 1 && o.eps > 0))
    throw error("adam needs 0 <= beta1, beta2 < 1 and eps > 0");
}

void validate(const ScheduleSpec& s) {
  if (!(s.warmup_epochs >= 0.0f)) throw key_error("warmup", "must be >= 0, got ", s.warmup_epochs);
  if (!std::is_sorted(s.milestones.begin(), s.milestones.end()))
    throw key_error("milestones", "must be increasing");
}

float scheduled_lr(const ScheduleSpec& s, float base_lr, double e, double total_epochs) {
  if (s.warmup_epochs > 0.0f && e < s.warmup_epochs) return float(base_lr * e / s.warmup_epochs);
  if (s.type == ScheduleKind::step) {
    double lr = base_lr;
    for (float m : s.milestones)
      if (e >= m) lr *= s.gamma;
    return float(lr);
  }
  if (s.type == ScheduleKind::cosine) {
    // The cosine runs over the epochs after the warm-up.
    const double span = std::max(1e-12, total_epochs - s.warmup_epochs);
    const double t = std::clamp((e - s.warmup_epochs) / span, 0.0, 1.0);
    return float(base_lr * 0.5 * (1.0 + std::cos(std::numbers::pi * t)));
  }
  return base_lr;
}

ParamGroup::ParamGroup(std::string name, std::vector<Param*> params, OptimizerSpec opt,
                       ScheduleSpec sched)
    : name_(std::move(name)),
      params_(std::move(params)),
      opt_(std::move(opt)),
      sched_(std::move(sched)) {
  validate(opt_);
  validate(sched_);
  for (Param* p : params_) {
    m_.push_back(xt::zeros_like(p->value));
    if (opt_.type == OptimizerKind::adam) v_.push_back(xt::zeros_like(p->value));
  }
}

void ParamGroup::step(double e, double total_epochs) {
  lr_ = scheduled_lr(sched_, opt_.lr, e, total_epochs);
  ++steps_;
  const float lr = lr_, wd = opt_.weight_decay, mu = opt_.momentum;
  const bool adam = opt_.type == OptimizerKind::adam;
  const float b1 = opt_.beta1, b2 = opt_.beta2, eps = opt_.eps;
  const float c1 = adam ? float(1.0 - std::pow(double(b1), double(steps_))) : 1.0f;
  const float c2 = adam ? float(1.0 - std::pow(double(b2), double(steps_))) : 1.0f;
  for (std::size_t k = 0; k < params_.size(); ++k) {
    if (params_[k]->frozen) continue;
    float* w = params_[k]->value.data();
    const float* g = params_[k]->grad.data();
    float* m = m_[k].data();
    const std::size_t n = params_[k]->value.size();
    if (adam) {
      float* v = v_[k].data();
#pragma omp simd
      for (std::size_t i = 0; i < n; ++i) {
        const float gi = g[i] + wd * w[i];
        m[i] = b1 * m[i] + (1.0f - b1) * gi;
        v[i] = b2 * v[i] + (1.0f - b2) * gi * gi;
        w[i] -= lr * (m[i] / c1) / (std::sqrt(v[i] / c2) + eps);
      }
    } else if (mu > 0.0f) {
      const bool nesterov = opt_.nesterov;
#pragma omp simd
      for (std::size_t i = 0; i < n; ++i) {
        const float gi = g[i] + wd * w[i];
        m[i] = mu * m[i] + gi;
        w[i] -= lr * (nesterov ? gi + mu * m[i] : m[i]);
      }
    } else {
#pragma omp simd
      for (std::size_t i = 0; i < n; ++i) w[i] -= lr * (g[i] + wd * w[i]);
    }
    const float lo = params_[k]->min_value;
    if (lo > -std::numeric_limits<float>::infinity())
      for (std::size_t i = 0; i < n; ++i) w[i] = std::max(w[i], lo);
  }
}

void ParamGroup::save_state(std::map<std::string, Tensor>& out) const {
  const bool adam = opt_.type == OptimizerKind::adam;
  for (std::size_t k = 0; k < params_.size(); ++k) {
    out[name_ + (adam ? "/m/" : "/momentum/") + params_[k]->name] = m_[k];
    if (adam) out[name_ + "/v/" + params_[k]->name] = v_[k];
  }
  Tensor steps = Tensor::from_shape({1});
  steps(0) = float(steps_);  // exact below 2^24 steps
  out[name_ + "/step"] = steps;
}

void ParamGroup::load_state(const std::map<std::string, Tensor>& in) {
  const bool adam = opt_.type == OptimizerKind::adam;
  auto fetch = [&](const std::string& key, Tensor& dst) {
    auto it = in.find(key);
    if (it == in.end()) throw error("checkpoint has no optimizer state '", key, "'");
    if (it->second.shape() != dst.shape())
      throw error("optimizer state '", key, "' has shape ", to_string(shape_of(it->second)),
                  ", expected ", to_string(shape_of(dst)));
    dst = it->second;
  };
  for (std::size_t k = 0; k < params_.size(); ++k) {
    fetch(name_ + (adam ? "/m/" : "/momentum/") + params_[k]->name, m_[k]);
    if (adam) fetch(name_ + "/v/" + params_[k]->name, v_[k]);
  }
  Tensor steps = Tensor::from_shape({1});
  fetch(name_ + "/step", steps);
  steps_ = std::int64_t(steps(0));
}

void Optimizer::add_group(ParamGroup g) {
  QB_CHECK(find(g.name()) == nullptr);
  groups_.push_back(std::move(g));
}

ParamGroup* Optimizer::find(const std::string& name) {
  for (auto& g : groups_)
    if (g.name() == name) return &g;
  return nullptr;
}

void Optimizer::step(double e, double total_epochs) {
  for (auto& g : groups_) g.step(e, total_epochs);
}

void Optimizer::zero_grad() {
  for (auto& g : groups_)
    for (Param* p : g.params()) p->zero_grad();
}

void Optimizer::save_state(std::map<std::string, Tensor>& out) const {
  for (const auto& g : groups_) g.save_state(out);
}

void Optimizer::load_state(const std::map<std::string, Tensor>& in) {
  for (auto& g : groups_) g.load_state(in);
}

Optimizer make_optimizer(const std::vector<Param*>& params, const OptimizerSpec& weights,
                         const ScheduleSpec& sched, bool exclude_bn_bias,
                         const OptimizerSpec* quantizer, float quantizer_decay) {
  std::vector<Param*> decayed, undecayed, quant;
  for (Param* p : params) {
    switch (p->role) {
      case ParamRole::weight:
        decayed.push_back(p);
        break;
      case ParamRole::bias:
      case ParamRole::bn:
        (exclude_bn_bias ? undecayed : decayed).push_back(p);
        break;
      case ParamRole::quantizer:
        quant.push_back(p);
        break;
    }
  }
  Optimizer opt;
  if (!decayed.empty()) opt.add_group(ParamGroup("weights", decayed, weights, sched));
  if (!undecayed.empty()) {
    OptimizerSpec s = weights;
    s.weight_decay = 0.0f;
    opt.add_group(ParamGroup("no_decay", undecayed, s, sched));
  }
  if (!quant.empty()) {
    OptimizerSpec s = quantizer ? *quantizer : weights;
    s.weight_decay = quantizer_decay;
    opt.add_group(ParamGroup("quantizer", quant, s, sched));
  }
  return opt;
}

}  // namespace qb
