// A sweep cell and its identity.
//
// A cell's key is content_key() of its canonical JSON (cell_json): everything that changes
// its result — dataset identity (name, limits, validation size; not the folder, so the same
// sweep keeps its keys on another machine), network (and its width, when not 1), seed, FP32
// recipe, method, settings, options, fine-tuning recipe, and where training starts (only when
// it is "scratch", so cells that fine-tune keep the keys they had before `init` existed). Thread
// count is not part of it (it is recorded per cell), nor are the accumulator models of the integer
// inference run after training: those results are derived from the trained checkpoint the cell
// keeps, so asking for more of them later adds them to a finished cell without training it again
// (experiments/cell_integer.h). Stored results are found by these keys: a change to what cell_json
// writes orphans them.
#pragma once

#include "engine/names.h"
#include "engine/optim.h"
#include "engine/train.h"
#include "integer/accumulator.h"
#include "methods/method.h"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace qb::exp {

// Where a cell's training starts. `fp32`: fine-tuning from the cached FP32 pretraining of its
// network and seed. `scratch`: from the network's random initialisation, no pretraining, with
// the config's FP32 recipe unless the method's own overrides it — how APT (issue 17) claims its
// accuracy, "without changing hyper parameters" of float training.
enum class Init { fp32, scratch };
inline constexpr Named<Init> kInitRows[] = {{"fp32", Init::fp32}, {"scratch", Init::scratch}};
inline constexpr NameTable<Named<Init>> kInits{"init", kInitRows};

// How a network is trained: FP32 pretraining, or a method's fine-tuning from it.
struct Recipe {
  std::size_t epochs = 3, batch = 128;
  OptimizerKind optimizer = OptimizerKind::sgd;
  ScheduleKind schedule = ScheduleKind::cosine;
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
  float width = 1.0f;  // the network's channel multiplier; part of the key only when not 1
  std::uint64_t seed = 1;
  Recipe fp32;  // the pretraining this cell fine-tunes from (unused from scratch)
  std::string method;
  QuantSettings quant;
  Init init = Init::fp32;
  Recipe recipe;
  std::string key;  // content_key(cell_json(*this))
  // content_key(fp32_json(*this)): the cached pretraining checkpoint; "" from scratch
  std::string fp32_key;
  // <method>/w<w>a<a>[g<g>]/<net>/<dataset>/s<seed>[/scratch], for people
  std::string name;
  // After training, integer-only inference of the test split under each of these (the
  // config's "integer": {"acc": [...]}); not part of the key.
  std::vector<integer::AccModel> integer_acc;
  std::size_t integer_simulate = 0;  // "integer": {"simulate": N}; integer/infer.h, 0: all
};

nlohmann::json to_json(const Recipe& r);
nlohmann::json dataset_identity(const DatasetSpec& d);
nlohmann::json cell_json(const Cell& c);  // canonical content of a cell (what its key hashes)
nlohmann::json fp32_json(const Cell& c);  // canonical content of its pretraining

// Fills key, fp32_key and name from the rest.
void set_identity(Cell& c);

// The training runs behind a cell (threads and file paths left to the caller); a cell from
// scratch has no pretraining to run.
TrainConfig fp32_train_config(const Cell& c);
TrainConfig cell_train_config(const Cell& c);

}  // namespace qb::exp
