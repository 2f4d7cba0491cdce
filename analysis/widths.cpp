#include "analysis/widths.h"

#include "engine/check.h"
#include "engine/io/hdf5.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <filesystem>
#include <sstream>

namespace qb::analysis {

namespace {

using json = nlohmann::json;

constexpr const char* kTensors[] = {"input", "weight", "grad"};
constexpr const char* kTensorTitles[] = {"input", "weights", "output gradient"};

// The width per epoch of one quantizer's stats, empty when they are not APT's.
std::vector<int> epoch_bits(const json& slot) {
  std::vector<int> bits;
  if (!slot.is_object() || !slot.contains("stats")) return bits;
  const json& stats = slot.at("stats");
  if (!stats.is_object() || !stats.contains("epochs") || !stats.contains("steps_at_bits"))
    return bits;
  for (const json& e : stats.at("epochs")) bits.push_back(e.at("bits").get<int>());
  return bits;
}

}  // namespace

std::vector<CellWidths> read_widths(const Results& results) {
  std::vector<CellWidths> out;
  h5::File f = h5::File::open_read(results.path);
  const h5::Group cells = f.root().open_group("cells");
  for (const ResultRow& r : results.rows) {
    const h5::Group cell = cells.open_group(r.key);
    if (!cell.has("layers")) continue;
    const json layers = json::parse(cell.read_string("layers"), nullptr, false);
    if (!layers.is_array()) throw error(results.path, ": /cells/", r.key, "/layers is not JSON");
    CellWidths c{r.key, r.method + "-" + r.net + "-s" + std::to_string(r.seed), {}};
    if (r.init != "fp32") c.label += "-" + r.init;
    for (const json& layer : layers)
      for (const char* tensor : kTensors) {
        if (!layer.contains(tensor)) continue;
        std::vector<int> bits = epoch_bits(layer.at(tensor));
        if (!bits.empty())
          c.tensors.push_back({layer.value("layer", "?"), tensor, std::move(bits)});
      }
    if (!c.tensors.empty()) out.push_back(std::move(c));
  }
  return out;
}

PlotOutcome write_width_plots(const Results& results, const std::string& dir) {
  PlotOutcome out;
  const std::vector<CellWidths> cells = read_widths(results);
  if (cells.empty()) return out;
  if (!gnuplot_available()) {
    out.skipped = "gnuplot not found (Debian: apt-get install gnuplot-nox): width plots skipped";
    return out;
  }
  std::filesystem::create_directories(dir);
  for (const CellWidths& c : cells) {
    std::vector<std::string> layers;  // in network order
    std::size_t epochs = 0;
    for (const TensorWidths& t : c.tensors) {
      if (std::find(layers.begin(), layers.end(), t.layer) == layers.end())
        layers.push_back(t.layer);
      epochs = std::max(epochs, t.bits.size());
    }
    std::ostringstream s;
    s << "set multiplot layout 1,3 title "
      << quoted("APT widths per layer over training: " + c.label)
      << "\nset xlabel 'epoch'\nset xrange [0.5:" << epochs + 0.5 << "]\nset yrange ["
      << layers.size() - 0.5 << ":-0.5]\nset cbrange [8:24]\nset cbtics (8, 16, 24)\n"
      << "set palette defined (8 '#c6dbef', 16 '#4292c6', 24 '#08306b')\nunset colorbox\n"
      << "set ytics (";
    for (std::size_t i = 0; i < layers.size(); ++i)
      s << (i ? ", " : "") << quoted(layers[i]) << " " << i;
    s << ") font ',8'\nset xtics 1\n";
    for (std::size_t k = 0; k < std::size(kTensors); ++k) {
      // One square per (epoch, layer); its width also written on it.
      s << "$w" << k << " << EOD\n";
      for (const TensorWidths& t : c.tensors) {
        if (t.tensor != kTensors[k]) continue;
        const auto row = std::find(layers.begin(), layers.end(), t.layer) - layers.begin();
        for (std::size_t e = 0; e < t.bits.size(); ++e)
          s << e + 1 << " " << row << " " << t.bits[e] << "\n";
      }
      s << "EOD\nset title " << quoted(kTensorTitles[k]) << "\n";
      if (k == std::size(kTensors) - 1) s << "set colorbox\n";
      s << "plot $w" << k << " using 1:2:3 with points pt 5 ps 2.5 lc palette notitle, $w" << k
        << " using 1:2:(sprintf('%d', int($3))) with labels font ',7' notitle\n";
      if (k == 0) s << "unset ytics\n";
    }
    s << "unset multiplot\n";
    const std::string stem = (std::filesystem::path(dir) / ("apt-widths-" + c.label)).string();
    const std::string height = std::to_string(std::max<std::size_t>(360, 60 + 22 * layers.size()));
    for (auto& file : run_gnuplot(s.str(), stem, "1200," + height)) out.files.push_back(file);
  }
  return out;
}

}  // namespace qb::analysis
