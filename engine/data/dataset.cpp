#include "engine/data/dataset.h"

#include "engine/check.h"
#include "engine/data/cifar.h"
#include "engine/data/idx.h"
#include "engine/rng.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>

namespace qb {
namespace {

namespace fs = std::filesystem;

constexpr const char* kFashionDir = "/usr/share/datasets/fashion-mnist";

// Raw 8-bit pixels as floats p/255 in [0, 1], before splitting.
struct RawSplit {
  std::vector<float> pixels;  // N × C × H × W, in [0, 1]
  std::vector<std::uint8_t> labels;
};

std::string require_file(const fs::path& dir, const std::string& name, const char* hint) {
  const fs::path p = dir / name;
  // Missing: the hint says where the files come from. Present but a folder, a FIFO or
  // unreadable: the reader's own check names it (engine/io/input_file.h).
  std::error_code ec;
  if (!fs::exists(p, ec)) throw error(p.string(), ": file not found; ", hint);
  return p.string();
}

// Bytes 0..255 as floats in [0, 1].
std::vector<float> unit_pixels(const std::vector<std::uint8_t>& bytes) {
  std::vector<float> out(bytes.size());
  std::transform(bytes.begin(), bytes.end(), out.begin(),
                 [](std::uint8_t v) { return float(v) / 255.0f; });
  return out;
}

RawSplit load_idx_pair(const std::string& images_path, const std::string& labels_path) {
  const IdxArray images = read_idx(images_path, 3);
  const IdxArray labels = read_idx(labels_path, 1);
  if (images.dims[0] != labels.dims[0])
    throw error(images_path, " has ", images.dims[0], " images but ", labels_path, " has ",
                labels.dims[0], " labels");
  if (images.dims[1] != 28 || images.dims[2] != 28)
    throw error(images_path, ": images are ", images.dims[1], "x", images.dims[2],
                ", expected 28x28");
  for (std::size_t i = 0; i < labels.data.size(); ++i)
    if (labels.data[i] > 9)
      throw error(labels_path, ": label ", int(labels.data[i]),
                  " out of range 0..9 at byte offset ", 8 + i);
  return {unit_pixels(images.data), labels.data};
}

RawSplit from_cifar(const CifarBatch& b) { return {unit_pixels(b.pixels), b.labels}; }

// Class k: a bright 8×8 square on a 2×5 grid of positions, jittered ±2 pixels, a faint
// class-specific stripe, and Gaussian noise. Easy for a CNN, impossible by mean brightness.
// Stored as 8-bit pixels like every real dataset, so what holds for real images holds here
// (integer inference recovers a float image's pixels exactly: integer/network.h, `pixels`).
RawSplit synthetic(std::size_t n, std::uint64_t seed) {
  constexpr std::size_t S = 28;
  RawSplit r;
  r.pixels.assign(n * S * S, 0.0f);
  r.labels.resize(n);
  Rng rng(seed);
  for (std::size_t i = 0; i < n; ++i) {
    const std::size_t k = rng.uniform_int(10);
    r.labels[i] = std::uint8_t(k);
    float* img = r.pixels.data() + i * S * S;
    const long top = long(k / 5) * 13 + 3 + long(rng.uniform_int(5)) - 2;
    const long left = long(k % 5) * 5 + 1 + long(rng.uniform_int(5)) - 2;
    for (std::size_t y = 0; y < S; ++y)
      for (std::size_t x = 0; x < S; ++x) {
        const bool in_square =
            long(y) >= top && long(y) < top + 8 && long(x) >= left && long(x) < left + 8;
        const bool stripe = (x + y * (k % 3 + 1)) % (k % 4 + 3) == 0;
        const float v =
            (in_square ? 0.8f : 0.1f) + (stripe ? 0.1f : 0.0f) + 0.15f * float(rng.normal());
        img[y * S + x] = std::rint(std::clamp(v, 0.0f, 1.0f) * 255.0f) / 255.0f;
      }
  }
  return r;
}

Dataset make_split(const std::string& name, const RawSplit& raw, const Shape& sample,
                   std::size_t begin, std::size_t end) {
  Dataset d;
  d.name = name;
  const std::size_t per = numel(sample), n = end - begin;
  d.images = Tensor::from_shape({n, sample[0], sample[1], sample[2]});
  std::memcpy(d.images.data(), raw.pixels.data() + begin * per, n * per * sizeof(float));
  d.labels.assign(raw.labels.begin() + long(begin), raw.labels.begin() + long(end));
  return d;
}

// Per-channel mean and standard deviation of `train`, applied to every split.
void normalise(DataSplits& s) {
  const Shape sh = s.train.sample_shape();
  const std::size_t C = sh[0], plane = sh[1] * sh[2];
  for (std::size_t c = 0; c < C; ++c) {
    double sum = 0, sq = 0;
    const std::size_t N = s.train.size();
    for (std::size_t n = 0; n < N; ++n) {
      const float* p = s.train.images.data() + (n * C + c) * plane;
      for (std::size_t i = 0; i < plane; ++i) {
        sum += p[i];
        sq += double(p[i]) * p[i];
      }
    }
    const double count = double(N * plane);
    const double mean = sum / count;
    const double stddev = std::sqrt(std::max(sq / count - mean * mean, 1e-12));
    s.mean.push_back(mean);
    s.stddev.push_back(stddev);
    for (Dataset* d : {&s.train, &s.val, &s.test}) {
      for (std::size_t n = 0; n < d->size(); ++n) {
        float* p = d->images.data() + (n * C + c) * plane;
        for (std::size_t i = 0; i < plane; ++i) p[i] = float((p[i] - mean) / stddev);
      }
    }
  }
}

DataSplits split(const std::string& name, const std::string& dir, const RawSplit& train,
                 const RawSplit& test, const Shape& sample, const DataOptions& o,
                 std::size_t val_size) {
  const std::size_t total = train.labels.size();
  if (val_size >= total)
    throw key_error("val_size", val_size, " leaves no training images (", name, " has ", total,
                    ")");
  DataSplits s;
  std::size_t train_end = total - val_size;
  s.val = make_split(name, train, sample, train_end, total);
  if (o.train_limit) train_end = std::min(train_end, o.train_limit);
  s.train = make_split(name, train, sample, 0, train_end);
  const std::size_t test_end =
      o.test_limit ? std::min(o.test_limit, test.labels.size()) : test.labels.size();
  s.test = make_split(name, test, sample, 0, test_end);
  normalise(s);
  s.identity = name + ":" + dir + ":train=" + std::to_string(s.train.size()) +
               ",val=" + std::to_string(s.val.size()) + ",test=" + std::to_string(s.test.size());
  return s;
}

}  // namespace

Shape Dataset::sample_shape() const {
  QB_CHECK_EQ(images.dimension(), 4u);
  return {images.shape()[1], images.shape()[2], images.shape()[3]};
}

namespace {

DataSplits load_fashion_mnist(const DataOptions& o) {
  const fs::path dir = o.dir.empty() ? kFashionDir : o.dir;
  const char* hint =
      "install the Debian package dataset-fashion-mnist (bash scripts/setup) or give the folder "
      "that holds its files (data_dir)";
  const RawSplit train = load_idx_pair(require_file(dir, "train-images-idx3-ubyte.gz", hint),
                                       require_file(dir, "train-labels-idx1-ubyte.gz", hint));
  const RawSplit test = load_idx_pair(require_file(dir, "t10k-images-idx3-ubyte.gz", hint),
                                      require_file(dir, "t10k-labels-idx1-ubyte.gz", hint));
  return split("fashion-mnist", dir.string(), train, test, {1, 28, 28}, o, o.val_size);
}

DataSplits load_cifar10(const DataOptions& o) {
  if (o.dir.empty())
    throw key_error("data_dir",
                    "cifar10 needs the folder of the CIFAR-10 binary version "
                    "(data_batch_1.bin .. data_batch_5.bin, test_batch.bin)");
  const fs::path dir = o.dir;
  const char* hint = "data_dir must hold the CIFAR-10 binary version (cifar-10-batches-bin)";
  CifarBatch train, test;
  for (int i = 1; i <= 5; ++i)
    read_cifar_batch(require_file(dir, "data_batch_" + std::to_string(i) + ".bin", hint), train);
  read_cifar_batch(require_file(dir, "test_batch.bin", hint), test);
  DataSplits s = split("cifar10", dir.string(), from_cifar(train), from_cifar(test), {3, 32, 32}, o,
                       o.val_size);
  s.augment = true;
  return s;
}

DataSplits load_synthetic(const DataOptions& o) {
  const RawSplit train = synthetic(2500, 0x5E7), test = synthetic(500, 0x7E57);
  return split("synthetic", "", train, test, {1, 28, 28}, o,
               std::min<std::size_t>(o.val_size, 500));
}

constexpr DatasetInfo kDatasetRows[] = {
    {"fashion-mnist", {1, 28, 28}, 10, load_fashion_mnist},
    {"cifar10", {3, 32, 32}, 10, load_cifar10},
    {"synthetic", {1, 28, 28}, 10, load_synthetic},
};

}  // namespace

constinit const NameTable<DatasetInfo> kDatasets{"dataset", kDatasetRows};

DataSplits load_dataset(const std::string& name, const DataOptions& o) {
  return kDatasets.parse(name).load(o);
}

}  // namespace qb
