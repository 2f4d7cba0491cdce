// Error handling for the whole project.
//
// Two kinds of failure, kept apart on purpose:
//  * qb::Error — the user's input is wrong (a config key, a file, a flag). The message names
//    the offending key, file and byte offset and is printed as one line; the program exits
//    non-zero without touching anything already written.
//  * QB_CHECK* — an internal invariant broke (a bug). The message carries the expression,
//    both values and the source location.
#pragma once

#include <sstream>
#include <stdexcept>
#include <string>

namespace qb {

class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class InternalError : public std::logic_error {
 public:
  using std::logic_error::logic_error;
};

namespace detail {
template <class... Args>
std::string concat(const Args&... args) {
  std::ostringstream os;
  (os << ... << args);
  return os.str();
}
[[noreturn]] void check_failed(const char* file, int line, const std::string& what);
}  // namespace detail

// Builds a qb::Error from any streamable pieces: throw qb::error("file ", path, ": bad magic");
template <class... Args>
Error error(const Args&... args) {
  return Error(detail::concat(args...));
}

}  // namespace qb

#define QB_CHECK(cond)                                                      \
  do {                                                                      \
    if (!(cond)) ::qb::detail::check_failed(__FILE__, __LINE__, #cond);     \
  } while (0)

#define QB_CHECK_OP(a, op, b)                                                         \
  do {                                                                                \
    const auto& qb_a_ = (a);                                                          \
    const auto& qb_b_ = (b);                                                          \
    if (!(qb_a_ op qb_b_))                                                            \
      ::qb::detail::check_failed(                                                     \
          __FILE__, __LINE__,                                                         \
          ::qb::detail::concat(#a " " #op " " #b " (", qb_a_, " vs ", qb_b_, ")"));   \
  } while (0)

#define QB_CHECK_EQ(a, b) QB_CHECK_OP(a, ==, b)
#define QB_CHECK_NE(a, b) QB_CHECK_OP(a, !=, b)
#define QB_CHECK_LT(a, b) QB_CHECK_OP(a, <, b)
#define QB_CHECK_LE(a, b) QB_CHECK_OP(a, <=, b)
#define QB_CHECK_GT(a, b) QB_CHECK_OP(a, >, b)
#define QB_CHECK_GE(a, b) QB_CHECK_OP(a, >=, b)
