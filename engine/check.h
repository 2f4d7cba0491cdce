// Error handling for the whole project.
//
// Two kinds of failure, kept apart on purpose:
//  * qb::Error — the user's input is wrong (a config key, a file, a flag). It carries where
//    (a key path such as `methods[2].options.eta`, empty when there is none) apart from what,
//    so a caller that knows the enclosing context nests it (`within("methods[2]")`) instead of
//    parsing and re-prefixing a string. what() is "where: what", printed as one line; the
//    program exits non-zero without touching anything already written.
//  * QB_CHECK* — an internal invariant broke (a bug). The message carries the expression,
//    both values and the source location.
#pragma once

#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace qb {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message) : Error("", message) {}
  Error(std::string key_path, std::string message)
      : std::runtime_error(key_path.empty() ? message : key_path + ": " + message),
        key_path_(std::move(key_path)),
        message_(std::move(message)) {}

  // Where: "dataset.name", "methods[2].options.eta"; empty for an error about no key.
  const std::string& key_path() const { return key_path_; }
  // What, without the key path.
  const std::string& message() const { return message_; }
  // The same error inside `parent`: a key path "options.eta" within "methods[2]" becomes
  // "methods[2].options.eta" (an index "[3]" is appended without a dot).
  Error within(const std::string& parent) const;

 private:
  std::string key_path_, message_;
};

// Several independent problems found at once (a config with three bad keys), each its own
// Error; what() lists them one per line.
class Errors : public Error {
 public:
  explicit Errors(std::vector<Error> problems);
  const std::vector<Error>& problems() const { return problems_; }

 private:
  std::vector<Error> problems_;
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

// The same with a key path: throw qb::key_error("fp32.lr", "expected a positive number");
template <class... Args>
Error key_error(std::string key_path, const Args&... args) {
  return Error(std::move(key_path), detail::concat(args...));
}

// "a.b" from ("a", "b"); "a[3]" from ("a", "[3]"); the other side alone when one is empty.
std::string join_key_path(const std::string& parent, const std::string& child);

}  // namespace qb

#define QB_CHECK(cond)                                                  \
  do {                                                                  \
    if (!(cond)) ::qb::detail::check_failed(__FILE__, __LINE__, #cond); \
  } while (0)

#define QB_CHECK_OP(a, op, b)                                                       \
  do {                                                                              \
    const auto& qb_a_ = (a);                                                        \
    const auto& qb_b_ = (b);                                                        \
    if (!(qb_a_ op qb_b_))                                                          \
      ::qb::detail::check_failed(                                                   \
          __FILE__, __LINE__,                                                       \
          ::qb::detail::concat(#a " " #op " " #b " (", qb_a_, " vs ", qb_b_, ")")); \
  } while (0)

#define QB_CHECK_EQ(a, b) QB_CHECK_OP(a, ==, b)
#define QB_CHECK_NE(a, b) QB_CHECK_OP(a, !=, b)
#define QB_CHECK_LT(a, b) QB_CHECK_OP(a, <, b)
#define QB_CHECK_LE(a, b) QB_CHECK_OP(a, <=, b)
#define QB_CHECK_GT(a, b) QB_CHECK_OP(a, >, b)
#define QB_CHECK_GE(a, b) QB_CHECK_OP(a, >=, b)
