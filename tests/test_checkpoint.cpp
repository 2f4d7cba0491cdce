// Checkpoints: exact round trip, atomic saves, and clear refusals of damaged files.
#include "engine/check.h"
#include "engine/checkpoint.h"
#include "engine/io/hdf5.h"
#include "tests/support.h"

#include <hdf5.h>
#include <catch2/catch.hpp>

#include <cstring>
#include <filesystem>
#include <fstream>

using namespace qb;
using qb::test::TempDir;
namespace fs = std::filesystem;

namespace {

Checkpoint sample() {
  Checkpoint ck;
  Tensor w = Tensor::from_shape({2, 3, 3, 3});
  for (std::size_t i = 0; i < w.size(); ++i) w.data()[i] = float(i) * 0.37f - 3.1f;
  w.data()[5] = -0.0f;
  w.data()[6] = 1e-42f;  // a denormal survives bit for bit
  ck.params["conv1.weight"] = w;
  Tensor b = Tensor::from_shape({4});
  b.fill(0.25f);
  ck.params["conv1.bias"] = b;
  ck.params["empty"] = Tensor::from_shape({0, 3});
  ck.buffers["bn.running_var"] = b;
  Tensor scalar = Tensor::from_shape({});
  scalar() = 7.5f;
  ck.optimizer["weights/momentum/conv1.weight"] = w;
  ck.optimizer["weights/step"] = scalar;
  ck.scalars["epoch"] = 3;
  ck.strings["config"] = R"({"net": "lenet5"})";
  ck.strings["empty"] = "";
  return ck;
}

bool same(const Tensor& a, const Tensor& b) {
  // An empty tensor's data() may be null, which memcmp must not be given even for 0 bytes.
  return a.shape() == b.shape() &&
         (a.size() == 0 || std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0);
}

// b holds a's tensors bit for bit, and its scalars and strings.
void check_same(const Checkpoint& a, const Checkpoint& b) {
  REQUIRE(b.params.size() == a.params.size());
  for (const auto& [k, v] : a.params) CHECK(same(v, b.params.at(k)));
  for (const auto& [k, v] : a.optimizer) CHECK(same(v, b.optimizer.at(k)));
  CHECK(same(a.buffers.at("bn.running_var"), b.buffers.at("bn.running_var")));
  CHECK(b.scalars == a.scalars);
  CHECK(b.strings == a.strings);
}

void overwrite(const fs::path& p, std::size_t offset, const std::string& bytes) {
  std::fstream f(p, std::ios::binary | std::ios::in | std::ios::out);
  f.seekp(std::streamoff(offset));
  f.write(bytes.data(), std::streamsize(bytes.size()));
}

}  // namespace

TEST_CASE("checkpoint round trip is exact", "[checkpoint]") {
  TempDir t;
  const std::string p = (t.path / "ck.h5").string();
  const Checkpoint a = sample();
  save_checkpoint(p, a);
  CHECK_FALSE(fs::exists(p + ".partial"));
  check_same(a, load_checkpoint(p));
}

TEST_CASE("damaged checkpoints are refused with the file named", "[checkpoint]") {
  TempDir t;
  const fs::path p = t.path / "ck.h5";
  save_checkpoint(p.string(), sample());
  const auto size = fs::file_size(p);

  SECTION("not HDF5 at all") {
    std::ofstream(p) << "hello";
    CHECK_THROWS_WITH(load_checkpoint(p.string()),
                      Catch::Contains(p.string()) && Catch::Contains("byte offset 0"));
  }
  SECTION("zero length") {
    std::ofstream(p, std::ios::trunc).flush();
    CHECK_THROWS_WITH(load_checkpoint(p.string()), Catch::Contains(p.string()));
  }
  SECTION("truncated") {
    fs::resize_file(p, size / 2);
    CHECK_THROWS_WITH(load_checkpoint(p.string()), Catch::Contains(p.string()));
  }
  SECTION("flipped data bytes are caught by the checksums") {
    // Find the weight tensor's bytes (0.37·i − 3.1 as float) and flip one.
    std::ifstream in(p, std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    const float needle = 10 * 0.37f - 3.1f;
    std::string pattern(reinterpret_cast<const char*>(&needle), 4);
    const auto at = bytes.find(pattern);
    REQUIRE(at != std::string::npos);
    overwrite(p, at, std::string("\x01\x02\x03\x04", 4));
    CHECK_THROWS_WITH(load_checkpoint(p.string()),
                      Catch::Contains(p.string()) && Catch::Contains("checksum"));
  }
  SECTION("unknown schema version") {
    h5::write_atomically(p.string(), [](h5::File& f) {
      auto root = f.root();
      root.set_attr("schema_version", std::int64_t(99));
      root.set_attr("format", std::string("qbench-checkpoint"));
    });
    CHECK_THROWS_WITH(load_checkpoint(p.string()), Catch::Contains("schema_version 99"));
  }
  SECTION("another HDF5 file") {
    h5::write_atomically(p.string(), [](h5::File& f) { f.root().write("x", 1.0); });
    CHECK_THROWS_WITH(load_checkpoint(p.string()), Catch::Contains("not a qbench checkpoint"));
  }
  SECTION("missing file") {
    CHECK_THROWS_WITH(load_checkpoint((t.path / "nope.h5").string()), Catch::Contains("not found"));
  }
}

// engine/io/hdf5.h: files are written in HDF5's checksummed 1.10 format, and files in the
// earlier, unchecksummed one (all qbench wrote before) are refused up front, in one line that
// names the way out, `h5::File::upgrade` (`qbench h5-upgrade`), which rewrites them exactly.
TEST_CASE("HDF5 files: checksummed format written, older refused, upgraded exactly",
          "[checkpoint][hdf5]") {
  TempDir t;
  const std::string current = (t.path / "current.h5").string();
  const std::string old = (t.path / "old.h5").string();
  const Checkpoint a = sample();
  save_checkpoint(current, a);
  CHECK(h5::superblock_version(current) == 3);

  // The same checkpoint in HDF5's earliest format (default file access: superblock 0, version-1
  // object headers, symbol-table groups), object by object.
  {
    const hid_t f = H5Fcreate(old.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    REQUIRE(f >= 0);
    {
      h5::Group root(H5Gopen2(f, "/", H5P_DEFAULT), h5::Id::Kind::group, old, "/");
      root.copy_contents_from(h5::File::open_read(current).root());
    }
    REQUIRE(H5Fclose(f) >= 0);
  }
  CHECK(h5::superblock_version(old) == 0);
  CHECK_THROWS_WITH(load_checkpoint(old),
                    old +
                        ": HDF5 superblock version 0 (byte offset 8): an older format without "
                        "metadata checksums; qbench reads only the checksummed one it writes, "
                        "superblock 3 (`qbench h5-upgrade FILE` rewrites a file from an older "
                        "qbench in it)");

  CHECK(h5::File::upgrade(old));
  CHECK_FALSE(fs::exists(old + ".partial"));
  CHECK(h5::superblock_version(old) == 3);
  CHECK_FALSE(h5::File::upgrade(old));  // already upgraded: left as it is
  check_same(a, load_checkpoint(old));
  // Not HDF5: refused by upgrade as by every reader.
  std::ofstream(t.path / "text.h5") << "hello";
  CHECK_THROWS_WITH(h5::File::upgrade((t.path / "text.h5").string()),
                    Catch::Contains("no HDF5 signature at byte offset 0"));
}

TEST_CASE("a failed save leaves the previous checkpoint intact", "[checkpoint]") {
  TempDir t;
  const fs::path p = t.path / "ck.h5";
  Checkpoint a = sample();
  save_checkpoint(p.string(), a);
  // The writer throws half-way: the old file must survive and no .partial may remain.
  CHECK_THROWS_AS(h5::write_atomically(p.string(),
                                       [](h5::File& f) {
                                         f.root().write("half", 1.0);
                                         throw Error("simulated failure");
                                       }),
                  Error);
  CHECK_FALSE(fs::exists(p.string() + ".partial"));
  CHECK(load_checkpoint(p.string()).strings == a.strings);
  // Saving into a missing folder fails cleanly.
  CHECK_THROWS_WITH(save_checkpoint((t.path / "no" / "such" / "ck.h5").string(), a),
                    Catch::Contains("cannot create"));
}

// Inputs the fuzzers found (tests/fuzz/regressions): damaged files in the earliest format,
// some of which crashed libhdf5 1.10.8 inside its own metadata decoding (hdf5-crashes/README.md)
// or made it leak. Every one is now refused from its superblock version, before libhdf5 opens
// it, so they are safe to read under the sanitizers too.
TEST_CASE("fuzz findings: damaged HDF5 files are refused before libhdf5 decodes them",
          "[checkpoint][fuzz]") {
  const fs::path regressions = fs::path(QB_SOURCE_DIR) / "tests" / "fuzz" / "regressions";
  int refused = 0;
  for (const char* folder : {"checkpoint", "hdf5-crashes"})
    for (const auto& entry : fs::directory_iterator(regressions / folder)) {
      if (entry.path().extension() != ".h5") continue;
      const std::string p = entry.path().string();
      CHECK_THROWS_WITH(load_checkpoint(p), Catch::StartsWith(p + ": HDF5 superblock version 0 "
                                                                  "(byte offset 8)"));
      ++refused;
    }
  CHECK(refused == 7);
}
