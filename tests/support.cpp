#include "tests/support.h"

#include "engine/rng.h"

#include <unistd.h>
#include <catch2/catch.hpp>

#include <stdexcept>

namespace qb::test {

std::vector<float> normal_floats(std::size_t n, std::uint64_t seed) {
  Rng rng(seed);
  std::vector<float> v(n);
  for (float& f : v) f = float(rng.normal());
  return v;
}

namespace fs = std::filesystem;

namespace {

std::filesystem::path fresh_temp_path() {
  static int made = 0;
  return fs::temp_directory_path() /
         ("qbench-test-" + std::to_string(::getpid()) + "-" + std::to_string(made++));
}

}  // namespace

TempDir::TempDir() : path(fresh_temp_path()) { fs::create_directories(path); }

TempDir::~TempDir() {
  std::error_code ignored;  // a destructor must not throw; a leftover folder is harmless
  fs::permissions(path, fs::perms::owner_all, ignored);
  fs::remove_all(path, ignored);
}

TrainConfig synthetic_lenet() {
  TrainConfig c;
  c.net = "lenet5";
  c.dataset = "synthetic";
  c.epochs = 2;
  c.batch = 64;
  c.opt.lr = 0.02f;
  c.threads = 2;
  c.seed = 5;
  return c;
}

std::function<void(const EpochRecord&)> kill_after_epoch(std::size_t epoch) {
  return [epoch](const EpochRecord& r) {
    if (r.epoch == epoch) throw std::runtime_error(kSimulatedKill);
  };
}

nlohmann::json train_killed_and_resumed(const TrainConfig& cfg, const QatConfig& q,
                                        std::size_t kill_after, const std::string& checkpoint) {
  Progress quiet = Progress::silent();
  TrainConfig first = cfg;
  first.out = checkpoint;
  TrainExtensions ext = make_qat(q);
  ext.on_epoch_end = kill_after_epoch(kill_after);
  CHECK_THROWS_WITH(train(first, quiet, ext), kSimulatedKill);
  TrainConfig resumed = cfg;
  resumed.resume = checkpoint;
  return train(resumed, quiet, make_qat(q));
}

}  // namespace qb::test
