// The sweep config parser and validator: JSON text (engine/io/json_parse.h: duplicate keys,
// numbers beyond a double) then the schema and the expansion into cells
// (experiments/config.h), with a small cell limit so one input cannot take seconds.
#include "engine/io/json_parse.h"
#include "experiments/config.h"
#include "tests/fuzz/fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  qb::fuzz::refusal_allowed([&] {
    const nlohmann::json config = qb::parse_user_json(text, "fuzz.json");
    qb::exp::parse_sweep(config, /*max_cells=*/64);
  });
  return 0;
}
