#include "engine/check.h"

namespace qb::detail {

void check_failed(const char* file, int line, const std::string& what) {
  throw InternalError(concat(file, ":", line, ": check failed: ", what));
}

}  // namespace qb::detail
