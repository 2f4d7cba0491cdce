// Content addresses for cells: a canonical JSON text and its 64-bit FNV-1a hash.
//
// Canonical JSON: object keys sorted (nlohmann::json's std::map order), no whitespace, and
// numbers normalised so that 4, 4.0 and 4e0 are one value: an integral number becomes an
// integer, anything else a double printed with round-trip precision. The hash is not
// cryptographic; it names result files, and 64 bits keep the chance of two cells of one sweep
// colliding negligible (~n²/2^65).
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>

namespace qb::exp {

nlohmann::json normalise_numbers(const nlohmann::json& j);
std::string canonical_dump(const nlohmann::json& j);  // normalised, sorted keys, compact
std::uint64_t fnv1a64(const std::string& bytes);
std::string hex16(std::uint64_t h);                // 16 lowercase hex digits
std::string content_key(const nlohmann::json& j);  // hex16(fnv1a64(canonical_dump(j)))

}  // namespace qb::exp
