// Optimizers, learning-rate schedules and named parameter groups.
//
// Every trainable tensor belongs to exactly one ParamGroup; each group has its own optimizer,
// base learning rate, weight decay and schedule. The default grouping is by ParamRole:
//   "weights"    conv/linear weights (and biases/BN when exclude_bn_bias is false), decayed
//   "no_decay"   biases and BN γ/β when exclude_bn_bias is true, same optimizer, no decay
//   "quantizer"  parameters that quantization methods learn; a method may give them their own
//                optimizer and rate (ALT trains thresholds with Adam) and an L2 coefficient
//                (PACT regularises α); not decayed otherwise
//
// SGD:  b ← μ·b + (g + λw);  w ← w − lr·b   (Nesterov: w ← w − lr·(g + λw + μ·b))
// Adam: m ← β1·m + (1−β1)·g;  v ← β2·v + (1−β2)·g²;  w ← w − lr·m̂/(√v̂ + ε),  g = ∇ + λw
//       (the PyTorch conventions, so recipes carry over.)
// A frozen parameter (Param::frozen) is skipped: its value and moments stay as they are.
//
// Schedules are functions of the fractional epoch e (updated every step):
//   constant; step (×gamma at each milestone epoch); cosine (lr·½(1 + cos(π·e/E)));
//   any of them preceded by a linear warm-up from 0 over `warmup_epochs`.
#pragma once

#include "engine/names.h"
#include "engine/param.h"

#include <map>
#include <string>
#include <vector>

namespace qb {

enum class OptimizerKind { sgd, adam };
inline constexpr Named<OptimizerKind> kOptimizerRows[] = {{"sgd", OptimizerKind::sgd},
                                                          {"adam", OptimizerKind::adam}};
inline constexpr NameTable<Named<OptimizerKind>> kOptimizers{"optimizer", kOptimizerRows};

enum class ScheduleKind { constant, step, cosine };
inline constexpr Named<ScheduleKind> kScheduleRows[] = {{"constant", ScheduleKind::constant},
                                                        {"step", ScheduleKind::step},
                                                        {"cosine", ScheduleKind::cosine}};
inline constexpr NameTable<Named<ScheduleKind>> kSchedules{"schedule", kScheduleRows};

struct OptimizerSpec {
  OptimizerKind type = OptimizerKind::sgd;
  float lr = 0.1f;
  float momentum = 0.9f;
  bool nesterov = false;
  float weight_decay = 0.0f;
  float beta1 = 0.9f, beta2 = 0.999f, eps = 1e-8f;
};

struct ScheduleSpec {
  ScheduleKind type = ScheduleKind::cosine;
  float warmup_epochs = 0.0f;
  std::vector<float> milestones;  // step: epochs at which the rate is multiplied by gamma
  float gamma = 0.1f;
};

void validate(const OptimizerSpec& o);  // throws qb::Error naming the bad field
void validate(const ScheduleSpec& s);

// Learning rate at fractional epoch `e` of a run of `total_epochs`.
float scheduled_lr(const ScheduleSpec& s, float base_lr, double e, double total_epochs);

class ParamGroup {
 public:
  ParamGroup(std::string name, std::vector<Param*> params, OptimizerSpec opt, ScheduleSpec sched);

  // One update with the rate the schedule gives at fractional epoch e, then each parameter
  // projected onto its domain (Param::min_value).
  void step(double e, double total_epochs);

  const std::string& name() const { return name_; }
  const std::vector<Param*>& params() const { return params_; }
  const OptimizerSpec& spec() const { return opt_; }
  float lr() const { return lr_; }  // the rate of the last step

  // Optimizer state keyed "<group>/<slot>/<param name>" and "<group>/step".
  void save_state(std::map<std::string, Tensor>& out) const;
  void load_state(const std::map<std::string, Tensor>& in);  // throws qb::Error on mismatch

 private:
  std::string name_;
  std::vector<Param*> params_;
  OptimizerSpec opt_;
  ScheduleSpec sched_;
  std::vector<Tensor> m_, v_;  // SGD: momentum in m_; Adam: first and second moments
  std::int64_t steps_ = 0;
  float lr_ = 0.0f;
};

class Optimizer {
 public:
  void add_group(ParamGroup g);
  void step(double e, double total_epochs);
  void zero_grad();
  std::vector<ParamGroup>& groups() { return groups_; }
  ParamGroup* find(const std::string& name);

  void save_state(std::map<std::string, Tensor>& out) const;
  void load_state(const std::map<std::string, Tensor>& in);

 private:
  std::vector<ParamGroup> groups_;
};

// The default grouping described above. `quantizer` (default: the weights' optimizer) and
// `quantizer_decay` (the group's L2 coefficient) apply to ParamRole::quantizer params.
Optimizer make_optimizer(const std::vector<Param*>& params, const OptimizerSpec& weights,
                         const ScheduleSpec& sched, bool exclude_bn_bias,
                         const OptimizerSpec* quantizer = nullptr, float quantizer_decay = 0.0f);

}  // namespace qb
