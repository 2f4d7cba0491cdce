// Mini-batches in a reproducible order.
//
// The order of epoch e is a Fisher–Yates shuffle drawn from derive_seed(seed, e) alone, and
// each image's augmentation (pad-4 random crop, horizontal flip; padding is 0, the mean after
// normalisation) from derive_seed(seed, e, position). So any epoch can be reproduced without
// stored state — resuming at an epoch boundary is bit-exact — and threads change nothing.
#pragma once

#include "engine/data/dataset.h"

#include <cstdint>
#include <vector>

namespace qb {

class BatchLoader {
 public:
  BatchLoader(const Dataset& data, std::size_t batch, bool shuffle, bool augment,
              std::uint64_t seed);

  void start_epoch(std::size_t epoch);
  std::size_t num_batches() const;  // the last one may be partial

  // Fills the next batch (shapes adjusted in place); false at the end of the epoch.
  bool next(Tensor& images, std::vector<std::int32_t>& labels);

 private:
  const Dataset& data_;
  std::size_t batch_;
  bool shuffle_, augment_;
  std::uint64_t seed_;
  std::size_t epoch_ = 0, pos_ = 0;
  std::vector<std::uint32_t> order_;
};

}  // namespace qb
