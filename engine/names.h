// Name tables: one table per enumerable that users spell.
//
// An ISA, a dataset, an optimizer, a schedule, a granularity, a results column: each is one
// constexpr array of rows — the name and everything else that belongs to it (an enum value,
// a kernel, a loader, a shape), as ggml's type_traits and XNNPACK's gemm configs keep a type's
// or an ISA's facts in one row — wrapped in a NameTable. Strings are parsed into rows once, at
// the boundary (the CLI, a config, a file); every refusal has one form:
//
//   unknown optimizer 'adm' (valid: sgd, adam; did you mean 'adam'?)
//
// and lists the table's own names, so help texts and error messages cannot drift from it.
#pragma once

#include "engine/check.h"

#include <cstddef>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace qb {

// Levenshtein distance, for "did you mean" suggestions.
std::size_t edit_distance(std::string_view a, std::string_view b);

// The valid name nearest to `name` when it is plausibly a typo of it (at most 2 edits, or a
// third of its length); empty otherwise.
std::string nearest_name(std::string_view name, const std::vector<std::string>& valid);

// "a, b, c"
std::string join_names(const std::vector<std::string>& names);

// The one refusal form: "unknown <what> '<name>' (valid: a, b, c; did you mean 'b'?)", at
// `key_path` when given. For name lists that are not a NameTable (the method registry, the
// network list), so they refuse the same way.
Error unknown_name(std::string_view what, std::string_view name,
                   const std::vector<std::string>& valid, std::string key_path = "");

// A fixed table of rows, each with a `name` member (convertible to std::string_view).
template <class Row>
class NameTable {
 public:
  template <std::size_t N>
  constexpr NameTable(std::string_view what, const Row (&rows)[N]) : what_(what), rows_(rows) {}

  // What the names name, for messages: "ISA", "dataset".
  constexpr std::string_view what() const { return what_; }
  constexpr std::span<const Row> rows() const { return rows_; }

  // The row named `name`, or nullptr.
  constexpr const Row* find(std::string_view name) const {
    for (const Row& r : rows_)
      if (std::string_view(r.name) == name) return &r;
    return nullptr;
  }

  // The row named `name`; throws the one refusal form (at `key_path`) otherwise.
  const Row& parse(std::string_view name, const std::string& key_path = "") const {
    if (const Row* r = find(name)) return *r;
    throw unknown_name(what_, name, names(), key_path);
  }

  // The row whose `value` member is `value` (tables of enum values); every value has a row.
  template <class T>
  constexpr const Row& row_of(const T& value) const {
    for (const Row& r : rows_)
      if (r.value == value) return r;
    detail::check_failed(__FILE__, __LINE__, "a value without a row in its name table");
  }

  std::vector<std::string> names() const {
    std::vector<std::string> v;
    for (const Row& r : rows_) v.emplace_back(std::string_view(r.name));
    return v;
  }

 private:
  std::string_view what_;
  std::span<const Row> rows_;
};

// The plainest row: a name for an enum value.
template <class T>
struct Named {
  std::string_view name;
  T value;
};

}  // namespace qb
