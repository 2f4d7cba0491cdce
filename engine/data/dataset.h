// Datasets: images as float32 [N, C, H, W], labels as bytes, split three ways.
//
//   fashion-mnist  IDX .gz files of Debian's `dataset-fashion-mnist`
//                  (default /usr/share/datasets/fashion-mnist; --data-dir overrides)
//   cifar10        CIFAR-10 binary batches (data_batch_1..5.bin, test_batch.bin) from a folder
//                  the user gives; nothing is downloaded
//   synthetic      10 classes of 1×28×28 pattern images with noise, generated from a seed;
//                  small (2,000 / 500 / 500) and learnable, for tests
//
// Splits: the LAST `val_size` images of the official training set are held out for
// validation (tuning); the official test set is used only for final numbers. Pixels are
// scaled to [0, 1] and then normalised per channel with the mean and standard deviation of
// the training split (after the hold-out), applied alike to all three splits.
#pragma once

#include "engine/names.h"
#include "engine/tensor.h"

#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace qb {

struct Dataset {
  std::string name;
  Tensor images;  // [N, C, H, W], normalised
  std::vector<std::uint8_t> labels;
  std::size_t num_classes = 10;

  std::size_t size() const { return labels.size(); }
  Shape sample_shape() const;  // [C, H, W]
};

struct DataOptions {
  std::string dir;              // empty: the dataset's default
  std::size_t val_size = 5000;  // synthetic: at most 500 of its 2,500 training images
  std::size_t train_limit = 0;  // keep only the first N training images (0: all)
  std::size_t test_limit = 0;   // keep only the first N test images (0: all)
};

struct DataSplits {
  Dataset train, val, test;
  std::string identity;  // stable description: name, folder, split sizes (keys cached results)
  bool augment = false;  // random crop + flip while training (CIFAR-10)
  // Per channel, the normalisation applied to all three splits: x = (pixel/255 − mean)/stddev
  // (integer inference recovers the 8-bit pixels from it).
  std::vector<double> mean, stddev;
};

// One row per dataset: its name, what one sample is, and its loader.
struct DatasetInfo {
  std::string_view name;
  std::array<std::size_t, 3> sample_shape;  // [C, H, W]
  std::size_t num_classes;
  DataSplits (*load)(const DataOptions& opts);
};
extern const NameTable<DatasetInfo> kDatasets;

// Throws qb::Error naming the valid datasets, the missing file (and the Debian package that
// provides it), or the file and byte offset of malformed data.
DataSplits load_dataset(const std::string& name, const DataOptions& opts);

}  // namespace qb
