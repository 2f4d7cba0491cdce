// Running gnuplot (Debian gnuplot-nox) for the report's plots: each plot is written as SVG and
// PNG (pngcairo when gnuplot has it, else png) from one script, its data inline, so nothing
// else is left behind. Shared by the table plots (plots.h) and APT's width plots (widths.h).
#pragma once

#include <string>
#include <vector>

namespace qb::analysis {

struct PlotOutcome {
  std::vector<std::string> files;  // written
  std::string skipped;             // why nothing was written (no gnuplot), else empty
};

bool gnuplot_available();

// A gnuplot single-quoted string ('' is a quote inside one).
std::string quoted(const std::string& s);

// Feeds `script` to gnuplot once per terminal, writing <stem>.svg and <stem>.png at `size`
// ("900,540"); returns the files written. Throws qb::Error with gnuplot's first complaint when
// it fails.
std::vector<std::string> run_gnuplot(const std::string& script, const std::string& stem,
                                     const std::string& size);

}  // namespace qb::analysis
