#include "experiments/merge.h"

#include "engine/check.h"
#include "engine/io/atomic_file.h"
#include "engine/io/hdf5.h"
#include "experiments/results_columns.h"
#include "experiments/store.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <filesystem>
#include <limits>
#include <map>

namespace qb::exp {
namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

// An integer-inference column, int_<quantity>_<model> (results_columns.h): the cell's value,
// NaN where it did not run that model or export refused it.
json integer_value(const CellRecord& r, std::string_view column) {
  if (column == "int_refused") {
    for (const auto& [model, result] : r.integer.items())
      if (result.contains("refused")) return result.at("refused");
    return "";
  }
  for (const std::string_view quantity : {"acc_", "agree_", "wrong_", "rate_", "mismatch_"}) {
    const std::string prefix = "int_" + std::string(quantity);
    if (column.substr(0, prefix.size()) != prefix) continue;
    std::string model(column.substr(prefix.size()));
    std::replace(model.begin(), model.end(), '_', '-');
    if (!r.integer.contains(model) || r.integer.at(model).contains("refused"))
      return std::numeric_limits<double>::quiet_NaN();
    const json& res = r.integer.at(model);
    if (quantity == "acc_") return res.at("accuracy");
    if (quantity == "agree_") return res.at("agreement").at("fraction");
    if (quantity == "mismatch_") return res.at("reference").at("mismatches").get<double>();
    double wrong = 0, dot_products = 0;
    for (const json& l : res.at("layers")) {
      wrong += l.value("wrong", 0.0);
      dot_products += l.value("dot_products", 0.0);
    }
    if (quantity == "wrong_") return wrong;
    return dot_products > 0 ? wrong / dot_products : std::numeric_limits<double>::quiet_NaN();
  }
  QB_CHECK(false);  // a column results_columns.h added without a value here
  return nullptr;
}

// apt_share_<bits>: the tensor-steps at `bits` over all tensor-steps of the cell's APT
// quantizers (their stats.steps_at_bits, methods/apt.h), NaN when it has none.
json apt_share(const CellRecord& r, std::string_view column) {
  const std::string bits(column.substr(std::string_view("apt_share_").size()));
  double at = 0, all = 0;
  const json none = json::array();
  const json& layers = r.summary.is_object() ? r.summary.value("layers", none) : none;
  for (const json& layer : layers)
    for (const char* slot : {"weight", "input", "grad"}) {
      if (!layer.contains(slot) || !layer.at(slot).contains("stats")) continue;
      const json& stats = layer.at(slot).at("stats");
      if (!stats.is_object() || !stats.contains("steps_at_bits")) continue;
      for (const auto& [width, steps] : stats.at("steps_at_bits").items()) {
        all += steps.get<double>();
        if (width == bits) at += steps.get<double>();
      }
    }
  return all > 0 ? at / all : std::numeric_limits<double>::quiet_NaN();
}

// A finished cell's value in one /summary column.
json column_value(const CellRecord& r, std::string_view column) {
  if (column.substr(0, 4) == "int_") return integer_value(r, column);
  if (column.substr(0, 10) == "apt_share_") return apt_share(r, column);
  if (column == "init") return r.config.value("init", "fp32");  // absent: fine-tuned
  const json& c = r.config;
  if (column == "key") return r.key;
  if (column == "dataset") return c.at("pretrain").at("dataset").at("name");
  if (column == "options") return c.at("options").dump();
  if (column == "qbench_commit") return r.environment.value("qbench_commit", "");
  if (column == "threads") return r.environment.value("threads", 0);
  if (column == "test_acc") return r.test_accuracy;
  if (column == "val_acc") return r.val_accuracy;
  if (column == "test_loss") return r.test_loss;
  if (column == "val_loss") return r.val_loss;
  if (column == "epochs") return r.epochs;
  if (column == "seconds") return r.wall_seconds;
  if (column == "train_seconds") return r.train_seconds;
  return c.at(std::string(column));  // net, method, granularity, first_last, bits, seed
}

// One table per column of kResultsColumns, each written even with no rows, so readers need no
// special case.
void write_columns(h5::Group& g, const std::vector<CellRecord>& rows) {
  for (const ResultsColumn& col : kResultsColumns.rows()) {
    std::vector<json> values;
    for (const auto& r : rows) values.push_back(column_value(r, col.name));
    const std::string name(col.name);
    switch (col.type) {
      case ColumnType::text:
        g.write_strings(name, std::vector<std::string>(values.begin(), values.end()));
        break;
      case ColumnType::integer:
        g.write_ints(name, std::vector<std::int64_t>(values.begin(), values.end()));
        break;
      case ColumnType::real:
        g.write_doubles(name, std::vector<double>(values.begin(), values.end()));
        break;
    }
  }
}

// A failed cell as a summary row: its configuration, every metric NaN.
CellRecord failed_row(const FailedCell& f) {
  CellRecord r;
  r.key = f.key;
  r.config = f.config;
  r.environment = json::object();  // it never ran to the end: no commit or threads recorded
  const double nan = std::numeric_limits<double>::quiet_NaN();
  r.test_accuracy = r.val_accuracy = r.test_loss = r.val_loss = nan;
  r.epochs = r.train_seconds = r.wall_seconds = nan;
  return r;
}

}  // namespace

MergeReport merge_results(const std::vector<std::string>& dirs, const std::string& out) {
  QB_CHECK(!dirs.empty());
  check_output_file(out, "an HDF5 file to write");
  const json sweep = read_sweep_record(dirs.front());
  for (const auto& d : dirs)
    if (read_sweep_record(d).value("hash", "") != sweep.value("hash", ""))
      throw error(d, ": holds a different sweep than ", dirs.front(), " (hashes ",
                  read_sweep_record(d).value("hash", "?"), " and ", sweep.value("hash", "?"), ")");

  // Rows in the sweep's expansion order; a cell found in several folders is taken once.
  struct Row {
    std::string path;
    CellRecord r;
  };
  std::vector<Row> rows;
  std::vector<CellRecord> failed;
  std::vector<std::string> reasons;
  MergeReport rep;
  for (const auto& entry : sweep.at("cells")) {
    ++rep.expected;
    const std::string key = entry.at("key");
    bool found = false;
    for (const auto& d : dirs) {
      const std::string path = cell_path(d, key);
      if (!fs::exists(path)) continue;
      try {
        rows.push_back({path, read_cell(path, key)});
      } catch (const Error& e) {
        throw error(e.what(), " (run the sweep again: it redoes damaged cells)");
      }
      found = true;
      break;
    }
    for (const auto& d : dirs) {
      const std::string path = failed_cell_path(d, key);
      if (found || !fs::exists(path)) continue;
      const FailedCell f = read_failed_cell(path, key);
      failed.push_back(failed_row(f));
      reasons.push_back(f.reason);
      break;
    }
  }
  rep.merged = rows.size();
  rep.failed = failed.size();

  h5::write_atomically(out, [&](h5::File& f) {
    h5::Group root = f.root();
    root.set_attr("format", std::string("qbench-results"));
    root.set_attr("schema_version", std::int64_t(kResultsSchema));
    root.set_attr("sweep_hash", sweep.value("hash", std::string()));
    root.set_attr("sweep_name", sweep.value("name", std::string()));
    root.set_attr("cells_expected", std::int64_t(rep.expected));
    root.set_attr("cells_merged", std::int64_t(rep.merged));
    root.write("sweep", sweep.dump());

    h5::Group summary = root.create_group("summary");
    summary.set_attr("rows", std::int64_t(rows.size()));
    std::vector<CellRecord> records;
    for (const auto& row : rows) records.push_back(row.r);
    write_columns(summary, records);
    // Failed cells: the summary's columns (metrics NaN) and why each failed.
    h5::Group fail = root.create_group("failed");
    fail.set_attr("rows", std::int64_t(failed.size()));
    write_columns(fail, failed);
    fail.write_strings("reason", reasons);

    h5::Group cells = root.create_group("cells");
    for (const auto& [path, r] : rows) {
      h5::File src = h5::File::open_read(path);
      cells.copy_from(src.root(), r.key);
    }
  });
  return rep;
}

}  // namespace qb::exp
