// APT's widths over training (methods/apt.h), read back from a merged results file: for each
// cell with APT quantizers, each layer's input, weights and output gradient and the width
// (8, 16, 24 bits) each held at the end of every epoch (the controller's stats "epochs" in
// /cells/<key>/layers, docs/results-format.md).
//
// Plotted by `qbench report RESULTS.h5 --plots DIR` as DIR/apt-widths-<cell>.{svg,png}: one
// panel per tensor (input, weights, gradient), epochs across, layers down (the first at the
// top), each square coloured by its width and labelled with it — where and when the controller
// widened a tensor.
#pragma once

#include "analysis/gnuplot.h"
#include "analysis/results.h"

#include <string>
#include <vector>

namespace qb::analysis {

struct TensorWidths {
  std::string layer, tensor;  // tensor: "input", "weight" or "grad"
  std::vector<int> bits;      // at the end of epoch 1, 2, ...
};

struct CellWidths {
  std::string key, label;             // label: "<method>-<net>-s<seed>[-scratch]", for file names
  std::vector<TensorWidths> tensors;  // layer by layer, input, weight, grad
};

// The cells of `results` whose layers hold APT statistics, in the file's order.
std::vector<CellWidths> read_widths(const Results& results);

// The plot of each, into `dir`.
PlotOutcome write_width_plots(const Results& results, const std::string& dir);

}  // namespace qb::analysis
