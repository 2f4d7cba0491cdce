// The merged results reader (analysis/results.h) that `qbench report` runs: the summary table,
// then every row's details (curves) as plots read them. The input is the HDF5 file.
#include "analysis/results.h"
#include "tests/fuzz/fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static qb::fuzz::InputFile file(".h5");
  const std::string& path = file.write(data, size);
  qb::fuzz::refusal_allowed([&] {
    const qb::analysis::Results r = qb::analysis::read_results(path);
    std::vector<std::string> keys;
    for (const auto& row : r.rows) keys.push_back(row.key);
    qb::analysis::read_details(path, keys);
  });
  return 0;
}
