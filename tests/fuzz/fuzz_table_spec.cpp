// `qbench report --spec`'s table spec (analysis/spec.h): JSON text in, a validated spec out.
#include "analysis/spec.h"
#include "engine/io/json_parse.h"
#include "tests/fuzz/fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  qb::fuzz::refusal_allowed(
      [&] { qb::analysis::parse_spec(qb::parse_user_json(text, "spec.json"), "spec.json"); });
  return 0;
}
