#include "experiments/store.h"

#include "engine/check.h"
#include "engine/io/atomic_file.h"
#include "engine/io/hdf5.h"
#include "engine/io/input_file.h"
#include "engine/io/json_parse.h"
#include "experiments/cell_integer.h"
#include "experiments/hash.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

namespace qb::exp {
namespace fs = std::filesystem;
using json = nlohmann::json;

std::string cell_path(const std::string& dir, const std::string& key) {
  return (fs::path(dir) / "cells" / (key + ".h5")).string();
}
std::string failed_cell_path(const std::string& dir, const std::string& key) {
  return (fs::path(dir) / "cells" / (key + ".failed.json")).string();
}

std::string fp32_path(const std::string& dir, const std::string& key) {
  return (fs::path(dir) / "fp32" / (key + ".h5")).string();
}
std::string qat_path(const std::string& dir, const std::string& key) {
  return (fs::path(dir) / "qat" / (key + ".h5")).string();
}

FileLock::FileLock(const std::string& dir, const std::string& name, bool blocking) {
  const std::string path = (fs::path(dir) / "locks" / (name + ".lock")).string();
  fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd_ < 0) throw error(path, ": cannot create lock file");
  owns_ = ::flock(fd_, LOCK_EX | (blocking ? 0 : LOCK_NB)) == 0;
}

FileLock::~FileLock() {
  if (fd_ >= 0) ::close(fd_);  // closing releases the lock
}

json read_sweep_record(const std::string& dir) {
  const std::string path = (fs::path(dir) / "sweep.json").string();
  if (!fs::exists(path))
    throw error(path, ": not found (is ", dir, " a qbench sweep results folder?)");
  check_input_file(path, "a sweep record");
  std::ifstream in(path);
  if (!in) throw error(path, ": cannot open the sweep record");
  try {
    return json::parse(in);
  } catch (const json::exception&) {
    throw error(path, ": damaged (not valid JSON)");
  }
}

namespace {

// A folder of an older qbench holds HDF5 files in a format readers now refuse; a sweep taking
// its finished cells for damaged ones would train them again over the stored results. So it
// stops before running anything, with the way out.
void refuse_older_hdf5(const std::string& dir) {
  std::size_t older = 0;
  std::string first;
  int first_version = 0;
  for (const char* sub : {"cells", "fp32", "qat"}) {
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(fs::path(dir) / sub, ec)) {
      if (e.path().extension() != ".h5" || !e.is_regular_file(ec)) continue;
      const int version = h5::superblock_version(e.path().string());
      if (version < 0 || version >= h5::kSuperblockVersion) continue;
      if (older++ == 0) {
        first = e.path().string();
        first_version = version;
      }
    }
  }
  if (older > 0)
    throw error(dir, ": ", older, " HDF5 file(s) of an older qbench (", first,
                " has superblock version ", first_version,
                "); nothing was run: upgrade them first with "
                "`find ",
                dir, " -name '*.h5' -exec qbench h5-upgrade {} +`");
}

}  // namespace

void prepare_results_dir(const std::string& dir, const Sweep& sweep, const json& config) {
  refuse_older_hdf5(dir);
  std::error_code ec;
  for (const char* sub : {"cells", "fp32", "qat", "locks"}) {
    fs::create_directories(fs::path(dir) / sub, ec);
    if (ec) throw error(dir, ": cannot create the results folder (", ec.message(), ")");
  }
  if (!folder_is_writable((fs::path(dir) / "cells").string()))
    throw error(dir, ": results folder is not writable");
  // Shards starting together must not both write sweep.json.
  FileLock lock(dir, "sweep", /*blocking=*/true);
  const std::string path = (fs::path(dir) / "sweep.json").string();
  if (fs::exists(path)) {
    const json old = read_sweep_record(dir);
    if (old.value("hash", "") != sweep.hash)
      throw error(dir, ": holds results of a different sweep ('", old.value("name", ""),
                  "', sweep hash ", old.value("hash", "?"), "; this config's is ", sweep.hash,
                  "): use another --out folder");
    return;
  }
  json cells = json::array();
  for (const Cell& c : sweep.cells)
    cells.push_back({{"key", c.key}, {"name", c.name}, {"fp32_key", c.fp32_key}});
  const json record = {{"format", "qbench-sweep"}, {"schema_version", 1},
                       {"name", sweep.name},       {"hash", sweep.hash},
                       {"cells", cells},           {"config", normalise_numbers(config)}};
  write_text_atomically(path, record.dump(2) + "\n");
}

void write_cell(const std::string& dir, const Cell& cell, const CellOutcome& o) {
  const json& s = o.summary;
  h5::write_atomically(cell_path(dir, cell.key), [&](h5::File& f) {
    h5::Group root = f.root();
    root.set_attr("format", std::string("qbench-cell"));
    root.set_attr("schema_version", std::int64_t(kCellSchema));
    root.set_attr("key", cell.key);
    root.set_attr("name", cell.name);
    root.write("config", canonical_dump(cell_json(cell)));
    root.write("environment", o.environment.dump());
    root.write("summary", s.dump());
    root.write("layers", s.value("layers", json::array()).dump());
    root.write("data_identity", s.value("data", std::string()));
    h5::Group m = root.create_group("metrics");
    m.write("test_accuracy", s.at("test_accuracy").get<double>());
    m.write("val_accuracy", s.at("val_accuracy").get<double>());
    m.write("test_loss", s.at("test_loss").get<double>());
    m.write("val_loss", s.at("val_loss").get<double>());
    m.write("epochs", double(s.at("history").size()));
    h5::Group t = root.create_group("timings");
    t.write("train_seconds", s.value("train_seconds", 0.0));
    t.write("wall_seconds", o.wall_seconds);
    h5::Group c = root.create_group("curves");
    for (const char* col : {"epoch", "lr", "train_loss", "train_accuracy", "val_loss",
                            "val_accuracy", "seconds", "images_per_second"}) {
      std::vector<double> v;
      for (const auto& e : s.at("history")) v.push_back(e.at(col).get<double>());
      c.write_doubles(col, v);
    }
    write_integer(root, o.integer);
  });
}

void write_failed_cell(const std::string& dir, const Cell& cell, const std::string& reason) {
  const json record = {{"format", "qbench-failed-cell"},
                       {"schema_version", kCellSchema},
                       {"key", cell.key},
                       {"name", cell.name},
                       {"config", cell_json(cell)},
                       {"reason", reason}};
  write_text_atomically(failed_cell_path(dir, cell.key), record.dump(2) + "\n");
}

FailedCell read_failed_cell(const std::string& path, const std::string& expected_key) {
  try {
    const json j = read_user_json(path, "failed-cell record");
    if (!j.is_object() || j.value("format", "") != "qbench-failed-cell")
      throw error(path, ": not a qbench failed-cell record");
    if (j.value("schema_version", 0) != kCellSchema)
      throw error(path, ": unknown schema_version ", j.value("schema_version", 0));
    FailedCell f{j.at("key").get<std::string>(), j.at("reason").get<std::string>(), j.at("config")};
    if (f.key != expected_key)
      throw error(path, ": holds cell ", f.key, ", expected ", expected_key);
    if (content_key(f.config) != f.key) throw error(path, ": config does not hash to its key");
    return f;
  } catch (const json::exception& e) {
    throw error(path, ": damaged failed-cell record (", e.what(), ")");
  }
}

CellRecord read_cell(const std::string& path, const std::string& expected_key) {
  try {
    h5::File f = h5::File::open_read(path);
    const h5::Group root = f.root();
    if (!root.has_attr("format") || root.attr_string("format") != "qbench-cell")
      throw error("not a qbench cell file");
    if (root.attr_int("schema_version") != kCellSchema)
      throw error("unknown schema_version ", root.attr_int("schema_version"));
    CellRecord r;
    r.key = root.attr_string("key");
    if (r.key != expected_key) throw error("holds cell ", r.key, ", expected ", expected_key);
    r.config = json::parse(root.read_string("config"));
    if (content_key(r.config) != r.key) throw error("config does not hash to its key");
    r.environment = json::parse(root.read_string("environment"));
    r.summary = json::parse(root.read_string("summary"));
    const json layers = json::parse(root.read_string("layers"));
    if (!r.summary.is_object() || !layers.is_array()) throw error("summary or layers malformed");
    const h5::Group m = root.open_group("metrics");
    r.test_accuracy = m.read_double("test_accuracy");
    r.val_accuracy = m.read_double("val_accuracy");
    r.test_loss = m.read_double("test_loss");
    r.val_loss = m.read_double("val_loss");
    r.epochs = m.read_double("epochs");
    const h5::Group t = root.open_group("timings");
    r.train_seconds = t.read_double("train_seconds");
    r.wall_seconds = t.read_double("wall_seconds");
    const h5::Group c = root.open_group("curves");
    for (const auto& name : c.children()) c.read_doubles(name);  // checksums verified
    r.integer = read_integer(root);
    return r;
  } catch (const json::exception& e) {
    throw error(path, ": damaged cell (bad JSON: ", e.what(), ")");
  } catch (const Error& e) {
    const std::string msg = e.what();
    // hdf5 wrapper messages already start with the path.
    throw error(msg.rfind(path, 0) == 0 ? msg : path + ": " + msg);
  }
}

}  // namespace qb::exp
