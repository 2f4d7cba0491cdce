// A sweep's cell file reader (experiments/store.h), which a resumed sweep runs on every
// finished cell: the input is the HDF5 file. The expected key is the one the file claims, taken
// from the first refusal, so inputs get past the key check to the datasets behind it.
#include "experiments/store.h"
#include "tests/fuzz/fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static qb::fuzz::InputFile file(".h5");
  const std::string& path = file.write(data, size);
  std::string key = "0000000000000000";
  try {
    qb::exp::read_cell(path, key);
    return 0;
  } catch (const qb::Error& e) {
    const std::string what = e.what(), claim = "holds cell ";
    const auto at = what.find(claim);
    if (at == std::string::npos) return 0;
    key = what.substr(at + claim.size(), what.find(',', at) - at - claim.size());
  }
  qb::fuzz::refusal_allowed([&] { qb::exp::read_cell(path, key); });
  return 0;
}
