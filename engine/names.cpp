#include "engine/names.h"

#include <algorithm>

namespace qb {

std::size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> prev(b.size() + 1), cur(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) prev[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j)
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] != b[j - 1])});
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

std::string nearest_name(std::string_view name, const std::vector<std::string>& valid) {
  std::string best;
  std::size_t best_d = std::string::npos;
  for (const auto& v : valid) {
    const std::size_t d = edit_distance(name, v);
    if (d < best_d) best_d = d, best = v;
  }
  return best_d <= std::max<std::size_t>(2, name.size() / 3) ? best : "";
}

std::string join_names(const std::vector<std::string>& names) {
  std::string s;
  for (const auto& n : names) s += (s.empty() ? "" : ", ") + n;
  return s;
}

Error unknown_name(std::string_view what, std::string_view name,
                   const std::vector<std::string>& valid, std::string key_path) {
  const std::string near = nearest_name(name, valid);
  return key_error(std::move(key_path), "unknown ", what, " '", name,
                   "' (valid: ", join_names(valid),
                   near.empty() ? "" : "; did you mean '" + near + "'?", ")");
}

}  // namespace qb
