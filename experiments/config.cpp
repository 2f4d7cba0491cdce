#include "experiments/config.h"

#include "engine/check.h"
#include "engine/data/dataset.h"
#include "engine/nets.h"
#include "engine/optim.h"
#include "experiments/hash.h"
#include "methods/qat.h"
#include "methods/registry.h"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

namespace qb::exp {
namespace {

using json = nlohmann::json;

// Problems found while reading a config: all of them are reported, not just the first.
struct Problems {
  std::vector<std::string> lines;
  void add(const std::string& path, const std::string& msg) { lines.push_back(path + ": " + msg); }
  bool empty() const { return lines.empty(); }
};

std::string join_path(const std::string& base, const std::string& key) {
  return base.empty() ? key : base + "." + key;
}
std::string index_path(const std::string& base, std::size_t i) {
  return base + "[" + std::to_string(i) + "]";
}

std::string nearest(const std::string& key, const std::vector<std::string>& valid) {
  std::string best;
  std::size_t best_d = std::string::npos;
  for (const auto& v : valid) {
    const std::size_t d = edit_distance(key, v);
    if (d < best_d) best_d = d, best = v;
  }
  // A suggestion only when it is plausibly a typo of the key.
  return best_d <= std::max<std::size_t>(2, key.size() / 3) ? best : "";
}

std::string list_join(const std::vector<std::string>& lines) {
  std::string s;
  for (const auto& l : lines) s += (s.empty() ? "" : "\n") + l;
  return s;
}

std::string list_of(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& x : v) s += (s.empty() ? "" : ", ") + x;
  return s;
}

// Refuses a non-object and reports keys outside `valid`, with the nearest valid name.
bool check_object(const json& j, const std::string& path, const std::vector<std::string>& valid,
                  Problems& p) {
  if (!j.is_object()) {
    p.add(path.empty() ? "(top level)" : path, std::string("expected object, got ") + j.type_name());
    return false;
  }
  for (const auto& [k, v] : j.items()) {
    if (std::find(valid.begin(), valid.end(), k) != valid.end()) continue;
    const std::string n = nearest(k, valid);
    p.add(join_path(path, k), n.empty() ? "unknown key (valid: " + list_of(valid) + ")"
                                        : "unknown key (did you mean '" + n + "'?)");
  }
  return true;
}

// Typed readers: leave `out` as it is when the key is absent, report a wrong type.
void read(const json& j, const std::string& key, const std::string& path, std::string& out,
          Problems& p) {
  if (!j.contains(key)) return;
  if (!j[key].is_string()) return p.add(join_path(path, key), std::string("expected string, got ") + j[key].type_name());
  out = j[key].get<std::string>();
}
void read(const json& j, const std::string& key, const std::string& path, double& out,
          Problems& p) {
  if (!j.contains(key)) return;
  if (!j[key].is_number()) return p.add(join_path(path, key), std::string("expected number, got ") + j[key].type_name());
  out = j[key].get<double>();
}
bool as_count(const json& v, std::uint64_t& out) {
  if (v.is_number_unsigned() || (v.is_number_integer() && v.get<std::int64_t>() >= 0)) {
    out = v.get<std::uint64_t>();
    return true;
  }
  if (v.is_number_float() && v.get<double>() >= 0 && v.get<double>() == std::floor(v.get<double>())) {
    out = std::uint64_t(v.get<double>());
    return true;
  }
  return false;
}
void read(const json& j, const std::string& key, const std::string& path, std::size_t& out,
          Problems& p) {
  if (!j.contains(key)) return;
  std::uint64_t v = 0;
  if (!as_count(j[key], v))
    return p.add(join_path(path, key), std::string("expected non-negative integer, got ") + j[key].dump());
  out = std::size_t(v);
}

// A scalar or a list of scalars (ints or strings) → a non-empty list.
template <class T>
bool read_list(const json& j, const std::string& key, const std::string& path, std::vector<T>& out,
               Problems& p) {
  if (!j.contains(key)) return false;
  const std::string at = join_path(path, key);
  const json& v = j[key];
  const json items = v.is_array() ? v : json::array({v});
  if (items.empty()) {
    p.add(at, "empty list (the product would be empty)");
    return false;
  }
  std::vector<T> got;
  for (std::size_t i = 0; i < items.size(); ++i) {
    const json& x = items[i];
    const std::string xp = v.is_array() ? index_path(at, i) : at;
    if constexpr (std::is_same_v<T, std::string>) {
      if (!x.is_string()) return p.add(xp, std::string("expected string, got ") + x.type_name()), false;
      got.push_back(x.get<std::string>());
    } else {
      std::uint64_t u = 0;
      if (!as_count(x, u)) return p.add(xp, "expected non-negative integer, got " + x.dump()), false;
      got.push_back(T(u));
    }
  }
  out = got;
  return true;
}

const std::vector<std::string> kTopKeys = {"schema", "name", "dataset", "networks", "seeds",
                                           "fp32",   "finetune", "methods", "wbits", "abits",
                                           "gbits",  "first_last", "granularity", "exclude",
                                           "include"};
const std::vector<std::string> kRecipeKeys = {"epochs", "batch", "optimizer", "lr",
                                              "momentum", "wd", "schedule", "warmup"};
const std::vector<std::string> kDatasetKeys = {"name", "data_dir", "train_limit", "test_limit",
                                               "val_size"};
const std::vector<std::string> kMethodKeys = {"name", "options", "recipe", "wbits", "abits",
                                              "gbits", "first_last", "granularity"};
const std::vector<std::string> kRuleKeys = {"method", "net", "seed", "wbits", "abits", "gbits",
                                            "first_last", "granularity"};

Recipe read_recipe(const json& j, const std::string& path, Recipe r, Problems& p) {
  if (!check_object(j, path, kRecipeKeys, p)) return r;
  read(j, "epochs", path, r.epochs, p);
  read(j, "batch", path, r.batch, p);
  read(j, "optimizer", path, r.optimizer, p);
  read(j, "lr", path, r.lr, p);
  read(j, "momentum", path, r.momentum, p);
  read(j, "wd", path, r.wd, p);
  read(j, "schedule", path, r.schedule, p);
  read(j, "warmup", path, r.warmup, p);
  const auto& opts = optimizer_names();
  if (std::find(opts.begin(), opts.end(), r.optimizer) == opts.end())
    p.add(join_path(path, "optimizer"), "unknown optimizer '" + r.optimizer + "' (valid: " + list_of(opts) + ")");
  const auto& scheds = schedule_names();
  if (std::find(scheds.begin(), scheds.end(), r.schedule) == scheds.end())
    p.add(join_path(path, "schedule"), "unknown schedule '" + r.schedule + "' (valid: " + list_of(scheds) + ")");
  if (!(r.lr > 0)) p.add(join_path(path, "lr"), "expected a positive number");
  if (r.batch == 0) p.add(join_path(path, "batch"), "expected a positive integer");
  return r;
}

// One methods[] entry (or an include rule resolved against one): its lists before expansion.
struct MethodEntry {
  std::string path;  // "methods[2]" or "include[0]"
  std::string name;
  json options = json::object();
  Recipe recipe;
  std::vector<std::string> nets, first_last, granularity;
  std::vector<std::uint64_t> seeds;
  std::vector<int> wbits, abits, gbits;
};

// Checks the entry's method, options and bits through the registry, then installs its
// quantizers into each network once per setting, so that errors only a quantizer's
// constructor sees (a granularity it does not support) surface now, not hours into a sweep.
// Registry checks (name, options, bits, first_last); true when they all pass.
bool check_method(const MethodEntry& m, Problems& p) {
  std::unique_ptr<Method> method;
  try {
    method = make_method(m.name);
  } catch (const Error& e) {
    std::string msg = e.what();
    if (msg.rfind("method: ", 0) == 0) msg = msg.substr(8);
    p.add(join_path(m.path, "name"), msg);
    return false;
  }
  try {
    method->validate_options(m.options);
  } catch (const Error& e) {
    p.lines.push_back(m.path + "." + e.what());  // "methods[2]" + ".options.eta: expected ..."
    return false;
  }
  const MethodInfo& mi = method->info();
  bool ok = true;
  auto check_bits = [&](const char* key, const std::vector<int>& bits) {
    for (std::size_t i = 0; i < bits.size(); ++i) {
      const int b = bits[i];
      const bool in_range = b == 32 || (b >= mi.min_bits && b <= mi.max_bits);
      if (b < 1 || b > 32 || !in_range) {
        p.add(index_path(join_path(m.path, key), i),
              m.name + " supports " + std::to_string(mi.min_bits) + ".." +
                  std::to_string(mi.max_bits) + " bits (32: not quantized), got " +
                  std::to_string(b));
        ok = false;
      }
    }
  };
  check_bits("wbits", m.wbits);
  check_bits("abits", m.abits);
  check_bits("gbits", m.gbits);
  for (std::size_t i = 0; i < m.first_last.size(); ++i)
    if (m.first_last[i] != "same" && m.first_last[i] != "8" && m.first_last[i] != "fp32") {
      p.add(index_path(join_path(m.path, "first_last"), i),
            "expected same, 8 or fp32, got '" + m.first_last[i] + "'");
      ok = false;
    }
  return ok;
}

// Builds each of the entry's networks and installs its quantizers once per setting (bits ×
// first_last × granularity), so that errors only make_qat() and the quantizers' constructors
// see (a granularity a method does not support on some layer) surface before any cell runs.
// parse_sweep() calls it only once every entry has passed check_method(); an error that several
// settings share is reported once, with the first setting that raised it.
void trial_install(const MethodEntry& m, const DatasetSpec& data, Problems& p) {
  const Shape shape = data.name == "cifar10" ? Shape{3, 32, 32} : Shape{1, 28, 28};
  std::set<std::string> seen;
  for (const auto& net_name : m.nets)
    for (int w : m.wbits)
      for (int a : m.abits)
        for (int g : m.gbits)
          for (const auto& fl : m.first_last)
            for (const auto& gr : m.granularity) {
              QatConfig q{m.name, QuantSettings{w, a, g, gr, fl, m.options}};
              try {
                auto net = make_network(net_name, shape, 10, 1.0f);
                make_qat(q).attach(*net);
              } catch (const Error& e) {
                const std::string line = std::string(e.what()) + " (" + net_name + ", W" +
                                         std::to_string(w) + "A" + std::to_string(a) +
                                         ", granularity " + gr + ")";
                if (seen.insert(e.what()).second) p.add(m.path, line);
              }
            }
}

// An exclude rule: for every key it names, the cell's value is one of the listed ones.
struct Rule {
  std::map<std::string, std::vector<std::string>> match;  // values as strings
  std::string path;
  std::size_t hits = 0;
};

std::string value_string(const json& v) { return v.is_string() ? v.get<std::string>() : canonical_dump(v); }

Rule read_rule(const json& j, const std::string& path, Problems& p) {
  Rule r;
  r.path = path;
  if (!check_object(j, path, kRuleKeys, p)) return r;
  if (j.empty()) p.add(path, "empty rule (it would exclude every cell)");
  for (const auto& [k, v] : j.items()) {
    const json items = v.is_array() ? v : json::array({v});
    for (const auto& x : items) r.match[k].push_back(value_string(x));
  }
  return r;
}

std::map<std::string, std::string> cell_fields(const Cell& c) {
  return {{"method", c.method},
          {"net", c.net},
          {"seed", std::to_string(c.seed)},
          {"wbits", std::to_string(c.quant.wbits)},
          {"abits", std::to_string(c.quant.abits)},
          {"gbits", std::to_string(c.quant.gbits)},
          {"first_last", c.quant.first_last},
          {"granularity", c.quant.granularity}};
}

bool matches(const Rule& r, const Cell& c) {
  const auto fields = cell_fields(c);
  for (const auto& [k, values] : r.match) {
    const auto it = fields.find(k);
    if (it == fields.end()) return false;
    if (std::find(values.begin(), values.end(), it->second) == values.end()) return false;
  }
  return true;
}

std::string bits_name(const QuantSettings& q) {
  // Appended piece by piece: g++ 12 warns (-Wrestrict, a false positive) on "w" + to_string.
  std::string s = "w";
  s += std::to_string(q.wbits);
  s += 'a';
  s += std::to_string(q.abits);
  if (q.gbits != 32) {
    s += 'g';
    s += std::to_string(q.gbits);
  }
  return s;
}

void expand(const MethodEntry& m, const DatasetSpec& data, const Recipe& fp32,
            std::vector<Cell>& out) {
  for (const auto& net : m.nets)
    for (auto seed : m.seeds)
      for (int w : m.wbits)
        for (int a : m.abits)
          for (int g : m.gbits)
            for (const auto& fl : m.first_last)
              for (const auto& gr : m.granularity) {
                Cell c;
                c.data = data;
                c.net = net;
                c.seed = seed;
                c.fp32 = fp32;
                c.method = m.name;
                c.quant = QuantSettings{w, a, g, gr, fl, normalise_numbers(m.options)};
                c.recipe = m.recipe;
                c.key = content_key(cell_json(c));
                c.fp32_key = content_key(fp32_json(c));
                c.name = m.name + "/" + bits_name(c.quant) + "/" + net + "/" + data.name + "/s" +
                         std::to_string(seed);
                out.push_back(std::move(c));
              }
}

// Order: network, seed, then the methods as listed — so each pretraining is followed by the
// fine-tunes that start from it.
void sort_cells(std::vector<Cell>& cells, const std::vector<std::string>& nets,
                const std::vector<std::uint64_t>& seeds) {
  auto rank = [](const auto& v, const auto& x) {
    return std::size_t(std::find(v.begin(), v.end(), x) - v.begin());
  };
  std::stable_sort(cells.begin(), cells.end(), [&](const Cell& a, const Cell& b) {
    return std::pair(rank(nets, a.net), rank(seeds, a.seed)) <
           std::pair(rank(nets, b.net), rank(seeds, b.seed));
  });
}

}  // namespace

std::size_t edit_distance(const std::string& a, const std::string& b) {
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

nlohmann::json to_json(const Recipe& r) {
  return {{"epochs", r.epochs}, {"batch", r.batch}, {"optimizer", r.optimizer},
          {"lr", r.lr},         {"momentum", r.momentum}, {"wd", r.wd},
          {"schedule", r.schedule}, {"warmup", r.warmup}};
}

nlohmann::json dataset_identity(const DatasetSpec& d) {
  return {{"name", d.name}, {"train_limit", d.train_limit}, {"test_limit", d.test_limit},
          {"val_size", d.val_size}};
}

nlohmann::json fp32_json(const Cell& c) {
  return normalise_numbers(json{{"kind", "fp32-pretrain"},
                                {"dataset", dataset_identity(c.data)},
                                {"net", c.net},
                                {"seed", c.seed},
                                {"recipe", to_json(c.fp32)}});
}

nlohmann::json cell_json(const Cell& c) {
  return normalise_numbers(json{{"kind", "cell"},
                                {"pretrain", fp32_json(c)},
                                {"net", c.net},
                                {"seed", c.seed},
                                {"method", c.method},
                                {"wbits", c.quant.wbits},
                                {"abits", c.quant.abits},
                                {"gbits", c.quant.gbits},
                                {"first_last", c.quant.first_last},
                                {"granularity", c.quant.granularity},
                                {"options", c.quant.options},
                                {"recipe", to_json(c.recipe)}});
}

namespace {
TrainConfig base_config(const Cell& c, const Recipe& r) {
  TrainConfig t;
  t.net = c.net;
  t.dataset = c.data.name;
  t.data.dir = c.data.data_dir;
  t.data.train_limit = c.data.train_limit;
  t.data.test_limit = c.data.test_limit;
  t.data.val_size = c.data.val_size;
  t.epochs = r.epochs;
  t.batch = r.batch;
  t.opt.type = r.optimizer;
  t.opt.lr = float(r.lr);
  t.opt.momentum = float(r.momentum);
  t.opt.weight_decay = float(r.wd);
  t.schedule.type = r.schedule;
  t.schedule.warmup_epochs = float(r.warmup);
  t.seed = c.seed;
  return t;
}
}  // namespace

TrainConfig fp32_train_config(const Cell& c) { return base_config(c, c.fp32); }
TrainConfig cell_train_config(const Cell& c) { return base_config(c, c.recipe); }

Sweep parse_sweep(const json& j) {
  Problems p;
  Sweep s;
  if (!check_object(j, "", kTopKeys, p)) throw error(p.lines.front());
  if (j.contains("schema") && j["schema"] != kConfigSchema)
    p.add("schema", "unknown schema " + j["schema"].dump() + " (this qbench reads " +
                        std::to_string(kConfigSchema) + ")");
  read(j, "name", "", s.name, p);

  DatasetSpec data;
  if (!j.contains("dataset")) {
    p.add("dataset", "missing (e.g. {\"name\": \"fashion-mnist\"})");
  } else if (j["dataset"].is_string()) {
    data.name = j["dataset"].get<std::string>();
  } else if (check_object(j["dataset"], "dataset", kDatasetKeys, p)) {
    read(j["dataset"], "name", "dataset", data.name, p);
    read(j["dataset"], "data_dir", "dataset", data.data_dir, p);
    read(j["dataset"], "train_limit", "dataset", data.train_limit, p);
    read(j["dataset"], "test_limit", "dataset", data.test_limit, p);
    read(j["dataset"], "val_size", "dataset", data.val_size, p);
  }
  const auto& datasets = dataset_names();
  if (std::find(datasets.begin(), datasets.end(), data.name) == datasets.end())
    p.add(j.contains("dataset") && j["dataset"].is_object() ? "dataset.name" : "dataset",
          "unknown dataset '" + data.name + "' (valid: " + list_of(datasets) + ")");

  std::vector<std::string> nets;
  if (!read_list(j, "networks", "", nets, p) && !j.contains("networks")) p.add("networks", "missing (e.g. [\"lenet5\"])");
  const auto& known_nets = network_names();
  for (std::size_t i = 0; i < nets.size(); ++i)
    if (std::find(known_nets.begin(), known_nets.end(), nets[i]) == known_nets.end()) {
      const std::string n = nearest(nets[i], known_nets);
      p.add(index_path("networks", i), "unknown network '" + nets[i] + "' (" +
                                           (n.empty() ? "valid: " + list_of(known_nets) : "did you mean '" + n + "'?") + ")");
    }
  std::vector<std::uint64_t> seeds = {1};
  read_list(j, "seeds", "", seeds, p);

  Recipe fp32;
  fp32.epochs = 30, fp32.lr = 0.05;
  if (j.contains("fp32")) fp32 = read_recipe(j["fp32"], "fp32", fp32, p);
  if (fp32.epochs == 0) p.add("fp32.epochs", "expected at least 1 (cells fine-tune from it)");
  Recipe finetune;
  if (j.contains("finetune")) finetune = read_recipe(j["finetune"], "finetune", finetune, p);

  std::vector<int> wbits = {32}, abits = {32}, gbits = {32};
  std::vector<std::string> first_last = {"same"}, granularity = {"tensor"};
  read_list(j, "wbits", "", wbits, p);
  read_list(j, "abits", "", abits, p);
  read_list(j, "gbits", "", gbits, p);
  read_list(j, "first_last", "", first_last, p);
  read_list(j, "granularity", "", granularity, p);

  std::vector<MethodEntry> entries;
  if (!j.contains("methods")) {
    p.add("methods", "missing (e.g. [{\"name\": \"minmax\"}])");
  } else if (!j["methods"].is_array()) {
    p.add("methods", std::string("expected array, got ") + j["methods"].type_name());
  } else if (j["methods"].empty()) {
    p.add("methods", "empty list (the product would be empty)");
  } else {
    for (std::size_t i = 0; i < j["methods"].size(); ++i) {
      const json& m = j["methods"][i];
      MethodEntry e;
      e.path = index_path("methods", i);
      if (m.is_string()) {
        e.name = m.get<std::string>();
      } else {
        if (!check_object(m, e.path, kMethodKeys, p)) continue;
        if (!m.contains("name")) p.add(join_path(e.path, "name"), "missing");
        read(m, "name", e.path, e.name, p);
        if (m.contains("options")) {
          if (m["options"].is_object()) e.options = m["options"];
          else p.add(join_path(e.path, "options"), std::string("expected object, got ") + m["options"].type_name());
        }
      }
      e.recipe = finetune;
      if (m.is_object() && m.contains("recipe"))
        e.recipe = read_recipe(m["recipe"], join_path(e.path, "recipe"), finetune, p);
      e.nets = nets, e.seeds = seeds, e.wbits = wbits, e.abits = abits, e.gbits = gbits;
      e.first_last = first_last, e.granularity = granularity;
      if (m.is_object()) {
        read_list(m, "wbits", e.path, e.wbits, p);
        read_list(m, "abits", e.path, e.abits, p);
        read_list(m, "gbits", e.path, e.gbits, p);
        read_list(m, "first_last", e.path, e.first_last, p);
        read_list(m, "granularity", e.path, e.granularity, p);
      }
      entries.push_back(std::move(e));
    }
  }

  std::vector<Rule> excludes;
  std::vector<MethodEntry> includes;
  for (const char* key : {"exclude", "include"}) {
    if (!j.contains(key)) continue;
    if (!j[key].is_array()) {
      p.add(key, std::string("expected array of rules, got ") + j[key].type_name());
      continue;
    }
    for (std::size_t i = 0; i < j[key].size(); ++i) {
      const std::string path = index_path(key, i);
      const json& r = j[key][i];
      if (std::string(key) == "exclude") {
        excludes.push_back(read_rule(r, path, p));
        continue;
      }
      // An include rule: a method entry's settings with some lists replaced.
      if (!check_object(r, path, kRuleKeys, p)) continue;
      std::string name;
      read(r, "method", path, name, p);
      const auto it = std::find_if(entries.begin(), entries.end(),
                                   [&](const MethodEntry& e) { return e.name == name; });
      if (it == entries.end()) {
        p.add(join_path(path, "method"), name.empty() ? "missing (the methods[] entry whose options and recipe it uses)"
                                                      : "'" + name + "' is not in methods[]");
        continue;
      }
      MethodEntry e = *it;
      e.path = path;
      read_list(r, "net", path, e.nets, p);
      read_list(r, "seed", path, e.seeds, p);
      read_list(r, "wbits", path, e.wbits, p);
      read_list(r, "abits", path, e.abits, p);
      read_list(r, "gbits", path, e.gbits, p);
      read_list(r, "first_last", path, e.first_last, p);
      read_list(r, "granularity", path, e.granularity, p);
      includes.push_back(std::move(e));
    }
  }
  for (const auto& e : entries) check_method(e, p);
  for (const auto& e : includes) check_method(e, p);
  if (!p.empty()) throw error(list_join(p.lines));
  for (const auto& e : entries) trial_install(e, data, p);
  for (const auto& e : includes) trial_install(e, data, p);
  if (!p.empty()) throw error(list_join(p.lines));

  std::vector<Cell> product, extra;
  for (const auto& e : entries) expand(e, data, fp32, product);
  for (const auto& e : includes) expand(e, data, fp32, extra);
  std::vector<Cell> cells;
  for (auto& c : product) {
    bool drop = false;
    for (auto& r : excludes)
      if (matches(r, c)) ++r.hits, drop = true;
    if (!drop) cells.push_back(std::move(c));
  }
  for (const auto& r : excludes)
    if (r.hits == 0) p.add(r.path, "matches no cell (a misspelt value?)");
  std::set<std::string> keys;
  for (const auto& c : cells) keys.insert(c.key);
  for (auto& c : extra)
    if (keys.insert(c.key).second) cells.push_back(std::move(c));
  if (cells.empty()) p.add("exclude", "every cell is excluded: the sweep is empty");
  if (!p.empty()) throw error(list_join(p.lines));

  // Two methods[] entries that expand to the same cell run it once.
  std::vector<Cell> unique;
  std::set<std::string> taken;
  for (auto& c : cells)
    if (taken.insert(c.key).second) unique.push_back(std::move(c));
  sort_cells(unique, nets, seeds);
  for (std::size_t i = 0; i < unique.size(); ++i) unique[i].index = i;
  s.cells = std::move(unique);
  std::vector<std::string> sorted(taken.begin(), taken.end());
  s.hash = content_key(json(sorted));
  return s;
}

Sweep load_sweep(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw error(path, ": cannot open config");
  json j;
  try {
    j = json::parse(in);
  } catch (const json::parse_error& e) {
    // e.byte is 1-based and points past the offending character.
    throw error(path, ": malformed JSON at byte ", e.byte > 0 ? e.byte - 1 : 0, " (",
                std::string(e.what()).substr(std::string(e.what()).find(':') + 2), ")");
  }
  try {
    return parse_sweep(j);
  } catch (const Error& e) {
    // Each problem on its own line, each naming the file.
    std::istringstream lines(e.what());
    std::string line, out;
    while (std::getline(lines, line)) out += (out.empty() ? "" : "\n") + path + ": " + line;
    throw Error(out);
  }
}

}  // namespace qb::exp
