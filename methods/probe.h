// `qbench probe`: one registered quantizer applied to one tensor, JSON in and out
// (shared/PROBE.md is the contract). Bad requests throw qb::Error whose message starts with
// the offending key.
#pragma once

#include <nlohmann/json.hpp>

namespace qb {

nlohmann::json run_probe(const nlohmann::json& request);

}  // namespace qb
