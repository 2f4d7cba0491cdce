// Hand-written JSON: duplicate keys, numbers beyond a double, malformed text and directories are
// refused with the origin, the key path and the byte offset.
#include "engine/check.h"
#include "engine/io/json_parse.h"
#include "tests/support.h"

#include <catch2/catch.hpp>

#include <fstream>

using namespace qb;
using qb::test::TempDir;

TEST_CASE("json_parse: a key twice in one object is refused where it repeats", "[json]") {
  CHECK_THROWS_WITH(parse_user_json(R"({"a": 1, "b": {"c": [1, {"d": 2, "d": 3}]}})", "f.json"),
                    "f.json: b.c[1].d: duplicate key at byte 33 (first at byte 25)");
  // An escaped quote inside the key does not end it.
  CHECK_THROWS_WITH(parse_user_json(R"({"a\"b": 1, "a\"b": 2})", "request"),
                    "request: a\"b: duplicate key at byte 12 (first at byte 1)");
  // The same key in two objects, or in an object inside a list, is fine.
  const auto j =
      parse_user_json(R"({"a": {"k": 1}, "b": {"k": 2}, "l": [{"k": 1}, {"k": 2}]})", "f.json");
  CHECK(j["l"][1]["k"] == 2);
}

TEST_CASE("json_parse: a number beyond a double names its key and byte", "[json]") {
  CHECK_THROWS_WITH(parse_user_json(R"({"lr": 0.1, "x": [1, 2, 1e400]})", "f.json"),
                    "f.json: x[2]: 1e400 at byte 24 is out of range (beyond a double, ±1.8e308)");
  CHECK_THROWS_WITH(parse_user_json("-1e400", "f.json"),
                    "f.json: -1e400 at byte 0 is out of range (beyond a double, ±1.8e308)");
}

TEST_CASE("json_parse: malformed text, directories and missing files", "[json]") {
  CHECK_THROWS_WITH(parse_user_json(R"({"a": )", "f.json"),
                    Catch::StartsWith("f.json: malformed JSON at byte 6 ("));
  TempDir t;
  CHECK_THROWS_WITH(read_user_json(t.path.string(), "sweep config file"),
                    t.path.string() + ": is a directory, expected a sweep config file");
  const std::string missing = (t.path / "none.json").string();
  CHECK_THROWS_WITH(read_user_json(missing, "table spec file"),
                    missing + ": file not found, expected a table spec file");
  const std::string file = (t.path / "ok.json").string();
  std::ofstream(file) << R"({"k": [1, 2]})";
  CHECK(read_user_json(file, "sweep config file")["k"][1] == 2);
}
