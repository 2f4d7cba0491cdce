#include "integer/accumulator.h"

#include "engine/check.h"

#include <algorithm>

namespace qb::integer {

void OverflowStats::add(const OverflowStats& o) {
  dot_products += o.dot_products;
  wrong += o.wrong;
  max_abs_sum = std::max(max_abs_sum, o.max_abs_sum);
}

}  // namespace qb::integer
