// `qbench probe`'s request (methods/probe.h, shared/PROBE.md): JSON text in, one quantizer
// applied to one tensor.
#include "engine/io/json_parse.h"
#include "methods/probe.h"
#include "tests/fuzz/fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  qb::fuzz::refusal_allowed([&] { qb::run_probe(qb::parse_user_json(text, "request")).dump(); });
  return 0;
}
