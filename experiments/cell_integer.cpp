#include "experiments/cell_integer.h"

#include "engine/check.h"
#include "experiments/environment.h"
#include "integer/infer.h"

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <filesystem>

namespace qb::exp {
using json = nlohmann::json;

json run_integer(const Cell& c, const std::string& checkpoint,
                 const std::vector<integer::AccModel>& models, int threads, Progress& progress) {
  json out = json::object();
  if (models.empty()) return out;
  if (!std::filesystem::exists(checkpoint)) {
    // train() writes one after each epoch, and after a run of 0 epochs; a cell without one
    // (a qbench before 0-epoch runs kept theirs) cannot be exported.
    for (const integer::AccModel m : models)
      out[integer::acc_model_name(m)] = {{"acc", integer::acc_model_name(m)},
                                         {"refused", "no checkpoint of the cell to export"}};
    return out;
  }
  integer::InferConfig cfg;
  cfg.checkpoint = checkpoint;
  cfg.dataset = c.data.name;
  cfg.data_dir = c.data.data_dir;
  cfg.test_limit = c.data.test_limit;  // the cell's own test split
  cfg.threads = threads;
  cfg.simulate_limit = c.integer_simulate;
  json names = json::array();
  for (const integer::AccModel m : models) names.push_back(integer::acc_model_name(m));
  progress.line("integer inference of " + c.name + ", accumulators " + names.dump());
  const auto t0 = std::chrono::steady_clock::now();
  try {
    // All models in one pass: the checkpoint, data, fake-quant network and simulation once.
    std::vector<json> rs = integer::infer_models(cfg, models, progress);
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    // Integer results may be added to a cell later than its training, by another qbench.
    const std::string commit = environment(threads).value("qbench_commit", "");
    for (json& r : rs) {
      r["seconds"] = seconds;
      r["computed_with"] = names;  // "seconds" is the wall time of these models together
      r["qbench_commit"] = commit;
      const std::string name = r.at("acc").get<std::string>();  // before r is moved from
      out[name] = std::move(r);
    }
  } catch (const Error& e) {
    // What export cannot represent (the same for every model): the line `qbench infer` prints.
    for (const integer::AccModel m : models)
      out[integer::acc_model_name(m)] = {{"acc", integer::acc_model_name(m)},
                                         {"refused", e.what()}};
    progress.line(c.name + ": integer inference refused: " + e.what());
  }
  return out;
}

std::vector<integer::AccModel> missing_integer(const Cell& c, const json& results) {
  std::vector<integer::AccModel> out;
  for (const integer::AccModel m : c.integer_acc)
    if (!results.contains(integer::acc_model_name(m))) out.push_back(m);
  return out;
}

void write_integer(h5::Group& root, const json& results) {
  if (results.empty()) return;
  h5::Group g = root.create_group("integer");
  for (const auto& [name, r] : results.items()) {
    h5::Group m = g.create_group(name);
    m.write("result", r.dump());
    if (r.contains("refused")) {
      m.write("refused", r.at("refused").get<std::string>());
      continue;
    }
    m.write("accuracy", r.at("accuracy").get<double>());
    m.write("fake_quant_accuracy", r.at("fake_quant_accuracy").get<double>());
    m.write("agreement", r.at("agreement").at("fraction").get<double>());
    m.write("mismatches", r.at("reference").at("mismatches").get<double>());
    // Per exported int8 layer (max pooling and fp32 layers have no dot products).
    std::vector<std::string> layer;
    std::vector<std::int64_t> dot_products, wrong, max_abs_sum;
    for (const json& l : r.at("layers")) {
      if (!l.contains("dot_products")) continue;
      layer.push_back(l.at("layer").get<std::string>());
      dot_products.push_back(l.at("dot_products").get<std::int64_t>());
      wrong.push_back(l.at("wrong").get<std::int64_t>());
      max_abs_sum.push_back(l.at("max_abs_sum").get<std::int64_t>());
    }
    std::int64_t wrong_total = 0;
    for (std::int64_t w : wrong) wrong_total += w;
    m.write("wrong", double(wrong_total));
    m.write("max_abs_sum", double(max_abs_sum.empty()
                                      ? 0
                                      : *std::max_element(max_abs_sum.begin(), max_abs_sum.end())));
    h5::Group l = m.create_group("layers");
    l.write_strings("layer", layer);
    l.write_ints("dot_products", dot_products);
    l.write_ints("wrong", wrong);
    l.write_ints("max_abs_sum", max_abs_sum);
  }
}

json read_integer(const h5::Group& root) {
  json out = json::object();
  if (!root.has("integer")) return out;
  const h5::Group g = root.open_group("integer");
  for (const std::string& name : g.children()) {
    const h5::Group m = g.open_group(name);
    json r;
    try {
      r = json::parse(m.read_string("result"));
    } catch (const json::exception&) {
      throw error("/integer/", name, "/result: not JSON");
    }
    if (!r.is_object() || r.value("acc", "") != name)
      throw error("/integer/", name, "/result: holds no result of accumulator model ", name);
    if (!r.contains("refused")) {
      for (const char* scalar :
           {"accuracy", "fake_quant_accuracy", "agreement", "mismatches", "wrong", "max_abs_sum"})
        m.read_double(scalar);
      const h5::Group l = m.open_group("layers");
      for (const char* column : {"dot_products", "wrong", "max_abs_sum"}) l.read_doubles(column);
    }
    out[name] = std::move(r);
  }
  return out;
}

}  // namespace qb::exp
