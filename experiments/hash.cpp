#include "experiments/hash.h"

#include <cmath>
#include <cstdio>

namespace qb::exp {

nlohmann::json normalise_numbers(const nlohmann::json& j) {
  if (j.is_object()) {
    nlohmann::json out = nlohmann::json::object();
    for (const auto& [k, v] : j.items()) out[k] = normalise_numbers(v);
    return out;
  }
  if (j.is_array()) {
    nlohmann::json out = nlohmann::json::array();
    for (const auto& v : j) out.push_back(normalise_numbers(v));
    return out;
  }
  if (j.is_number_float()) {
    const double d = j.get<double>();
    if (std::isfinite(d) && d == std::floor(d) && std::fabs(d) < 9.0e15)
      return nlohmann::json(std::int64_t(d));
    return nlohmann::json(d);
  }
  if (j.is_number_unsigned()) return nlohmann::json(std::int64_t(j.get<std::uint64_t>()));
  return j;
}

std::string canonical_dump(const nlohmann::json& j) { return normalise_numbers(j).dump(); }

std::uint64_t fnv1a64(const std::string& bytes) {
  std::uint64_t h = 0xcbf29ce484222325ull;
  for (unsigned char c : bytes) {
    h ^= c;
    h *= 0x100000001b3ull;
  }
  return h;
}

std::string hex16(std::uint64_t h) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h));
  return buf;
}

std::string content_key(const nlohmann::json& j) { return hex16(fnv1a64(canonical_dump(j))); }

}  // namespace qb::exp
