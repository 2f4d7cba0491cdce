#include "experiments/merge.h"

#include "engine/check.h"
#include "engine/io/hdf5.h"
#include "experiments/store.h"

#include <nlohmann/json.hpp>

#include <filesystem>
#include <map>

namespace qb::exp {
namespace fs = std::filesystem;
using json = nlohmann::json;

MergeReport merge_results(const std::vector<std::string>& dirs, const std::string& out) {
  QB_CHECK(!dirs.empty());
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
  MergeReport rep;
  for (const auto& entry : sweep.at("cells")) {
    ++rep.expected;
    const std::string key = entry.at("key");
    for (const auto& d : dirs) {
      const std::string path = cell_path(d, key);
      if (!fs::exists(path)) continue;
      try {
        rows.push_back({path, read_cell(path, key)});
      } catch (const Error& e) {
        throw error(e.what(), " (run the sweep again: it redoes damaged cells)");
      }
      break;
    }
  }
  rep.merged = rows.size();

  h5::write_atomically(out, [&](h5::File& f) {
    h5::Group root = f.root();
    root.set_attr("format", std::string("qbench-results"));
    root.set_attr("schema_version", std::int64_t(kResultsSchema));
    root.set_attr("sweep_hash", sweep.value("hash", std::string()));
    root.set_attr("sweep_name", sweep.value("name", std::string()));
    root.set_attr("cells_expected", std::int64_t(rep.expected));
    root.set_attr("cells_merged", std::int64_t(rep.merged));
    root.write("sweep", sweep.dump());

    // Every column exists even with no rows, so readers need no special case.
    std::map<std::string, std::vector<std::string>> text;
    std::map<std::string, std::vector<std::int64_t>> ints;
    std::map<std::string, std::vector<double>> reals;
    for (const char* k : {"key", "net", "method", "dataset", "granularity", "first_last",
                          "options", "qbench_commit"})
      text[k];
    for (const char* k : {"wbits", "abits", "gbits", "seed", "threads"}) ints[k];
    for (const char* k : {"test_acc", "val_acc", "test_loss", "val_loss", "epochs", "seconds",
                          "train_seconds"})
      reals[k];
    for (const auto& [path, r] : rows) {
      const json& c = r.config;
      text["key"].push_back(r.key);
      text["net"].push_back(c.at("net"));
      text["method"].push_back(c.at("method"));
      text["dataset"].push_back(c.at("pretrain").at("dataset").at("name"));
      text["granularity"].push_back(c.at("granularity"));
      text["first_last"].push_back(c.at("first_last"));
      text["options"].push_back(c.at("options").dump());
      text["qbench_commit"].push_back(r.environment.value("qbench_commit", ""));
      for (const char* k : {"wbits", "abits", "gbits", "seed"}) ints[k].push_back(c.at(k));
      ints["threads"].push_back(r.environment.value("threads", 0));
      reals["test_acc"].push_back(r.test_accuracy);
      reals["val_acc"].push_back(r.val_accuracy);
      reals["test_loss"].push_back(r.test_loss);
      reals["val_loss"].push_back(r.val_loss);
      reals["epochs"].push_back(r.epochs);
      reals["seconds"].push_back(r.wall_seconds);
      reals["train_seconds"].push_back(r.train_seconds);
    }
    h5::Group summary = root.create_group("summary");
    summary.set_attr("rows", std::int64_t(rows.size()));
    for (const auto& [k, v] : text) summary.write_strings(k, v);
    for (const auto& [k, v] : ints) summary.write_ints(k, v);
    for (const auto& [k, v] : reals) summary.write_doubles(k, v);

    h5::Group cells = root.create_group("cells");
    for (const auto& [path, r] : rows) {
      h5::File src = h5::File::open_read(path);
      cells.copy_from(src.root(), r.key);
    }
  });
  return rep;
}

}  // namespace qb::exp
