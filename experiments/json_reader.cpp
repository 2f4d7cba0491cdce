#include "experiments/json_reader.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace qb::exp {

std::string index_path(const std::string& base, std::size_t i) {
  return base + "[" + std::to_string(i) + "]";
}

bool as_count(const nlohmann::json& v, std::uint64_t& out) {
  if (v.is_number_unsigned() || (v.is_number_integer() && v.get<std::int64_t>() >= 0)) {
    out = v.get<std::uint64_t>();
    return true;
  }
  if (v.is_number_float() && v.get<double>() >= 0 &&
      v.get<double>() == std::floor(v.get<double>())) {
    out = std::uint64_t(v.get<double>());
    return true;
  }
  return false;
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
  if (!as_count(j[key], v))
    return problem(join_key_path(path, key), "expected non-negative integer, got " + j[key].dump());
  out = std::size_t(v);
}

void JsonReader::read(const json& j, const std::string& key, const std::string& path, int& out) {
  if (!j.contains(key)) return;
  const json& v = j[key];
  const bool integral = v.is_number_integer() ||
                        (v.is_number_float() && v.get<double>() == std::floor(v.get<double>()));
  if (!integral || v.get<double>() < std::numeric_limits<int>::min() ||
      v.get<double>() > std::numeric_limits<int>::max())
    return problem(join_key_path(path, key), "expected integer, got " + v.dump());
  out = int(v.get<double>());
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

bool JsonReader::read_list(const json& j, const std::string& key, const std::string& path,
                           std::vector<std::uint64_t>& out) {
  if (!j.contains(key)) return false;
  std::vector<std::uint64_t> got;
  for (const auto& [at, x] : items(j, key, path)) {
    std::uint64_t u = 0;
    if (!as_count(*x, u))
      return problem(at, "expected non-negative integer, got " + x->dump()), false;
    got.push_back(u);
  }
  if (got.empty()) return false;
  out = got;
  return true;
}

bool JsonReader::read_list(const json& j, const std::string& key, const std::string& path,
                           std::vector<int>& out) {
  std::vector<std::uint64_t> wide;
  if (!read_list(j, key, path, wide)) return false;
  out.clear();
  for (auto w : wide) out.push_back(int(std::min<std::uint64_t>(w, 1u << 30)));
  return true;
}

}  // namespace qb::exp
