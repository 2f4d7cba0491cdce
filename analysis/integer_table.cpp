#include "analysis/integer_table.h"

#include "analysis/results.h"
#include "engine/check.h"
#include "engine/io/hdf5.h"
#include "experiments/cell_integer.h"
#include "experiments/results_columns.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <utility>

namespace qb::analysis {
using json = nlohmann::json;

namespace {

struct IntegerCell {
  const ResultRow* row;
  json results;  // {model: result}, experiments/cell_integer.h
};

// The accumulator models in the order of the summary's int_acc_<model> columns (analysis sits
// beside integer/, not above it: results_columns.h is where the names are spelled).
std::vector<std::string> model_order() {
  std::vector<std::string> out;
  const std::string prefix = "int_acc_";
  for (const auto& col : exp::kResultsColumns.rows()) {
    if (col.name.substr(0, prefix.size()) != prefix) continue;
    std::string m(col.name.substr(prefix.size()));
    std::replace(m.begin(), m.end(), '_', '-');
    out.push_back(m);
  }
  return out;
}

std::string cell_label(const ResultRow& r) {
  std::string s = r.method;
  if (r.options != "{}") s += " " + r.options;
  s += " W" + std::to_string(r.wbits) + "A" + std::to_string(r.abits);
  if (r.first_last != "same") s += ", first/last " + r.first_last;
  if (r.granularity != "tensor") s += ", " + r.granularity;
  return s + ", seed " + std::to_string(r.seed);
}

std::string percent(double fraction) { return fixed(100 * fraction, 2); }

bool exported(const json& result) { return !result.contains("refused"); }

Grid accuracy_grid(const std::vector<IntegerCell>& cells, const std::vector<std::string>& models,
                   const std::string& where) {
  Grid g;
  g.name = "integer-accuracy-" + where;
  g.title = "Integer vs fake-quant top-1 (" + where + ")";
  g.note =
      "Top-1 (%) of the integer engine on the test split under each accumulator model, its "
      "top-1 agreement with the fake-quant network (%), and the images whose integer result "
      "differs from the exact simulation (summed over the models; 0 is the proof; on the "
      "first images only where the sweep's integer.simulate limited it, as the cell says).";
  g.header = {"cell", "fake-quant"};
  for (const auto& m : models) {
    g.header.push_back(m);
    g.header.push_back(m + " agree");
  }
  g.header.push_back("≠ simulation");
  g.header.push_back("refused");
  for (const auto& c : cells) {
    std::vector<std::string> row = {cell_label(*c.row), ""};
    double fake_quant = c.row->values.at("test_acc");
    double mismatches = 0;
    std::size_t images = 0, simulated = 0;  // the fewest any model simulated
    std::string refused;
    for (const auto& m : models) {
      if (!c.results.contains(m)) {
        row.resize(row.size() + 2);
        continue;
      }
      const json& r = c.results.at(m);
      if (!exported(r)) {
        refused = r.at("refused").get<std::string>();
        row.resize(row.size() + 2);
        continue;
      }
      fake_quant = r.at("fake_quant_accuracy").get<double>();
      mismatches += r.at("reference").at("mismatches").get<double>();
      images = r.at("images").get<std::size_t>();
      // Cells from before the limit existed simulated every image.
      const std::size_t sim = r.at("reference").value("images", images);
      simulated = simulated ? std::min(simulated, sim) : sim;
      row.push_back(percent(r.at("accuracy").get<double>()));
      row.push_back(percent(r.at("agreement").at("fraction").get<double>()));
    }
    row[1] = percent(fake_quant);
    std::string differs = refused.empty() ? fixed(mismatches, 0) : "";
    if (refused.empty() && simulated < images)
      differs += " (first " + std::to_string(simulated) + " images)";
    row.push_back(differs);
    row.push_back(refused);
    g.rows.push_back(std::move(row));
  }
  return g;
}

Grid overflow_grid(const std::vector<IntegerCell>& cells, const std::vector<std::string>& models,
                   const std::string& where) {
  // The int8 layers, in network order, as the cells report them.
  std::vector<std::string> layers;
  for (const auto& c : cells)
    for (const auto& [model, r] : c.results.items())
      if (exported(r))
        for (const json& l : r.at("layers")) {
          const std::string name = l.at("layer").get<std::string>();
          if (l.contains("dot_products") &&
              std::find(layers.begin(), layers.end(), name) == layers.end())
            layers.push_back(name);
        }
  Grid g;
  g.name = "integer-overflows-" + where;
  g.title = "Per-layer 16-bit overflows (" + where + ")";
  g.note =
      "Per int8 layer: the largest exact |Σ q·w| (bias excluded), then under each 16-bit "
      "accumulator model the dot products whose result differs from the exact sum, with their "
      "fraction of the layer's dot products on the test split.";
  g.header = {"cell", "model"};
  g.header.insert(g.header.end(), layers.begin(), layers.end());
  auto per_layer = [&](const json& r, auto text) {
    std::vector<std::string> out(layers.size());
    for (const json& l : r.at("layers")) {
      if (!l.contains("dot_products")) continue;
      const std::string name = l.at("layer").get<std::string>();
      const auto at = std::find(layers.begin(), layers.end(), name) - layers.begin();
      out[std::size_t(at)] = text(l);
    }
    return out;
  };
  for (const auto& c : cells) {
    bool first = true;
    for (const auto& m : models) {
      if (!c.results.contains(m) || !exported(c.results.at(m))) continue;
      const json& r = c.results.at(m);
      if (first) {  // the exact sums do not depend on the model
        std::vector<std::string> row = {cell_label(*c.row), "max |Σ|"};
        for (auto& t : per_layer(r, [](const json& l) {
               return std::to_string(l.at("max_abs_sum").get<std::int64_t>());
             }))
          row.push_back(std::move(t));
        g.rows.push_back(std::move(row));
        first = false;
      }
      if (m == "int32") continue;  // exact: never wrong
      std::vector<std::string> row = {cell_label(*c.row), m};
      for (auto& t : per_layer(r, [](const json& l) {
             const double n = l.at("dot_products").get<double>();
             const double w = l.at("wrong").get<double>();
             return fixed(w, 0) + " (" + (n > 0 ? fixed(100 * w / n, 2) : "0.00") + "%)";
           }))
        row.push_back(std::move(t));
      g.rows.push_back(std::move(row));
    }
  }
  return g;
}

}  // namespace

std::vector<Grid> integer_tables(const std::string& path) {
  const Results results = read_results(path);
  h5::File f = h5::File::open_read(path);
  const h5::Group all = f.root().open_group("cells");
  std::vector<std::pair<std::string, std::vector<IntegerCell>>> groups;  // "net, dataset"
  for (const ResultRow& row : results.rows) {
    json r;
    try {
      r = exp::read_integer(all.open_group(row.key));
    } catch (const Error& e) {
      throw error(path, ": /cells/", row.key, e.what());
    }
    if (r.empty()) continue;
    const std::string where = row.net + ", " + row.dataset;
    auto it =
        std::find_if(groups.begin(), groups.end(), [&](const auto& g) { return g.first == where; });
    if (it == groups.end()) it = groups.insert(groups.end(), {where, {}});
    it->second.push_back({&row, std::move(r)});
  }
  if (groups.empty())
    throw error(path, ": no cell holds integer results (give the sweep config ",
                "\"integer\": {\"acc\": [...]}, docs/results-format.md)");
  std::vector<std::string> models;
  for (const auto& m : model_order())
    for (const auto& [where, cells] : groups)
      if (std::any_of(cells.begin(), cells.end(),
                      [&](const IntegerCell& c) { return c.results.contains(m); }) &&
          std::find(models.begin(), models.end(), m) == models.end())
        models.push_back(m);
  std::vector<Grid> out;
  for (const auto& [where, cells] : groups) {
    out.push_back(accuracy_grid(cells, models, where));
    out.push_back(overflow_grid(cells, models, where));
  }
  return out;
}

}  // namespace qb::analysis
