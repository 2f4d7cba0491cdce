// Where a result came from: qbench commit, compiler, CPU model and ISA flags, threads, and the
// versions of the libraries that shape the numbers. Stored with every cell.
#pragma once

#include <nlohmann/json.hpp>

namespace qb::exp {

// `threads`: the thread count the cell ran with (results are bitwise reproducible only with
// the same count).
nlohmann::json environment(int threads);

}  // namespace qb::exp
