// The IDX reader (engine/data/idx.h) on arbitrary files, plain or gzip: the input is the file.
// Seeds hold both kinds, so libFuzzer mutates IDX headers and gzip streams (headers, deflate
// blocks, CRC and length trailers) alike.
#include "engine/data/idx.h"
#include "tests/fuzz/fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static qb::fuzz::InputFile file(".idx");
  const std::string& path = file.write(data, size);
  // Labels (1-D) and images (3-D), as Fashion-MNIST has them.
  for (std::size_t ndim : {1, 3}) qb::fuzz::refusal_allowed([&] { qb::read_idx(path, ndim); });
  return 0;
}
