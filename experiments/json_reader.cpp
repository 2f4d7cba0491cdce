#include "experiments/json_reader.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdio>
#include <limits>

namespace qb::exp {

std::string index_path(const std::string& base, std::size_t i) {
  return base + "[" + std::to_string(i) + "]";
}

namespace {

// How a number was written, near enough: an integral float as its digits when they are no
// longer than its shortest form (2^70 as 1180591620717411303424, 1e30 as 1e+30).
std::string number_text(const nlohmann::json& v) {
  if (!v.is_number_float()) return v.dump();
  char digits[400];
  std::snprintf(digits, sizeof digits, "%.0f", v.get<double>());
  const std::string shortest = v.dump();
  return std::string(digits).size() <= shortest.size() ? digits : shortest;
}

// "2^64-1" for a power of two less one, else the digits.
std::string limit_text(std::uint64_t max) {
  const int bits = std::bit_width(max);
  if (bits >= 16 && max == (bits == 64 ? ~std::uint64_t(0) : (std::uint64_t(1) << bits) - 1))
    return "2^" + std::to_string(bits) + "-1";
  return std::to_string(max);
}

std::string out_of_range(const nlohmann::json& v, const std::string& range) {
  return number_text(v) + " is out of range (" + range + ")";
}

bool integral(const nlohmann::json& v) {
  return v.is_number_integer() || (v.is_number_float() && std::isfinite(v.get<double>()) &&
                                   v.get<double>() == std::floor(v.get<double>()));
}

}  // namespace

std::string as_count(const nlohmann::json& v, std::uint64_t max, std::uint64_t& out) {
  const bool negative = v.is_number_integer() ? !v.is_number_unsigned() && v.get<std::int64_t>() < 0
                                              : v.is_number_float() && v.get<double>() < 0;
  if (!integral(v) || negative) return "expected non-negative integer, got " + v.dump();
  const std::string range = "0 .. " + limit_text(max);
  // 2^64 is the first double beyond std::uint64_t; converting it or more is undefined.
  if (v.is_number_float() && v.get<double>() >= 0x1p64) return out_of_range(v, range);
  const std::uint64_t u =
      v.is_number_float() ? std::uint64_t(v.get<double>()) : v.get<std::uint64_t>();
  if (u > max) return out_of_range(v, range);
  out = u;
  return "";
}

void JsonReader::throw_if_any() const {
  if (!problems_.empty()) throw Errors(problems_);
}

bool JsonReader::object(const json& j, const std::string& path,
                        const std::vector<std::string>& valid) {
  if (!j.is_object()) {
    problem(path.empty() ? "(top level)" : path,
            std::string("expected object, got ") + j.type_name());
    return false;
  }
  for (const auto& [k, v] : j.items()) {
    if (std::find(valid.begin(), valid.end(), k) != valid.end()) continue;
    const std::string n = nearest_name(k, valid);
    problem(join_key_path(path, k), n.empty() ? "unknown key (valid: " + join_names(valid) + ")"
                                              : "unknown key (did you mean '" + n + "'?)");
  }
  return true;
}

bool JsonReader::read_string(const json& j, const std::string& key, const std::string& path,
                             std::string& out) {
  if (!j.contains(key)) return false;
  if (!j[key].is_string()) {
    problem(join_key_path(path, key), std::string("expected string, got ") + j[key].type_name());
    return false;
  }
  out = j[key].get<std::string>();
  return true;
}

void JsonReader::read(const json& j, const std::string& key, const std::string& path,
                      std::string& out) {
  read_string(j, key, path, out);
}

void JsonReader::read(const json& j, const std::string& key, const std::string& path, double& out) {
  if (!j.contains(key)) return;
  if (!j[key].is_number())
    return problem(join_key_path(path, key),
                   std::string("expected number, got ") + j[key].type_name());
  out = j[key].get<double>();
}

void JsonReader::read(const json& j, const std::string& key, const std::string& path,
                      std::size_t& out) {
  if (!j.contains(key)) return;
  std::uint64_t v = 0;
  const std::string why = as_count(j[key], std::numeric_limits<std::size_t>::max(), v);
  if (!why.empty()) return problem(join_key_path(path, key), why);
  out = std::size_t(v);
}

void JsonReader::read(const json& j, const std::string& key, const std::string& path, int& out) {
  if (!j.contains(key)) return;
  const json& v = j[key];
  if (!integral(v)) return problem(join_key_path(path, key), "expected integer, got " + v.dump());
  // As a double every int is exact, and anything beyond int stays beyond it.
  const double d = v.get<double>();
  if (d < std::numeric_limits<int>::min() || d > std::numeric_limits<int>::max())
    return problem(join_key_path(path, key), out_of_range(v, "-2^31 .. 2^31-1"));
  out = int(d);
}

std::vector<std::pair<std::string, const nlohmann::json*>> JsonReader::items(
    const json& j, const std::string& key, const std::string& path) {
  std::vector<std::pair<std::string, const json*>> out;
  const std::string at = join_key_path(path, key);
  const json& v = j[key];
  if (!v.is_array()) {
    out.emplace_back(at, &v);
    return out;
  }
  if (v.empty()) problem(at, "empty list (the product would be empty)");
  for (std::size_t i = 0; i < v.size(); ++i) out.emplace_back(index_path(at, i), &v[i]);
  return out;
}

bool JsonReader::read_list(const json& j, const std::string& key, const std::string& path,
                           std::vector<std::string>& out) {
  if (!j.contains(key)) return false;
  std::vector<std::string> got;
  const auto xs = items(j, key, path);
  for (const auto& [at, x] : xs) {
    if (!x->is_string())
      return problem(at, std::string("expected string, got ") + x->type_name()), false;
    got.push_back(x->get<std::string>());
  }
  if (got.empty()) return false;
  out = got;
  return true;
}

bool JsonReader::read_counts(const json& j, const std::string& key, const std::string& path,
                             std::uint64_t max, std::vector<std::uint64_t>& out) {
  if (!j.contains(key)) return false;
  std::vector<std::uint64_t> got;
  for (const auto& [at, x] : items(j, key, path)) {
    std::uint64_t u = 0;
    const std::string why = as_count(*x, max, u);
    if (!why.empty()) return problem(at, why), false;
    got.push_back(u);
  }
  if (got.empty()) return false;
  out = got;
  return true;
}

bool JsonReader::read_list(const json& j, const std::string& key, const std::string& path,
                           std::vector<std::uint64_t>& out) {
  return read_counts(j, key, path, std::numeric_limits<std::uint64_t>::max(), out);
}

bool JsonReader::read_list(const json& j, const std::string& key, const std::string& path,
                           std::vector<int>& out) {
  std::vector<std::uint64_t> wide;
  if (!read_counts(j, key, path, std::uint64_t(std::numeric_limits<int>::max()), wide))
    return false;
  out.assign(wide.begin(), wide.end());
  return true;
}

}  // namespace qb::exp
