// Integer-only inference of a sweep cell, and where its results sit in the cell's HDF5 file
// (docs/results-format.md, "Integer inference").
//
// After a cell trains, the QAT checkpoint it keeps (DIR/qat/<key>.h5) goes through
// integer/infer.h on the cell's own test split, once per accumulator model the sweep asks for:
// the integer engine, the exact simulation beside it (so every result also says how many images
// the engine got different from the simulation: 0 is the proof) and the fake-quant network.
// What integer/export.h refuses (a method, option or layer it cannot represent) is a result
// too: that model's entry holds the one-line reason instead of numbers, so a sweep of every
// method finishes and a table shows the gap.
#pragma once

#include "engine/io/hdf5.h"
#include "engine/progress.h"
#include "experiments/cell.h"
#include "integer/accumulator.h"

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

namespace qb::exp {

// {model name: result}; a result is integer::infer_models()'s JSON plus "seconds" (the wall
// time of all the models computed together, named in "computed_with"), or {"acc": name,
// "refused": reason}. The models are computed in one pass (integer/infer.h).
nlohmann::json run_integer(const Cell& c, const std::string& checkpoint,
                           const std::vector<integer::AccModel>& models, int threads,
                           Progress& progress);

// The models of c.integer_acc that `results` ({model name: result}) does not hold yet.
std::vector<integer::AccModel> missing_integer(const Cell& c, const nlohmann::json& results);

// /integer/<model>/... of a cell file; nothing is written for an empty `results`.
void write_integer(h5::Group& cell_root, const nlohmann::json& results);
// What write_integer wrote ({} when the cell has no /integer), every dataset read (checksums
// verified). Throws qb::Error naming the object when something is off.
nlohmann::json read_integer(const h5::Group& cell_root);

}  // namespace qb::exp
