// What the int8 test files share: the ISAs this CPU can run (the others are named in a
// warning, so a report says which kernels went untested), and a guard that clears QB_MAX_ISA
// when a test that sets it ends.
#pragma once

#include "engine/int8/isa.h"

#include <catch2/catch.hpp>

#include <cstdlib>
#include <vector>

namespace qb::int8::test {

inline std::vector<Isa> runnable_isas(const char* what) {
  std::vector<Isa> out;
  for (Isa isa : kAllIsas) {
    if (cpu_has(isa))
      out.push_back(isa);
    else
      WARN(what << ": this CPU lacks " << isa_name(isa) << "; its kernels are not tested");
  }
  return out;
}

struct MaxIsaGuard {
  ~MaxIsaGuard() { unsetenv("QB_MAX_ISA"); }
};

}  // namespace qb::int8::test
