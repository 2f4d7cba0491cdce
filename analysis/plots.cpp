#include "analysis/plots.h"

#include "analysis/gnuplot.h"
#include "engine/check.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <map>
#include <sstream>

namespace qb::analysis {
namespace fs = std::filesystem;

namespace {

const char* const kStyle =
    "set grid ytics lc rgb '#dddddd'\n"
    "set key outside right top\n"
    "set border 3\nset tics nomirror\n";

bool higher_is_better(const Table& t) { return t.spec.metric.scale == 100; }

// Plot 4 (tables whose columns name their own metrics): for each accumulator model M with both
// an int_acc_M and an int_rate_M column, one point per row at (overflow rate, integer top-1),
// the point type the model's, the colour the row's. Nothing when no such pair exists.
std::vector<std::string> accuracy_vs_overflow(const Table& t, const std::string& base) {
  const auto& cols = t.spec.columns;
  struct Pair {
    std::string model;
    std::size_t acc, rate;
  };
  std::vector<Pair> pairs;
  const std::string acc_prefix = "int_acc_", rate_prefix = "int_rate_";
  for (std::size_t a = 0; a < cols.size(); ++a) {
    const std::string& ca = t.spec.metric_of(a).column;
    if (ca.rfind(acc_prefix, 0) != 0) continue;
    std::string model = ca.substr(acc_prefix.size());
    for (std::size_t r = 0; r < cols.size(); ++r)
      if (t.spec.metric_of(r).column == rate_prefix + model) {
        std::replace(model.begin(), model.end(), '_', '-');  // the model's own name
        pairs.push_back({model, a, r});
        break;
      }
  }
  if (pairs.empty()) return {};
  std::ostringstream s;
  s << kStyle << "set title " << quoted(t.spec.name + ": integer top-1 vs overflow rate")
    << "\nset xlabel 'overflow rate (% of dot products, mean over seeds)'\n"
    << "set ylabel 'integer top-1 (%)'\nset key outside right top\n";
  std::ostringstream plot;
  std::size_t series = 0;
  for (std::size_t p = 0; p < pairs.size(); ++p)
    for (std::size_t r = 0; r < t.spec.rows.size(); ++r) {
      const Aggregate &acc = t.cells[r][pairs[p].acc], &rate = t.cells[r][pairs[p].rate];
      if (acc.missing() || rate.missing()) continue;
      s << "$o" << p << "_" << r << " << EOD\n" << rate.mean << " " << acc.mean << "\nEOD\n";
      plot << (series++ ? ", " : "") << "$o" << p << "_" << r << " with points lt " << r + 1
           << " pt " << 4 + 2 * p << " ps 1.6 title "
           << quoted(t.spec.rows[r].label + ", " + pairs[p].model);
    }
  if (!series) return {};
  s << "plot " << plot.str() << "\n";
  return run_gnuplot(s.str(), base + "-acc-vs-overflow", "1100,600");
}

}  // namespace

PlotOutcome write_plots(const Table& t, const Results& results, const std::string& dir) {
  PlotOutcome out;
  if (!gnuplot_available()) {
    out.skipped = "gnuplot not found (Debian: apt-get install gnuplot-nox): plots skipped";
    return out;
  }
  fs::create_directories(dir);
  const std::string base = (fs::path(dir) / t.spec.name).string();
  const auto& rows = t.spec.rows;
  const auto& cols = t.spec.columns;
  const std::string ylabel = t.spec.metric.name;
  std::map<std::string, const ResultRow*> by_key;
  for (const auto& r : results.rows) by_key[r.key] = &r;
  // Columns of different quantities: plots 1-3 (one metric along bit-widths) do not apply.
  if (t.spec.has_column_metrics()) {
    out.files = accuracy_vs_overflow(t, base);
    return out;
  }

  // Only the baseline so far (a sweep under way): nothing for a line, and gnuplot would refuse
  // an empty plot command.
  const bool any = std::any_of(t.cells.begin(), t.cells.end(), [](const auto& row) {
    return std::any_of(row.begin(), row.end(), [](const auto& a) { return !a.missing(); });
  });
  if (!any) {
    out.skipped = t.spec.name + ": no cell beside the baseline yet: plots skipped";
    return out;
  }

  // 1. The metric against the columns (bit-widths), one line per row, error bars = std.
  // When one collapse (a method at chance) stretches the axis over more than 10 points, a
  // second panel zooms on the top 10 so the close race near the baseline stays readable.
  {
    double lo = 1e300, hi = -1e300;
    for (const auto& row : t.cells)
      for (const auto& a : row)
        if (!a.missing()) lo = std::min(lo, a.mean), hi = std::max(hi, a.mean);
    if (!t.baseline.missing()) hi = std::max(hi, t.baseline.mean);
    const bool zoom = higher_is_better(t) && hi - lo > 10;
    std::ostringstream s;
    s << kStyle << "set ylabel " << quoted(ylabel) << "\nset xrange [-0.5:" << cols.size() - 0.5
      << "]\nset xtics (";
    for (std::size_t c = 0; c < cols.size(); ++c)
      s << (c ? ", " : "") << quoted(cols[c].label) << " " << c;
    s << ")\n";
    for (std::size_t r = 0; r < rows.size(); ++r) {
      s << "$d" << r << " << EOD\n";
      for (std::size_t c = 0; c < cols.size(); ++c)
        if (!t.cells[r][c].missing())
          s << c << " " << t.cells[r][c].mean << " " << t.cells[r][c].std << "\n";
      s << "EOD\n";
    }
    std::ostringstream plot;
    plot << "plot ";
    for (std::size_t r = 0; r < rows.size(); ++r)
      plot << (r ? ", " : "") << "$d" << r << " using 1:2:3 with yerrorlines lt " << r + 1
           << " lw 2 pt 7 title " << quoted(rows[r].label);
    if (!t.baseline.missing())
      plot << ", " << t.baseline.mean << " with lines dt 2 lc rgb 'black' title "
           << quoted(t.spec.baseline->label + " baseline");
    plot << "\n";
    const std::string title = t.spec.name + ": " + ylabel + " (mean ± std over seeds)";
    if (zoom) {
      s << "set multiplot layout 1,2 title " << quoted(title) << "\n"
        << "set title 'all'\nunset key\n"
        << plot.str() << "set title 'zoom: top 10 points'\nset key outside right top\nset yrange ["
        << hi - 10 << ":" << hi + 1 << "]\n"
        << plot.str() << "unset multiplot\n";
    } else {
      s << "set title " << quoted(title) << "\n" << plot.str();
    }
    for (auto& f : run_gnuplot(s.str(), base + "-acc-vs-bits", zoom ? "1300,540" : "900,540"))
      out.files.push_back(f);
  }

  // 2. The metric against model size (weight bits × parameters), with the Pareto front.
  std::vector<std::string> keys;
  for (const auto& row : t.cells)
    for (const auto& a : row) keys.insert(keys.end(), a.keys.begin(), a.keys.end());
  keys.insert(keys.end(), t.baseline.keys.begin(), t.baseline.keys.end());
  const auto details = read_details(results.path, keys);
  struct Point {
    double size, value;
    std::size_t row;
  };
  std::vector<Point> points;
  auto size_of = [&](const Aggregate& a) {
    const ResultRow& r = *by_key.at(a.keys.front());
    return r.wbits * details.at(a.keys.front()).parameters / 1000.0;
  };
  for (std::size_t r = 0; r < rows.size(); ++r)
    for (std::size_t c = 0; c < cols.size(); ++c)
      if (!t.cells[r][c].missing())
        points.push_back({size_of(t.cells[r][c]), t.cells[r][c].mean, r});
  if (!t.baseline.missing()) points.push_back({size_of(t.baseline), t.baseline.mean, rows.size()});
  {
    // Front: walking up in size, keep each point that beats every smaller one.
    std::vector<Point> sorted = points;
    const bool up = higher_is_better(t);
    std::sort(sorted.begin(), sorted.end(), [&](const Point& a, const Point& b) {
      return a.size != b.size ? a.size < b.size : (up ? a.value > b.value : a.value < b.value);
    });
    std::vector<Point> front;
    for (const auto& p : sorted)
      if (front.empty() || (up ? p.value > front.back().value : p.value < front.back().value))
        front.push_back(p);
    std::ostringstream s;
    s << kStyle << "set title " << quoted(t.spec.name + ": " + ylabel + " vs model size")
      << "\nset xlabel 'model size: weight bits x parameters (kbit)'\nset ylabel " << quoted(ylabel)
      << "\nset logscale x 2\n";
    for (std::size_t r = 0; r <= rows.size(); ++r) {
      s << "$p" << r << " << EOD\n";
      for (const auto& p : points)
        if (p.row == r) s << p.size << " " << p.value << "\n";
      s << "EOD\n";
    }
    s << "$front << EOD\n";
    for (const auto& p : front) s << p.size << " " << p.value << "\n";
    s << "EOD\nplot $front with steps lw 2 lc rgb '#888888' title 'Pareto front'";
    for (std::size_t r = 0; r < rows.size(); ++r)
      s << ", $p" << r << " with points lt " << r + 1 << " pt 7 ps 1.5 title "
        << quoted(rows[r].label);
    if (!t.baseline.missing())
      s << ", $p" << rows.size() << " with points pt 5 ps 1.5 lc rgb 'black' title "
        << quoted(t.spec.baseline->label + " baseline");
    s << "\n";
    for (auto& f : run_gnuplot(s.str(), base + "-pareto", "900,540")) out.files.push_back(f);
  }

  // 3. Training curves: validation accuracy per epoch, one panel per column.
  {
    const std::size_t ncol = std::min<std::size_t>(cols.size(), 4);
    const std::size_t nrow = (cols.size() + ncol - 1) / ncol;
    std::ostringstream s;
    s << "set grid ytics lc rgb '#dddddd'\nset border 3\nset tics nomirror\n"
      << "set multiplot layout " << nrow << "," << ncol << " title "
      << quoted(t.spec.name + ": validation accuracy (%) per fine-tuning epoch, mean over seeds")
      << "\nset key below maxcols 2 font ',8'\nset xlabel 'epoch'\nset xtics 1\n";
    for (std::size_t c = 0; c < cols.size(); ++c) {
      std::ostringstream plot;
      std::size_t lines = 0;
      for (std::size_t r = 0; r < rows.size(); ++r) {
        const Aggregate& a = t.cells[r][c];
        if (a.missing()) continue;
        std::vector<double> sum;
        for (const auto& k : a.keys) {
          const auto& curves = details.at(k).curves;
          if (!curves.count("val_accuracy")) continue;
          const auto& v = curves.at("val_accuracy");
          if (sum.size() < v.size()) sum.resize(v.size(), 0.0);
          for (std::size_t e = 0; e < v.size(); ++e) sum[e] += 100 * v[e] / double(a.keys.size());
        }
        if (sum.empty()) continue;
        s << "$c" << c << "_" << r << " << EOD\n";
        for (std::size_t e = 0; e < sum.size(); ++e) s << e + 1 << " " << sum[e] << "\n";
        s << "EOD\n";
        plot << (lines++ ? ", " : "") << "$c" << c << "_" << r << " with linespoints lt " << r + 1
             << " lw 2 pt 7 title " << quoted(rows[r].label);
      }
      s << "set title " << quoted(cols[c].label) << "\n";
      if (lines)
        s << "plot " << plot.str() << "\n";
      else  // an empty panel keeps the grid's layout
        s << "set label 1 'no cells' at graph 0.4,0.5\nplot [0:1][0:1] NaN notitle\n"
          << "unset label 1\n";
    }
    s << "unset multiplot\n";
    const std::string size = std::to_string(360 * ncol) + "," + std::to_string(400 * nrow);
    for (auto& f : run_gnuplot(s.str(), base + "-curves", size)) out.files.push_back(f);
  }
  return out;
}

}  // namespace qb::analysis
