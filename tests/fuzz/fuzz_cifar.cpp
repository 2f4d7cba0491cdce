// The CIFAR-10 batch reader (engine/data/cifar.h): the input is the batch file.
#include "engine/data/cifar.h"
#include "tests/fuzz/fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static qb::fuzz::InputFile file(".bin");
  const std::string& path = file.write(data, size);
  qb::fuzz::refusal_allowed([&] {
    qb::CifarBatch batch;
    qb::read_cifar_batch(path, batch);
    if (batch.labels.size() * 3072 != batch.pixels.size()) std::abort();
  });
  return 0;
}
