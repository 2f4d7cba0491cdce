// The checkpoint reader (engine/checkpoint.h) on arbitrary files: the input is the HDF5 file.
#include "engine/checkpoint.h"
#include "tests/fuzz/fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static qb::fuzz::InputFile file(".h5");
  const std::string& path = file.write(data, size);
  qb::fuzz::refusal_allowed([&] { qb::load_checkpoint(path); });
  return 0;
}
