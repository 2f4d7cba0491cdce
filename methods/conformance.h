// The conformance suite: what every quantizer of every method must do, checked one method at a
// time, so a method outside this tree runs it on itself exactly as tests/test_conformance.cpp
// runs it on every registered one.
//
// For each role the method declares and each bit-width of {1, 2, 3, 4, 8, 16, 32} inside its
// range, a quantizer is built for a 3×3 conv layer (3 → 4 channels), calibrated on an input
// typical of the role (weights ~N(0, 0.5), activations uniform on [-1, 12], gradients
// ~N(0, 0.01)) and checked; each failed check is one ConformanceFailure, named below:
//
//   build           the quantizer builds again from the same spec (for round_trip, determinism)
//   shape           forward keeps x's shape and every value is finite
//   grid            grid().bits is the bit-width asked for
//   levels          b ≤ 8: at most 2^b distinct values per group (per channel when the grid's
//                   scales are per channel, else at most groups·2^b over the tensor)
//   idempotent      q(q(x)) = q(x) in evaluation mode (within 1e-6, or 1e-5 relative), unless
//                   the quantizer declares idempotent() false
//   backward        weight and activation roles: dL/dx has x's shape, it and every dL/dθ finite
//   param_gradient  exact_param_gradients(): dL/dθ within 1e-2 relative of central differences
//   round_trip      state()/load() plus the parameter values reproduce forward bit for bit in a
//                   fresh quantizer
//   determinism     two fresh quantizers, the same calls: the same bits
//   exception       a call threw (the message is the exception's)
//
// A combination the method refuses when it is built (validate() or the quantizer's constructor
// throws qb::Error, e.g. signed 1-bit) is skipped: a clean refusal conforms. A method that
// builds no quantizer at all fails ("build").
#pragma once

#include "methods/method.h"

#include <cstddef>
#include <string>
#include <vector>

namespace qb {

struct ConformanceFailure {
  std::string method;
  QuantRole role = QuantRole::weight;
  int bits = 0;
  std::string check;    // one of the names above
  std::string message;  // what was expected and what came out, with the values
};

// "<method> <role> <bits> bits: <check>: <message>"
std::string to_string(const ConformanceFailure& f);

struct ConformanceReport {
  std::string method;
  std::size_t cases_checked = 0;      // role × bits combinations built and checked
  std::size_t cases_refused = 0;      // combinations the method refused cleanly
  std::size_t gradients_checked = 0;  // of the checked ones, by finite differences
  std::vector<ConformanceFailure> failures;

  bool ok() const { return failures.empty(); }
};

ConformanceReport check_conformance(const Method& method);
// The registered method of that name (throws qb::Error when there is none).
ConformanceReport check_conformance(const std::string& method_name);

// The largest relative mismatch between the quantizer's dL/dθ (L = Σ dy ⊙ forward(x)) and the
// central difference of L, over every element of every learned parameter: the param_gradient
// check, exposed so that a test can show it fails on a wrong gradient.
double worst_param_gradient_error(Quantizer& q, const Tensor& x, const Tensor& dy);

}  // namespace qb
