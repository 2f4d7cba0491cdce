#include "analysis/results.h"

#include "engine/check.h"
#include "engine/io/hdf5.h"
#include "experiments/merge.h"
#include "experiments/results_columns.h"

#include <nlohmann/json.hpp>

#include <cmath>
#include <filesystem>
#include <limits>

namespace qb::analysis {

namespace {

// The ResultRow member each text and integer column of kResultsColumns lands in (nullptr: a
// column the analysis does not use); real columns land in ResultRow::values.
std::string* text_field(ResultRow& row, std::string_view name) {
  if (name == "key") return &row.key;
  if (name == "net") return &row.net;
  if (name == "method") return &row.method;
  if (name == "dataset") return &row.dataset;
  if (name == "granularity") return &row.granularity;
  if (name == "first_last") return &row.first_last;
  if (name == "options") return &row.options;
  if (name == "init") return &row.init;
  return nullptr;
}
// field = v when T holds v exactly; false otherwise (a damaged file can hold anything in an
// integer column, and converting what T cannot hold is undefined). double(max) + 1 is 2^31 or
// 2^63 exactly, the first value beyond T.
template <class T>
bool assign_integer(T& field, double v) {
  const bool fits = v >= double(std::numeric_limits<T>::min()) &&
                    v < double(std::numeric_limits<T>::max()) + 1.0 && v == std::trunc(v);
  if (fits) field = T(v);
  return fits;
}

// The integer field `name` of `row`; false when its type cannot hold v.
bool set_integer(ResultRow& row, std::string_view name, double v) {
  if (name == "wbits") return assign_integer(row.wbits, v);
  if (name == "abits") return assign_integer(row.abits, v);
  if (name == "gbits") return assign_integer(row.gbits, v);
  if (name == "seed") return assign_integer(row.seed, v);
  return true;
}

// The rows of a table with kResultsColumns' columns (/summary or /failed), `n` long.
std::vector<ResultRow> read_rows(const h5::Group& s, const std::string& path, std::size_t n) {
  auto sized = [&](const std::string& name, std::size_t size) {
    if (size != n)
      throw error(path, ": ", s.path(), "/", name, " has ", size, " rows, expected ", n);
  };
  // Sizes are checked against the key column before anything is allocated by `n`, which
  // comes from an attribute a damaged file may have wrong.
  sized("key", s.read_strings("key").size());
  std::vector<ResultRow> rows(n);
  for (const exp::ResultsColumn& col : exp::kResultsColumns.rows()) {
    const std::string c(col.name);
    if (col.optional && !s.has(c)) {  // a file merged before the column existed
      if (col.type == exp::ColumnType::real)
        for (auto& row : rows) row.values[c] = std::numeric_limits<double>::quiet_NaN();
      continue;
    }
    if (col.type == exp::ColumnType::text) {
      const auto v = s.read_strings(c);
      sized(c, v.size());
      for (std::size_t i = 0; i < n; ++i)
        if (std::string* field = text_field(rows[i], c)) *field = v[i];
      continue;
    }
    // int64 columns are read through HDF5's conversion to double: exact for bit-widths and seeds.
    const auto v = s.read_doubles(c);
    sized(c, v.size());
    for (std::size_t i = 0; i < n; ++i) {
      if (col.type == exp::ColumnType::integer) {
        if (!set_integer(rows[i], c, v[i]))  // found by fuzz_results
          throw error(path, ": ", s.path(), "/", c, " row ", i, " holds ", v[i],
                      ", not an integer its column can hold");
      } else
        rows[i].values[c] = v[i];
    }
  }
  return rows;
}

}  // namespace

Results read_results(const std::string& path) {
  if (!std::filesystem::exists(path)) throw error(path, ": no such file");
  h5::File f = h5::File::open_read(path);
  const h5::Group root = f.root();
  const std::string format = root.has_attr("format") ? root.attr_string("format") : "";
  if (format != "qbench-results")
    throw error(path, ": not a merged results file (@format is '", format,
                "', expected 'qbench-results'; make one with `qbench merge DIR -o FILE`)");
  const std::int64_t schema = root.attr_int("schema_version");
  if (schema != exp::kResultsSchema)
    throw error(path, ": results schema_version ", schema, " is not supported (this qbench reads ",
                exp::kResultsSchema, ")");

  Results r;
  r.path = path;
  r.sweep_name = root.attr_string("sweep_name");
  r.cells_expected = root.attr_int("cells_expected");
  r.cells_merged = root.attr_int("cells_merged");
  if (r.cells_merged < 0 || r.cells_expected < r.cells_merged)
    throw error(path, ": @cells_merged ", r.cells_merged, " is not within 0..@cells_expected ",
                r.cells_expected);
  r.rows = read_rows(root.open_group("summary"), path, std::size_t(r.cells_merged));
  if (root.has("failed")) {
    const h5::Group failed = root.open_group("failed");
    r.failed_reasons = failed.read_strings("reason");
    r.failed = read_rows(failed, path, r.failed_reasons.size());
  }
  return r;
}

std::map<std::string, CellDetails> read_details(const std::string& path,
                                                const std::vector<std::string>& keys) {
  h5::File f = h5::File::open_read(path);
  const h5::Group cells = f.root().open_group("cells");
  std::map<std::string, CellDetails> out;
  for (const auto& key : keys) {
    const h5::Group cell = cells.open_group(key);
    CellDetails d;
    if (cell.has("curves")) {
      const h5::Group curves = cell.open_group("curves");
      for (const auto& name : curves.children()) d.curves[name] = curves.read_doubles(name);
    }
    if (cell.has("summary")) {
      const auto summary = nlohmann::json::parse(cell.read_string("summary"), nullptr, false);
      if (summary.is_object()) d.parameters = summary.value("parameters", 0.0);
    }
    out[key] = std::move(d);
  }
  return out;
}

}  // namespace qb::analysis
