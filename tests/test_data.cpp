// Dataset readers on good and broken files, the splits, and the loader's order.
#include "engine/check.h"
#include "engine/data/cifar.h"
#include "engine/data/dataset.h"
#include "engine/data/idx.h"
#include "engine/data/loader.h"
#include "tests/support.h"

#include <zlib.h>
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <set>

using namespace qb;
using qb::test::TempDir;
namespace fs = std::filesystem;

namespace {

void write_gz(const fs::path& p, const std::vector<std::uint8_t>& bytes) {
  gzFile f = gzopen(p.c_str(), "wb");
  REQUIRE(f);
  if (!bytes.empty()) gzwrite(f, bytes.data(), unsigned(bytes.size()));
  gzclose(f);
}

void write_raw(const fs::path& p, const std::vector<std::uint8_t>& bytes) {
  std::ofstream(p, std::ios::binary)
      .write(reinterpret_cast<const char*>(bytes.data()), std::streamsize(bytes.size()));
}

void be32(std::vector<std::uint8_t>& v, std::uint32_t x) {
  for (int s = 24; s >= 0; s -= 8) v.push_back(std::uint8_t(x >> s));
}

std::vector<std::uint8_t> idx_images(std::uint32_t n, std::uint32_t rows = 28,
                                     std::uint32_t cols = 28) {
  std::vector<std::uint8_t> v = {0, 0, 8, 3};
  be32(v, n);
  be32(v, rows);
  be32(v, cols);
  for (std::uint32_t i = 0; i < n * rows * cols; ++i) v.push_back(std::uint8_t(i * 7));
  return v;
}

std::vector<std::uint8_t> idx_labels(std::uint32_t n) {
  std::vector<std::uint8_t> v = {0, 0, 8, 1};
  be32(v, n);
  for (std::uint32_t i = 0; i < n; ++i) v.push_back(std::uint8_t(i % 10));
  return v;
}

// A tiny fashion-mnist folder: `train` training and `test` test images.
void write_fashion(const fs::path& dir, std::uint32_t train, std::uint32_t test) {
  write_gz(dir / "train-images-idx3-ubyte.gz", idx_images(train));
  write_gz(dir / "train-labels-idx1-ubyte.gz", idx_labels(train));
  write_gz(dir / "t10k-images-idx3-ubyte.gz", idx_images(test));
  write_gz(dir / "t10k-labels-idx1-ubyte.gz", idx_labels(test));
}

}  // namespace

TEST_CASE("IDX: a good file, gzipped or plain", "[data][idx]") {
  TempDir t;
  write_gz(t.path / "a.gz", idx_images(3, 2, 4));
  write_raw(t.path / "a.raw", idx_images(3, 2, 4));
  for (const char* name : {"a.gz", "a.raw"}) {
    const IdxArray a = read_idx((t.path / name).string(), 3);
    CHECK(a.dims == std::vector<std::uint32_t>{3, 2, 4});
    REQUIRE(a.data.size() == 24);
    CHECK(a.data[5] == 35);
  }
}

TEST_CASE("IDX: broken files name the file and the byte offset", "[data][idx]") {
  TempDir t;
  const fs::path p = t.path / "bad.gz";
  auto bytes = idx_images(3, 2, 4);

  auto wrong_magic = bytes;
  wrong_magic[2] = 9;
  write_gz(p, wrong_magic);
  CHECK_THROWS_WITH(read_idx(p.string(), 3),
                    Catch::Contains(p.string()) && Catch::Contains("bad magic at byte offset 0"));

  write_gz(p, std::vector<std::uint8_t>(bytes.begin(), bytes.end() - 5));
  CHECK_THROWS_WITH(read_idx(p.string(), 3), Catch::Contains("truncated") &&
                                                 Catch::Contains("byte offset 35") &&
                                                 Catch::Contains("40"));

  write_gz(p, std::vector<std::uint8_t>(bytes.begin(), bytes.begin() + 6));
  CHECK_THROWS_WITH(read_idx(p.string(), 3), Catch::Contains("truncated header at byte offset 4"));

  auto trailing = bytes;
  trailing.push_back(1);
  write_gz(p, trailing);
  CHECK_THROWS_WITH(read_idx(p.string(), 3),
                    Catch::Contains("trailing bytes") && Catch::Contains("byte offset 40"));

  write_gz(p, {});
  CHECK_THROWS_WITH(read_idx(p.string(), 3), Catch::Contains("byte offset 0"));

  CHECK_THROWS_WITH(read_idx((t.path / "missing.gz").string(), 3),
                    Catch::Contains("file not found"));

  // A damaged gzip stream (valid header, garbage deflate data).
  write_gz(p, idx_images(50));
  std::ifstream gz(p, std::ios::binary);
  std::vector<char> raw((std::istreambuf_iterator<char>(gz)), std::istreambuf_iterator<char>());
  gz.close();
  for (std::size_t i = 20; i < raw.size() - 10; i += 7) raw[i] = char(raw[i] ^ 0x5A);
  std::ofstream(p, std::ios::binary).write(raw.data(), std::streamsize(raw.size()));
  CHECK_THROWS_AS(read_idx(p.string(), 3), Error);
}

TEST_CASE("IDX: a gzip stream without its length trailer is refused", "[data][idx]") {
  TempDir t;
  const fs::path p = t.path / "cut.gz";
  write_gz(p, idx_images(3, 2, 4));
  // The last 4 bytes of a gzip file are the uncompressed length (ISIZE); the data is all there.
  fs::resize_file(p, fs::file_size(p) - 4);
  CHECK_THROWS_WITH(read_idx(p.string(), 3),
                    p.string() + ": truncated gzip stream (unexpected end of file)");
}

TEST_CASE("Fashion-MNIST folder: counts must agree, labels in range, files present", "[data]") {
  TempDir t;
  write_fashion(t.path, 30, 10);
  DataOptions o;
  o.dir = t.path.string();
  o.val_size = 5;
  const DataSplits s = load_dataset("fashion-mnist", o);
  CHECK(s.train.size() == 25);
  CHECK(s.val.size() == 5);
  CHECK(s.test.size() == 10);
  CHECK(s.val.labels[0] == 25 % 10);  // the hold-out is the end of the training set
  CHECK(s.identity.find("train=25,val=5,test=10") != std::string::npos);

  write_gz(t.path / "train-labels-idx1-ubyte.gz", idx_labels(29));
  CHECK_THROWS_WITH(load_dataset("fashion-mnist", o),
                    Catch::Contains("30 images") && Catch::Contains("29 labels"));

  auto labels = idx_labels(30);
  labels[8 + 17] = 12;
  write_gz(t.path / "train-labels-idx1-ubyte.gz", labels);
  CHECK_THROWS_WITH(load_dataset("fashion-mnist", o),
                    Catch::Contains("label 12") && Catch::Contains("byte offset 25"));

  fs::remove(t.path / "t10k-images-idx3-ubyte.gz");
  write_gz(t.path / "train-labels-idx1-ubyte.gz", idx_labels(30));
  CHECK_THROWS_WITH(
      load_dataset("fashion-mnist", o),
      Catch::Contains("t10k-images-idx3-ubyte.gz") && Catch::Contains("dataset-fashion-mnist"));
  o.val_size = 30;
  write_fashion(t.path, 30, 10);
  CHECK_THROWS_WITH(load_dataset("fashion-mnist", o), Catch::Contains("val_size"));
}

TEST_CASE("CIFAR-10 batches: good, truncated, bad label, missing", "[data][cifar]") {
  TempDir t;
  auto record = [](std::uint8_t label) {
    std::vector<std::uint8_t> r(kCifarRecordBytes, 100);
    r[0] = label;
    return r;
  };
  std::vector<std::uint8_t> batch;
  for (int i = 0; i < 4; ++i) {
    auto r = record(std::uint8_t(i));
    batch.insert(batch.end(), r.begin(), r.end());
  }
  for (int i = 1; i <= 5; ++i)
    write_raw(t.path / ("data_batch_" + std::to_string(i) + ".bin"), batch);
  write_raw(t.path / "test_batch.bin", batch);
  DataOptions o;
  o.dir = t.path.string();
  o.val_size = 4;
  const DataSplits s = load_dataset("cifar10", o);
  CHECK(s.train.size() == 16);
  CHECK(s.test.size() == 4);
  CHECK(s.train.sample_shape() == Shape{3, 32, 32});
  CHECK(s.augment);

  const fs::path p = t.path / "data_batch_3.bin";
  write_raw(p, std::vector<std::uint8_t>(batch.begin(), batch.end() - 100));
  CHECK_THROWS_WITH(load_dataset("cifar10", o),
                    Catch::Contains("data_batch_3.bin") && Catch::Contains("byte offset 9219"));
  auto bad = batch;
  bad[2 * kCifarRecordBytes] = 10;
  write_raw(p, bad);
  CHECK_THROWS_WITH(load_dataset("cifar10", o),
                    Catch::Contains("label 10") && Catch::Contains("byte offset 6146"));
  fs::remove(p);
  CHECK_THROWS_WITH(load_dataset("cifar10", o), Catch::Contains("data_batch_3.bin"));
  CHECK_THROWS_WITH(load_dataset("cifar10", DataOptions{}), Catch::Contains("data_dir"));
  CHECK_THROWS_WITH(load_dataset("mnist", DataOptions{}), Catch::Contains("fashion-mnist"));
}

TEST_CASE("normalisation uses training statistics", "[data]") {
  const DataSplits s = load_dataset("synthetic", DataOptions{});
  CHECK(s.train.size() == 2000);
  CHECK(s.val.size() == 500);
  CHECK(s.test.size() == 500);
  double sum = 0, sq = 0;
  for (float v : s.train.images) {
    sum += v;
    sq += double(v) * v;
  }
  const double n = double(s.train.images.size());
  CHECK(sum / n == Approx(0.0).margin(1e-4));
  CHECK(sq / n == Approx(1.0).epsilon(1e-3));
}

TEST_CASE("loader: reproducible permutations that cover the data once", "[data][loader]") {
  const DataSplits s = load_dataset("synthetic", DataOptions{});
  auto epoch_labels = [&](std::uint64_t seed, std::size_t epoch, bool augment, Tensor* first) {
    BatchLoader l(s.train, 64, true, augment, seed);
    l.start_epoch(epoch);
    Tensor x;
    std::vector<std::int32_t> y, all;
    std::size_t batches = 0;
    while (l.next(x, y)) {
      if (batches++ == 0 && first) *first = x;
      all.insert(all.end(), y.begin(), y.end());
    }
    CHECK(batches == l.num_batches());
    CHECK(x.shape()[0] == 2000 - 31 * 64);  // the last batch is partial
    return all;
  };
  const auto a = epoch_labels(1, 0, false, nullptr);
  CHECK(a.size() == 2000);
  CHECK(a == epoch_labels(1, 0, false, nullptr));
  CHECK(a != epoch_labels(1, 1, false, nullptr));
  CHECK(a != epoch_labels(2, 0, false, nullptr));
  std::multiset<std::int32_t> got(a.begin(), a.end()),
      want(s.train.labels.begin(), s.train.labels.end());
  CHECK(got == want);
  Tensor x1, x2, x3;
  epoch_labels(1, 0, true, &x1);
  epoch_labels(1, 0, true, &x2);
  epoch_labels(1, 0, false, &x3);
  CHECK(bool(x1 == x2));
  CHECK_FALSE(bool(x1 == x3));
}

TEST_CASE("the real Fashion-MNIST from the Debian package", "[data][fashion]") {
  if (!fs::exists("/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz")) {
    FAIL("dataset-fashion-mnist is not installed: run scripts/setup");
  }
  const DataSplits s = load_dataset("fashion-mnist", DataOptions{});
  CHECK(s.train.size() == 55000);
  CHECK(s.val.size() == 5000);
  CHECK(s.test.size() == 10000);
  std::vector<int> counts(10);
  for (auto l : s.test.labels) ++counts[l];
  for (int c : counts) CHECK(c == 1000);  // the test set is exactly balanced
}
