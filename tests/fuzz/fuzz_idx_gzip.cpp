// The IDX reader behind a valid gzip layer: the input is the uncompressed IDX stream, which
// the harness compresses before writing, so mutations reach the IDX header and data checks
// through zlib (fuzz_idx mutates the compressed bytes themselves).
#include "engine/data/idx.h"
#include "tests/fuzz/fuzz_support.h"

#include <zlib.h>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static qb::fuzz::InputFile file(".idx.gz");
  gzFile gz = gzopen(file.path().c_str(), "wb1");
  if (!gz || (size > 0 && gzwrite(gz, data, unsigned(size)) != int(size)) || gzclose(gz) != Z_OK)
    std::abort();
  for (std::size_t ndim : {1, 3})
    qb::fuzz::refusal_allowed([&] { qb::read_idx(file.path(), ndim); });
  return 0;
}
