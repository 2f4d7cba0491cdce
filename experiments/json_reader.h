// Reading a JSON document whose every problem is reported, not just the first.
//
// Sweep configs and table specs are written by hand and run for hours; a user should fix them
// in one round. JsonReader reads typed values at key paths and collects each problem as a
// qb::Error with its path (`methods[2].options.eta: expected number, got string`); an unknown
// key suggests the nearest valid one. throw_if_any() then throws them all as one qb::Errors.
#pragma once

#include "engine/check.h"
#include "engine/names.h"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace qb::exp {

class JsonReader {
 public:
  using json = nlohmann::json;

  void problem(const std::string& path, const std::string& message) {
    problems_.emplace_back(path, message);
  }
  void problem(Error e) { problems_.push_back(std::move(e)); }
  // An error a callee threw, its key path taken as relative to `parent`.
  void problem_within(const std::string& parent, const Error& e) {
    problems_.push_back(e.within(parent));
  }
  bool ok() const { return problems_.empty(); }
  const std::vector<Error>& problems() const { return problems_; }
  // Throws qb::Errors holding every problem so far, if there is one.
  void throw_if_any() const;

  // False (and a problem) for a non-object; a problem for each key outside `valid`.
  bool object(const json& j, const std::string& path, const std::vector<std::string>& valid);

  // Typed readers of j[key] at `path`.key: `out` is left as it is when the key is absent, has
  // the wrong type or does not fit `out` (a problem then: nothing is wrapped or rounded).
  // Counts are non-negative integers (5.0 accepted).
  void read(const json& j, const std::string& key, const std::string& path, std::string& out);
  void read(const json& j, const std::string& key, const std::string& path, double& out);
  void read(const json& j, const std::string& key, const std::string& path, std::size_t& out);
  void read(const json& j, const std::string& key, const std::string& path, int& out);

  // A name in `table`, stored as its row's value.
  template <class Row, class T>
  void read_name(const json& j, const std::string& key, const std::string& path,
                 const NameTable<Row>& table, T& out) {
    std::string name;
    if (!read_string(j, key, path, name)) return;
    if (const Row* r = table.find(name))
      out = r->value;
    else
      problems_.push_back(
          unknown_name(table.what(), name, table.names(), join_key_path(path, key)));
  }

  // A scalar or a list of scalars at j[key] → a non-empty list (false: absent or a problem).
  bool read_list(const json& j, const std::string& key, const std::string& path,
                 std::vector<std::string>& out);
  bool read_list(const json& j, const std::string& key, const std::string& path,
                 std::vector<std::uint64_t>& out);
  bool read_list(const json& j, const std::string& key, const std::string& path,
                 std::vector<int>& out);  // non-negative (bit-widths)

 private:
  bool read_counts(const json& j, const std::string& key, const std::string& path,
                   std::uint64_t max, std::vector<std::uint64_t>& out);
  bool read_string(const json& j, const std::string& key, const std::string& path,
                   std::string& out);
  // The scalar-or-list items of j[key], or nothing (and a problem) for an empty list.
  std::vector<std::pair<std::string, const json*>> items(const json& j, const std::string& key,
                                                         const std::string& path);

  std::vector<Error> problems_;
};

// "base[i]"
std::string index_path(const std::string& base, std::size_t i);

// `v` as a non-negative integer no larger than `max` (an integral float such as 5.0 counts):
// "" with `out` set, or why not ("expected non-negative integer, got -1",
// "1e+30 is out of range (0 .. 2^64-1)"), to follow a key path.
std::string as_count(const nlohmann::json& v, std::uint64_t max, std::uint64_t& out);

}  // namespace qb::exp
