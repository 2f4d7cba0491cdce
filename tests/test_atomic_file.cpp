// Atomic files (engine/io/atomic_file.h): the new content replaces the old whole, a failed
// write leaves the old file and no partial file behind, and the writability probe tells a
// writable folder from a missing one.
#include "engine/check.h"
#include "engine/io/atomic_file.h"

#include <unistd.h>
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <sstream>

using namespace qb;
namespace fs = std::filesystem;

namespace {

struct TempDir {
  fs::path path;
  TempDir() {
    path = fs::temp_directory_path() / ("qbench-test-atomic-" + std::to_string(::getpid()));
    fs::create_directories(path);
  }
  ~TempDir() { fs::remove_all(path); }
};

std::string contents(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

}  // namespace

TEST_CASE("write_text_atomically replaces the whole file", "[io][atomic]") {
  TempDir t;
  const std::string p = (t.path / "sweep.json").string();
  write_text_atomically(p, "first, and longer\n");
  write_text_atomically(p, "second\n");
  CHECK(contents(p) == "second\n");
  CHECK_FALSE(fs::exists(partial_path(p)));
}

TEST_CASE("a failed atomic write leaves the old file and no partial file", "[io][atomic]") {
  TempDir t;
  const std::string p = (t.path / "out.txt").string();
  write_text_atomically(p, "old\n");
  CHECK_THROWS_WITH(write_file_atomically(p,
                                          [](const std::string& partial) {
                                            std::ofstream(partial) << "half";
                                            throw error("simulated failure");
                                          }),
                    "simulated failure");
  CHECK(contents(p) == "old\n");
  CHECK_FALSE(fs::exists(partial_path(p)));
  // Into a missing folder: an error naming the file, nothing created.
  const std::string missing = (t.path / "no" / "such" / "out.txt").string();
  CHECK_THROWS_WITH(write_text_atomically(missing, "x"), Catch::Contains(missing));
  CHECK_FALSE(fs::exists(t.path / "no"));
}

TEST_CASE("folder_is_writable tells a writable folder from a missing one", "[io][atomic]") {
  TempDir t;
  CHECK(folder_is_writable(t.path.string()));
  CHECK_FALSE(folder_is_writable((t.path / "missing").string()));
  CHECK(fs::is_empty(t.path));  // the probe file is gone
}
