// engine/io/input_file.h and what the readers do with what it lets through: only readable
// regular files are opened, and a header's promised size costs no memory the data does not
// deliver (issue 20's bad-input classes, below the command line).
#include "engine/check.h"
#include "engine/data/cifar.h"
#include "engine/data/idx.h"
#include "engine/io/input_file.h"
#include "tests/support.h"

#include <sys/resource.h>
#include <sys/stat.h>
#include <zlib.h>

#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>

using namespace qb;
using qb::test::TempDir;
namespace fs = std::filesystem;

namespace {

long max_rss_kib() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_maxrss;
}

}  // namespace

TEST_CASE("input files: only readable regular files pass", "[io][input_file]") {
  TempDir t;
  const std::string dir = t.path.string(), fifo = (t.path / "fifo").string();
  const std::string missing = (t.path / "missing").string(), file = (t.path / "f").string();
  REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
  std::ofstream(file) << "x";

  CHECK_NOTHROW(check_input_file(file, "a thing"));
  CHECK_THROWS_WITH(check_input_file(dir, "a thing"), dir + ": is a directory, expected a thing");
  // Opening a FIFO for reading would block until a writer came: this returns at once.
  CHECK_THROWS_WITH(check_input_file(fifo, "a thing"),
                    fifo + ": is not a regular file (a FIFO, device or socket), expected a thing");
  CHECK_THROWS_WITH(check_input_file(missing, "a thing"),
                    missing + ": file not found, expected a thing");
  // A regular file whose first byte cannot be read, even by root.
  CHECK_THROWS_WITH(check_input_file("/proc/self/mem", "a thing"),
                    "/proc/self/mem: cannot read (Input/output error), expected a thing");
  CHECK_THROWS_WITH(
      check_input_file("/dev/null", "a thing"),
      "/dev/null: is not a regular file (a FIFO, device or socket), expected a thing");
}

TEST_CASE("readers refuse FIFOs and directories without blocking", "[io][input_file]") {
  TempDir t;
  const std::string fifo = (t.path / "fifo").string();
  REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
  const std::string why = ": is not a regular file (a FIFO, device or socket), expected ";
  CHECK_THROWS_WITH(read_idx(fifo, 1), fifo + why + "an IDX file");
  CifarBatch batch;
  CHECK_THROWS_WITH(read_cifar_batch(fifo, batch), fifo + why + "a CIFAR-10 batch file");
  CHECK_THROWS_WITH(read_idx(t.path.string(), 1),
                    t.path.string() + ": is a directory, expected an IDX file");
}

TEST_CASE("IDX: a header promising 16 GiB costs only what the data holds", "[data][idx]") {
  TempDir t;
  const fs::path p = t.path / "huge.gz";
  // 2^22 × 64 × 64 bytes promised, 100 delivered.
  std::vector<std::uint8_t> bytes = {0, 0, 8, 3, 0, 0x40, 0, 0, 0, 0, 0, 64, 0, 0, 0, 64};
  bytes.resize(bytes.size() + 100, 7);
  gzFile gz = gzopen(p.c_str(), "wb");
  REQUIRE(gz);
  gzwrite(gz, bytes.data(), unsigned(bytes.size()));
  gzclose(gz);
  const long before = max_rss_kib();
  CHECK_THROWS_WITH(read_idx(p.string(), 3),
                    p.string() +
                        ": truncated: data ends at byte offset 116, header promises "
                        "17179869200 bytes");
  // Allocating (and zeroing) what the header says would have taken 16 GiB.
  CHECK(max_rss_kib() - before < 256 * 1024);
}
