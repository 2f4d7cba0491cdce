// Plots of a table with gnuplot (analysis/gnuplot.h), written to DIR as
// <table name>-<plot>.{svg,png}:
//
//  * acc-vs-bits: the metric per column (bit-width) for each row (method), mean with the
//    seeds' std as error bars, the baseline as a dashed line;
//  * pareto: the metric against model size = weight bits × parameters (kbit; first/last-layer
//    and bias precision ignored), every table cell a point, the Pareto front as a line;
//  * curves: validation accuracy per fine-tuning epoch (mean over seeds), one panel per
//    column, one line per row;
//  * acc-vs-overflow, instead of the three above for a table whose columns name their own
//    metrics (spec.h): integer top-1 against overflow rate, one point per row and accumulator
//    model that has both an int_acc_<model> and an int_rate_<model> column.
//
// gnuplot reads the data inline from its script on stdin; nothing else is left behind.
#pragma once

#include "analysis/gnuplot.h"
#include "analysis/table.h"

#include <string>

namespace qb::analysis {

PlotOutcome write_plots(const Table& t, const Results& results, const std::string& dir);

}  // namespace qb::analysis
