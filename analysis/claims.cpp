#include "analysis/claims.h"

#include "engine/check.h"
#include "engine/io/json_parse.h"

#include <nlohmann/json.hpp>

#include <filesystem>
#include <set>

namespace qb::analysis {
using json = nlohmann::json;

namespace {

std::string text(const json& j, const std::string& key, const std::string& where) {
  if (!j.contains(key)) return "";
  if (!j.at(key).is_string()) throw error(where, ".", key, ": expected a string");
  return j.at(key).get<std::string>();
}

void check_keys(const json& j, const std::string& where, const std::set<std::string>& known) {
  if (!j.is_object()) throw error(where, ": expected an object");
  for (const auto& [k, v] : j.items())
    if (!known.count(k)) throw error(where, ".", k, ": unknown key");
}

}  // namespace

Grid claims_table(const std::string& dir, const std::vector<std::string>& methods,
                  const std::string& ours) {
  Grid g;
  g.name = "claims";
  g.title = "Published claims (their networks and datasets, NOT ours: " + ours + ")";
  g.note =
      "from analysis/claims/*.json; compare directions and gaps, not absolute numbers; "
      "confidence 'abstract' = quoted from the paper's abstract";
  g.header = {"method", "claim", "their network", "their dataset",
              "bits",   "value", "source",        "confidence"};
  std::string without;
  for (const auto& m : methods) {
    const std::string path = (std::filesystem::path(dir) / (m + ".json")).string();
    if (!std::filesystem::exists(path)) {
      without += (without.empty() ? "" : ", ") + m;
      continue;
    }
    const json j = read_user_json(path, "claims file");
    check_keys(j, path, {"schema", "method", "paper", "url", "note", "claims", "tests"});
    if (j.value("schema", 0) != 1) throw error(path, ": schema: expected 1");
    if (!j.contains("claims") || !j.at("claims").is_array())
      throw error(path, ": claims: expected an array");
    for (std::size_t i = 0; i < j.at("claims").size(); ++i) {
      const json& c = j.at("claims")[i];
      const std::string where = path + ": claims[" + std::to_string(i) + "]";
      check_keys(c, where,
                 {"claim", "quote", "network", "dataset", "bits", "value", "source", "confidence"});
      if (text(c, "source", where).empty() || text(c, "confidence", where).empty())
        throw error(where, ": every claim needs a source and a confidence");
      g.rows.push_back({m, text(c, "claim", where), text(c, "network", where),
                        text(c, "dataset", where), text(c, "bits", where), text(c, "value", where),
                        text(c, "source", where), text(c, "confidence", where)});
    }
  }
  if (!without.empty()) g.note += "; no claims file (baselines, or not recorded) for: " + without;
  return g;
}

}  // namespace qb::analysis
