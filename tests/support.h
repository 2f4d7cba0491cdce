// What several test files need alike: a temporary folder, a training run killed after an epoch
// and resumed from its checkpoint, and seeded random tensors.
#pragma once

#include "engine/train.h"
#include "methods/qat.h"
#include "methods/registry.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

namespace qb::test {

// n draws of a standard normal from engine/rng.h's Rng(seed), as floats.
std::vector<float> normal_floats(std::size_t n, std::uint64_t seed);

// A fresh folder under the system's temporary directory, removed with its contents at the end
// of the scope. Named qbench-test-<pid>-<n>: the pid keeps apart the test cases CTest runs at
// once (one process each), n the folders of one process. Permissions are restored before the
// removal, so a test may make the folder read-only.
struct TempDir {
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::filesystem::path path;
};

// A short LeNet-5 run on the synthetic dataset: 2 epochs of batch 64 at lr 0.02, seed 5, 2
// threads (tests change what they need).
TrainConfig synthetic_lenet();

// The message of the exception that stands in for a kill: a throw from the epoch callback
// leaves on disk what SIGKILL would, the checkpoint of the last finished epoch.
inline constexpr const char* kSimulatedKill = "simulated kill";

// An epoch callback that throws std::runtime_error(kSimulatedKill) once `epoch` (1-based) ends.
std::function<void(const EpochRecord&)> kill_after_epoch(std::size_t epoch);

// Trains `cfg` quantized by `q` into `checkpoint`, killed after epoch `kill_after` (checked to
// throw), then resumes it from that checkpoint to the end; returns the resumed run's summary.
nlohmann::json train_killed_and_resumed(const TrainConfig& cfg, const QatConfig& q,
                                        std::size_t kill_after, const std::string& checkpoint);

// `method` (not fp32) at W4A4 or its nearest width, as bench_quantizers picks it (SYQ: ternary
// weights; APT: its narrowest, 8 bits, gradients included). Inline: the allocation tests' own
// executable does not link this file's definitions.
inline QatConfig low_bit_qat(const std::string& method) {
  QatConfig q{method, {}};
  const int lowest = make_method(method)->info().min_bits;
  q.settings.wbits = q.settings.abits = std::max(4, lowest);
  if (method == "syq") q.settings.wbits = 2;
  if (method == "apt") q.settings.gbits = lowest;
  return q;
}

}  // namespace qb::test
