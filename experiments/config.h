// Sweep configs: one JSON file → a validated, ordered list of cells.
//
// A config names a dataset, networks, seeds, an FP32 pretraining recipe, and methods, each
// with its options, its fine-tuning recipe and its bit-width lists; the cells are the
// Cartesian product net × seed × method × wbits × abits × gbits × first_last × granularity,
// minus `exclude` rules, plus `include` rules (which excludes never remove). Example and every
// key: experiments/configs/README.md.
//
// Everything is checked before anything runs, methods through the registry (name, options,
// bit range, and a trial install of the quantizers into each network). Every problem is
// reported, one line each, naming its key path: `methods[2].options.eta: expected number,
// got string`; an unknown key suggests the nearest valid one.
//
// A cell's key is content_key() of its canonical JSON (cell_json): everything that changes
// its result — dataset identity (name, limits, validation size; not the folder, so the same
// sweep keeps its keys on another machine), network, seed, FP32 recipe, method, settings,
// options, fine-tuning recipe. Thread count is not part of it (it is recorded per cell).
#pragma once

#include "engine/train.h"
#include "methods/method.h"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace qb::exp {

constexpr int kConfigSchema = 1;

// How a network is trained: FP32 pretraining, or a method's fine-tuning from it.
struct Recipe {
  std::size_t epochs = 3, batch = 128;
  std::string optimizer = "sgd", schedule = "cosine";
  double lr = 0.005, momentum = 0.9, wd = 5e-4, warmup = 0;
};

struct DatasetSpec {
  std::string name = "fashion-mnist";
  std::string data_dir;  // empty: the dataset's default folder; not part of cell keys
  std::size_t train_limit = 0, test_limit = 0, val_size = 5000;
};

struct Cell {
  std::size_t index = 0;  // position in the sweep's expansion order
  DatasetSpec data;
  std::string net;
  std::uint64_t seed = 1;
  Recipe fp32;  // the pretraining this cell fine-tunes from
  std::string method;
  QuantSettings quant;
  Recipe recipe;
  std::string key;       // content_key(cell_json(*this))
  std::string fp32_key;  // content_key(fp32_json(*this)): the cached pretraining checkpoint
  std::string name;      // <method>/w<w>a<a>[g<g>]/<net>/<dataset>/s<seed>, for people
};

struct Sweep {
  std::string name;          // the config's "name" (informational)
  std::vector<Cell> cells;   // expansion order; keys unique
  std::string hash;          // content_key of the sorted cell keys: the sweep's identity
};

nlohmann::json to_json(const Recipe& r);
nlohmann::json dataset_identity(const DatasetSpec& d);
nlohmann::json cell_json(const Cell& c);  // canonical content of a cell (what its key hashes)
nlohmann::json fp32_json(const Cell& c);  // canonical content of its pretraining

// The training runs behind a cell (threads and file paths left to the caller).
TrainConfig fp32_train_config(const Cell& c);
TrainConfig cell_train_config(const Cell& c);

// Throws qb::Error with one line per problem (each "path: message").
Sweep parse_sweep(const nlohmann::json& config);
// Reads and parses a config file; problems are prefixed with the file name.
Sweep load_sweep(const std::string& path);

// Levenshtein distance, for "did you mean" suggestions.
std::size_t edit_distance(const std::string& a, const std::string& b);

}  // namespace qb::exp
