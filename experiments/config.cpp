#include "experiments/config.h"

#include "engine/data/dataset.h"
#include "engine/io/json_parse.h"
#include "engine/nets.h"
#include "experiments/expand.h"
#include "experiments/hash.h"
#include "experiments/json_reader.h"
#include "experiments/method_check.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <set>

namespace qb::exp {
namespace {

using json = nlohmann::json;

const std::vector<std::string> kTopKeys = {
    "schema",      "name",    "dataset", "networks",  "seeds",   "fp32",
    "finetune",    "methods", "wbits",   "abits",     "gbits",   "first_last",
    "granularity", "exclude", "include", "max_cells", "integer", "width"};
const std::vector<std::string> kRecipeKeys = {"epochs",   "batch", "optimizer", "lr",
                                              "momentum", "wd",    "schedule",  "warmup"};
const std::vector<std::string> kDatasetKeys = {"name", "data_dir", "train_limit", "test_limit",
                                               "val_size"};
const std::vector<std::string> kIntegerKeys = {"acc", "simulate"};
const std::vector<std::string> kMethodKeys = {
    "name", "options", "init", "recipe", "wbits", "abits", "gbits", "first_last", "granularity"};

Recipe read_recipe(const json& j, const std::string& path, Recipe r, JsonReader& in) {
  if (!in.object(j, path, kRecipeKeys)) return r;
  in.read(j, "epochs", path, r.epochs);
  in.read(j, "batch", path, r.batch);
  in.read_name(j, "optimizer", path, kOptimizers, r.optimizer);
  in.read(j, "lr", path, r.lr);
  in.read(j, "momentum", path, r.momentum);
  in.read(j, "wd", path, r.wd);
  in.read_name(j, "schedule", path, kSchedules, r.schedule);
  in.read(j, "warmup", path, r.warmup);
  // The engine trains in float: a value beyond a float's range (3.4e38) would become infinity
  // there, and a momentum of 1 or more never forgets; refused here, naming the key.
  auto check = [&](const char* key, double v, bool ok, const char* want) {
    if (!ok || !(std::abs(v) <= double(std::numeric_limits<float>::max())))
      in.problem(join_key_path(path, key), detail::concat(want, ", got ", v));
  };
  check("lr", r.lr, r.lr > 0, "expected a positive number (at most 3.4e38, a float)");
  check("wd", r.wd, r.wd >= 0, "expected a number >= 0 (at most 3.4e38, a float)");
  check("momentum", r.momentum, r.momentum >= 0 && r.momentum < 1, "expected a number in [0, 1)");
  check("warmup", r.warmup, r.warmup >= 0, "expected a number >= 0 (at most 3.4e38, a float)");
  if (r.batch == 0) in.problem(join_key_path(path, "batch"), "expected a positive integer");
  return r;
}

DatasetSpec read_dataset(const json& j, JsonReader& in) {
  DatasetSpec data;
  std::string name_path = "dataset";
  if (!j.contains("dataset")) {
    in.problem("dataset", "missing (e.g. {\"name\": \"fashion-mnist\"})");
    return data;
  }
  if (j["dataset"].is_string()) {
    data.name = j["dataset"].get<std::string>();
  } else if (in.object(j["dataset"], "dataset", kDatasetKeys)) {
    in.read(j["dataset"], "name", "dataset", data.name);
    in.read(j["dataset"], "data_dir", "dataset", data.data_dir);
    in.read(j["dataset"], "train_limit", "dataset", data.train_limit);
    in.read(j["dataset"], "test_limit", "dataset", data.test_limit);
    in.read(j["dataset"], "val_size", "dataset", data.val_size);
    name_path = "dataset.name";
  }
  if (!kDatasets.find(data.name))
    in.problem(unknown_name("dataset", data.name, kDatasets.names(), name_path));
  return data;
}

// The key path of item i of j[key], which may be a list or a scalar standing for one.
std::string item_path(const json& j, const std::string& key, const std::string& path,
                      std::size_t i) {
  const std::string at = join_key_path(path, key);
  return j[key].is_array() ? index_path(at, i) : at;
}

// The lists of settings from `j`, over `e`'s; first_last and granularity names checked
// against their tables.
void read_setting_lists(const json& j, const std::string& path, MethodEntry& e, JsonReader& in) {
  in.read_list(j, "wbits", path, e.wbits);
  in.read_list(j, "abits", path, e.abits);
  in.read_list(j, "gbits", path, e.gbits);
  std::vector<std::string> names;
  if (in.read_list(j, "first_last", path, names)) {
    e.first_last.clear();
    for (std::size_t i = 0; i < names.size(); ++i) {
      if (const auto* r = kFirstLast.find(names[i]))
        e.first_last.push_back(r->value);
      else
        in.problem(unknown_name("first_last", names[i], kFirstLast.names(),
                                item_path(j, "first_last", path, i)));
    }
  }
  if (in.read_list(j, "granularity", path, e.granularity))
    for (std::size_t i = 0; i < e.granularity.size(); ++i)
      if (!kGranularities.find(e.granularity[i]))
        in.problem(unknown_name("granularity", e.granularity[i], kGranularities.names(),
                                item_path(j, "granularity", path, i)));
}

// `fp32`: the config's pretraining recipe, which a scratch entry's recipe starts from.
MethodEntry read_method(const json& m, const std::string& path, const MethodEntry& defaults,
                        const Recipe& fp32, JsonReader& in) {
  MethodEntry e = defaults;
  e.path = path;
  if (m.is_string()) {
    e.name = m.get<std::string>();
    return e;
  }
  if (!in.object(m, path, kMethodKeys)) return e;
  if (!m.contains("name")) in.problem(join_key_path(path, "name"), "missing");
  in.read(m, "name", path, e.name);
  if (m.contains("options")) {
    if (m["options"].is_object())
      e.options = m["options"];
    else
      in.problem(join_key_path(path, "options"),
                 std::string("expected object, got ") + m["options"].type_name());
  }
  in.read_name(m, "init", path, kInits, e.init);
  // From scratch, the network trains as the FP32 pretraining would (issue 17: "the FP32 recipe
  // unchanged"); a recipe given here still overrides it key by key.
  if (e.init == Init::scratch) e.recipe = fp32;
  if (m.contains("recipe"))
    e.recipe = read_recipe(m["recipe"], join_key_path(path, "recipe"), e.recipe, in);
  read_setting_lists(m, path, e, in);
  return e;
}

// "integer": {"acc": ["int32", "wrap", ...], "simulate": N}: the accumulator models every
// cell's integer inference runs under, each named once; the simulation checks the first N
// test images (batches; 0 or absent: all).
std::vector<integer::AccModel> read_integer(const json& j, JsonReader& in, std::size_t& simulate) {
  std::vector<integer::AccModel> models;
  if (!j.contains("integer") || !in.object(j["integer"], "integer", kIntegerKeys)) return models;
  const json& spec = j["integer"];
  in.read(spec, "simulate", "integer", simulate);
  std::vector<std::string> names;
  if (!spec.contains("acc")) {
    in.problem("integer.acc", "missing (e.g. [\"int32\", \"wrap\", \"saturate\"])");
    return models;
  }
  if (!in.read_list(spec, "acc", "integer", names)) return models;
  for (std::size_t i = 0; i < names.size(); ++i) {
    const std::string at = item_path(spec, "acc", "integer", i);
    const auto* row = integer::kAccModels.find(names[i]);
    if (!row)
      in.problem(
          unknown_name(integer::kAccModels.what(), names[i], integer::kAccModels.names(), at));
    else if (std::find(models.begin(), models.end(), row->value) != models.end())
      in.problem(at, "'" + names[i] + "' is listed twice");
    else
      models.push_back(row->value);
  }
  return models;
}

Rule read_exclude(const json& j, const std::string& path, JsonReader& in) {
  Rule r;
  r.path = path;
  if (!in.object(j, path, kRuleKeys)) return r;
  if (j.empty()) in.problem(path, "empty rule (it would exclude every cell)");
  // Each value read as the setting it matches (a seed as a seed, bits as bits), so a number no
  // cell can hold is refused with its key instead of silently matching nothing.
  for (const auto& [k, v] : j.items()) {
    std::vector<std::string>& match = r.match[k];
    if (k == "seed") {
      std::vector<std::uint64_t> seeds;
      if (in.read_list(j, k, path, seeds))
        for (std::uint64_t s : seeds) match.push_back(std::to_string(s));
    } else if (k == "wbits" || k == "abits" || k == "gbits") {
      std::vector<int> bits;
      if (in.read_list(j, k, path, bits))
        for (int b : bits) match.push_back(std::to_string(b));
    } else {
      in.read_list(j, k, path, match);
    }
  }
  return r;
}

// An include rule: the settings of the methods[] entry it names, with some lists replaced.
// `entries_read`: every methods[] entry was read without a problem (else a name not found
// among them may be one that could not be read, already reported).
void read_include(const json& r, const std::string& path, const std::vector<MethodEntry>& entries,
                  bool entries_read, std::vector<MethodEntry>& out, JsonReader& in) {
  if (!in.object(r, path, kRuleKeys)) return;
  std::string name;
  const std::size_t problems = in.problems().size();
  in.read(r, "method", path, name);
  // A method name that is not a string, or a methods[] entry that could not be read, has been
  // reported already: one problem, one line.
  if (in.problems().size() > problems || (!name.empty() && !entries_read)) return;
  const auto it = std::find_if(entries.begin(), entries.end(),
                               [&](const MethodEntry& e) { return e.name == name; });
  if (it == entries.end()) {
    in.problem(join_key_path(path, "method"),
               name.empty() ? "missing (the methods[] entry whose options and recipe it uses)"
                            : "'" + name + "' is not in methods[]");
    return;
  }
  MethodEntry e = *it;
  e.path = path;
  in.read_list(r, "net", path, e.nets);
  in.read_list(r, "seed", path, e.seeds);
  read_setting_lists(r, path, e, in);
  out.push_back(std::move(e));
}

}  // namespace

Sweep parse_sweep(const json& j, std::optional<std::uint64_t> max_cells) {
  JsonReader in;
  Sweep s;
  s.config = j;
  if (!in.object(j, "", kTopKeys)) in.throw_if_any();
  if (j.contains("schema") && j["schema"] != kConfigSchema)
    in.problem("schema", "unknown schema " + j["schema"].dump() + " (this qbench reads " +
                             std::to_string(kConfigSchema) + ")");
  in.read(j, "name", "", s.name);
  const DatasetSpec data = read_dataset(j, in);
  double width = 1.0;  // every network's channel multiplier (qbench train --width)
  in.read(j, "width", "", width);
  if (!(width > 0.0 && width <= kMaxWidth))
    in.problem("width", "expected a channel multiplier in (0, " + std::to_string(int(kMaxWidth)) +
                            "], got " + j.value("width", json()).dump());
  std::size_t integer_simulate = 0;
  const std::vector<integer::AccModel> integer_acc = read_integer(j, in, integer_simulate);

  // The top-level lists: every methods[] entry starts from them.
  MethodEntry defaults;
  if (!in.read_list(j, "networks", "", defaults.nets) && !j.contains("networks"))
    in.problem("networks", "missing (e.g. [\"lenet5\"])");
  const auto& known_nets = network_names();
  for (std::size_t i = 0; i < defaults.nets.size(); ++i)
    if (std::find(known_nets.begin(), known_nets.end(), defaults.nets[i]) == known_nets.end())
      in.problem(unknown_name("network", defaults.nets[i], known_nets, index_path("networks", i)));
  defaults.seeds = {1};
  in.read_list(j, "seeds", "", defaults.seeds);
  defaults.wbits = defaults.abits = defaults.gbits = {32};
  defaults.first_last = {FirstLast::same};
  defaults.granularity = {"tensor"};
  read_setting_lists(j, "", defaults, in);

  Recipe fp32;
  fp32.epochs = 30, fp32.lr = 0.05;
  if (j.contains("fp32")) fp32 = read_recipe(j["fp32"], "fp32", fp32, in);
  if (fp32.epochs == 0) in.problem("fp32.epochs", "expected at least 1 (cells fine-tune from it)");
  if (j.contains("finetune"))
    defaults.recipe = read_recipe(j["finetune"], "finetune", Recipe{}, in);

  std::vector<MethodEntry> entries;
  std::vector<bool> entry_read;  // false: reading it found a problem (not checked further)
  if (!j.contains("methods")) {
    in.problem("methods", "missing (e.g. [{\"name\": \"minmax\"}])");
  } else if (!j["methods"].is_array()) {
    in.problem("methods", std::string("expected array, got ") + j["methods"].type_name());
  } else if (j["methods"].empty()) {
    in.problem("methods", "empty list (the product would be empty)");
  } else {
    for (std::size_t i = 0; i < j["methods"].size(); ++i) {
      const std::size_t problems = in.problems().size();
      entries.push_back(read_method(j["methods"][i], index_path("methods", i), defaults, fp32, in));
      entry_read.push_back(in.problems().size() == problems);
    }
  }

  const bool entries_read = !entries.empty() && std::find(entry_read.begin(), entry_read.end(),
                                                          false) == entry_read.end();
  std::vector<Rule> excludes;
  std::vector<MethodEntry> includes;
  for (const char* key : {"exclude", "include"}) {
    if (!j.contains(key)) continue;
    if (!j[key].is_array()) {
      in.problem(key, std::string("expected array of rules, got ") + j[key].type_name());
      continue;
    }
    for (std::size_t i = 0; i < j[key].size(); ++i) {
      if (std::string(key) == "exclude")
        excludes.push_back(read_exclude(j[key][i], index_path(key, i), in));
      else
        read_include(j[key][i], index_path(key, i), entries, entries_read, includes, in);
    }
  }
  for (std::size_t i = 0; i < entries.size(); ++i)
    if (entry_read[i]) check_method(entries[i], in);
  for (const auto& e : includes) check_method(e, in);
  // Counted before anything loops over the products (trial_install, expand_cells).
  std::size_t limit = kDefaultMaxCells;
  in.read(j, "max_cells", "", limit);
  if (max_cells) limit = *max_cells;
  const std::uint64_t cells = count_cells(entries, includes);
  if (cells > limit)
    in.problem("", "the sweep holds " +
                       (cells == ~std::uint64_t(0) ? "over 2^64-1" : std::to_string(cells)) +
                       " cells before excludes, over the limit of " + std::to_string(limit) +
                       " (raise \"max_cells\" or --max-cells to run it)");
  in.throw_if_any();
  for (const auto& e : entries) trial_install(e, data, in);
  for (const auto& e : includes) trial_install(e, data, in);
  in.throw_if_any();

  s.cells =
      expand_cells(entries, includes, excludes, data, fp32, defaults.nets, defaults.seeds, in);
  in.throw_if_any();
  for (Cell& c : s.cells) {
    c.integer_acc = integer_acc;
    c.integer_simulate = integer_simulate;
    if (float(width) == 1.0f) continue;
    c.width = float(width);
    set_identity(c);
  }
  std::set<std::string> keys;
  for (const auto& c : s.cells) keys.insert(c.key);
  s.hash = content_key(json(std::vector<std::string>(keys.begin(), keys.end())));
  return s;
}

Sweep load_sweep(const std::string& path, std::optional<std::uint64_t> max_cells) {
  const json j = read_user_json(path, "sweep config file");
  try {
    return parse_sweep(j, max_cells);
  } catch (const Errors& e) {
    // Each problem on its own line, each naming the file.
    std::vector<Error> in_file;
    for (const Error& p : e.problems()) in_file.emplace_back(path + ": " + p.what());
    throw Errors(std::move(in_file));
  } catch (const Error& e) {
    throw Error(path + ": " + e.what());
  }
}

}  // namespace qb::exp
