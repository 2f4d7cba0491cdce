#include "methods/quantizer.h"

#include "engine/check.h"

namespace qb {

const char* to_string(QuantRole r) { return kRoles.row_of(r).name.data(); }

QuantRole parse_role(const std::string& s) { return kRoles.parse(s, "role").value; }

nlohmann::json Grid::to_json() const {
  nlohmann::json j = {{"bits", bits}, {"signed", is_signed}, {"granularity", granularity}};
  if (!scale.empty()) j["scale"] = scale;
  if (!pow2_exponent.empty()) j["pow2_exponent"] = pow2_exponent;
  if (!zero_point.empty()) j["zero_point"] = zero_point;
  return j;
}

void Quantizer::collect_params(std::vector<Param*>& out) {
  for (auto& p : params_) out.push_back(p.get());
}

Param* Quantizer::param(const std::string& local_name) {
  for (std::size_t i = 0; i < local_names_.size(); ++i)
    if (local_names_[i] == local_name) return params_[i].get();
  return nullptr;
}

Param& Quantizer::add_param(const std::string& local_name, const Shape& shape, float init) {
  QB_CHECK(param(local_name) == nullptr);
  auto p = std::make_unique<Param>();
  p->name = spec_.name.empty() ? local_name : spec_.name + "." + local_name;
  p->role = ParamRole::quantizer;
  p->value = Tensor::from_shape(shape);
  p->value.fill(init);
  p->init_grad();
  local_names_.push_back(local_name);
  params_.push_back(std::move(p));
  return *params_.back();
}

}  // namespace qb
