#include "integer/accumulator.h"

#include "engine/check.h"

#include <algorithm>

namespace qb::integer {

const char* acc_model_name(AccModel m) {
  switch (m) {
    case AccModel::int32: return "int32";
    case AccModel::wrap: return "wrap";
    case AccModel::saturate: return "saturate";
    case AccModel::pair_saturate: return "pair-saturate";
    case AccModel::pair_wrap: return "pair-wrap";
  }
  QB_CHECK(false);
}

AccModel parse_acc_model(std::string_view name) {
  for (AccModel m : kAllAccModels)
    if (name == acc_model_name(m)) return m;
  throw error("--acc: unknown accumulator model '", std::string(name),
              "' (valid: int32, wrap, saturate, pair-saturate, pair-wrap)");
}

std::optional<int8::Acc16> as_acc16(AccModel m) {
  switch (m) {
    case AccModel::int32: return std::nullopt;
    case AccModel::wrap: return int8::Acc16::wrap;
    case AccModel::saturate: return int8::Acc16::saturate;
    case AccModel::pair_saturate: return int8::Acc16::pair_saturate;
    case AccModel::pair_wrap: return int8::Acc16::pair_wrap;
  }
  QB_CHECK(false);
}

void OverflowStats::add(const OverflowStats& o) {
  dot_products += o.dot_products;
  wrong += o.wrong;
  max_abs_sum = std::max(max_abs_sum, o.max_abs_sum);
}

}  // namespace qb::integer
