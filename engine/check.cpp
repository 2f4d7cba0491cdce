#include "engine/check.h"

namespace qb {

std::string join_key_path(const std::string& parent, const std::string& child) {
  if (parent.empty()) return child;
  if (child.empty()) return parent;
  return child.front() == '[' ? parent + child : parent + "." + child;
}

Error Error::within(const std::string& parent) const {
  return Error(join_key_path(parent, key_path_), message_);
}

namespace {
std::string lines_of(const std::vector<Error>& problems) {
  std::string s;
  for (const auto& p : problems) {
    if (!s.empty()) s += '\n';
    s += p.what();
  }
  return s;
}
}  // namespace

Errors::Errors(std::vector<Error> problems)
    : Error(lines_of(problems)), problems_(std::move(problems)) {}

namespace detail {

void check_failed(const char* file, int line, const std::string& what) {
  throw InternalError(concat(file, ":", line, ": check failed: ", what));
}

}  // namespace detail
}  // namespace qb
