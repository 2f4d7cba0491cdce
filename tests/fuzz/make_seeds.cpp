// Writes the binary seeds of the fuzz harnesses into the folder given as argument, from the
// writers of the tree (so the seeds follow the formats): IDX files plain and gzip, a CIFAR
// batch, a small checkpoint, a cell file and a merged results file. scripts/fuzz runs it; the
// JSON seeds are committed in corpus/.
#include "engine/checkpoint.h"
#include "engine/data/cifar.h"
#include "experiments/config.h"
#include "experiments/merge.h"
#include "experiments/store.h"

#include <zlib.h>
#include <xtensor/xbuilder.hpp>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>

namespace fs = std::filesystem;
using Bytes = std::vector<std::uint8_t>;

namespace {

void write_file(const fs::path& p, const Bytes& b) {
  fs::create_directories(p.parent_path());
  std::ofstream(p, std::ios::binary)
      .write(reinterpret_cast<const char*>(b.data()), std::streamsize(b.size()));
}

void write_gzip(const fs::path& p, const Bytes& b) {
  fs::create_directories(p.parent_path());
  gzFile gz = gzopen(p.c_str(), "wb9");
  gzwrite(gz, b.data(), unsigned(b.size()));
  gzclose(gz);
}

Bytes idx(const std::vector<std::uint32_t>& dims) {
  Bytes b = {0, 0, 8, std::uint8_t(dims.size())};
  std::size_t n = 1;
  for (std::uint32_t d : dims) {
    for (int s = 24; s >= 0; s -= 8) b.push_back(std::uint8_t(d >> s));
    n *= d;
  }
  for (std::size_t i = 0; i < n; ++i) b.push_back(std::uint8_t(i * 37));
  return b;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: make_seeds DIR\n";
    return 2;
  }
  const fs::path dir = argv[1];
  const Bytes labels = idx({6}), images = idx({2, 3, 4});
  write_file(dir / "fuzz_idx/labels.idx", labels);
  write_file(dir / "fuzz_idx/images.idx", images);
  write_gzip(dir / "fuzz_idx/labels.idx.gz", labels);
  write_gzip(dir / "fuzz_idx/images.idx.gz", images);
  write_file(dir / "fuzz_idx_gzip/labels.idx", labels);
  write_file(dir / "fuzz_idx_gzip/images.idx", images);

  Bytes cifar;
  for (int r = 0; r < 2; ++r) {
    cifar.push_back(std::uint8_t(r * 7));
    for (std::size_t i = 0; i < 3072; ++i) cifar.push_back(std::uint8_t(i + r));
  }
  write_file(dir / "fuzz_cifar/two.bin", cifar);

  qb::Checkpoint ck;
  ck.params["conv.weight"] = xt::ones<float>({2, 1, 2, 2});
  ck.buffers["bn.running_mean"] = xt::zeros<float>({2});
  ck.optimizer["momentum/conv.weight"] = xt::ones<float>({2, 1, 2, 2});
  ck.scalars["epoch"] = 1;
  ck.strings["run"] = R"({"net":"lenet5"})";
  fs::create_directories(dir / "fuzz_checkpoint");
  qb::save_checkpoint((dir / "fuzz_checkpoint/small.h5").string(), ck);

  // One fp32 cell with a made-up outcome, then its sweep merged.
  const nlohmann::json config = nlohmann::json::parse(R"({
    "schema": 1, "name": "seed", "dataset": {"name": "synthetic"}, "networks": ["lenet5"],
    "seeds": [1], "fp32": {"epochs": 1, "lr": 0.05}, "finetune": {"epochs": 1, "lr": 0.01},
    "wbits": [32], "abits": [32], "methods": [{"name": "fp32"}]})");
  const qb::exp::Sweep sweep = qb::exp::parse_sweep(config);
  const fs::path sweep_dir = dir / "sweep";
  qb::exp::prepare_results_dir(sweep_dir.string(), sweep, config);
  qb::exp::CellOutcome o;
  const nlohmann::json epoch = {
      {"epoch", 1},      {"lr", 0.05},           {"train_loss", 0.5}, {"train_accuracy", 0.8},
      {"val_loss", 0.6}, {"val_accuracy", 0.78}, {"seconds", 1.0},    {"images_per_second", 100.0}};
  o.summary = {{"history", {epoch}}, {"test_accuracy", 0.77}, {"val_accuracy", 0.78},
               {"test_loss", 0.6},   {"val_loss", 0.6},       {"train_seconds", 1.0}};
  o.environment = {{"threads", 1}};
  qb::exp::write_cell(sweep_dir.string(), sweep.cells.at(0), o);
  fs::create_directories(dir / "fuzz_cell");
  fs::copy_file(qb::exp::cell_path(sweep_dir.string(), sweep.cells.at(0).key),
                dir / "fuzz_cell/fp32.h5", fs::copy_options::overwrite_existing);
  fs::create_directories(dir / "fuzz_results");
  qb::exp::merge_results({sweep_dir.string()}, (dir / "fuzz_results/merged.h5").string());
  fs::remove_all(sweep_dir);
  return 0;
}
