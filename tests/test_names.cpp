// Name tables (engine/names.h) and key-path errors (engine/check.h).
#include "engine/check.h"
#include "engine/names.h"

#include <catch2/catch.hpp>

using namespace qb;

namespace {

enum class Fruit { apple, banana, cherry };
constexpr Named<Fruit> kFruitRows[] = {
    {"apple", Fruit::apple}, {"banana", Fruit::banana}, {"cherry", Fruit::cherry}};
constexpr NameTable<Named<Fruit>> kFruits{"fruit", kFruitRows};

}  // namespace

TEST_CASE("a name table parses its names and refuses others in one form", "[names]") {
  CHECK(kFruits.parse("banana").value == Fruit::banana);
  CHECK(kFruits.row_of(Fruit::cherry).name == "cherry");
  CHECK(kFruits.find("durian") == nullptr);
  CHECK(kFruits.names() == std::vector<std::string>{"apple", "banana", "cherry"});
  static_assert(kFruits.find("apple")->value == Fruit::apple);  // usable at compile time
  CHECK_THROWS_WITH(kFruits.parse("banan"),
                    "unknown fruit 'banan' (valid: apple, banana, cherry; did you mean 'banana'?)");
  // No suggestion for a name that is no near miss.
  CHECK_THROWS_WITH(kFruits.parse("pineapple"),
                    "unknown fruit 'pineapple' (valid: apple, banana, cherry)");
  try {
    kFruits.parse("chery", "basket[2]");
    FAIL("no throw");
  } catch (const Error& e) {
    CHECK(e.key_path() == "basket[2]");
    CHECK(std::string(e.what()).rfind("basket[2]: unknown fruit 'chery'", 0) == 0);
  }
}

TEST_CASE("edit distance and the nearest name", "[names]") {
  CHECK(edit_distance("kitten", "sitting") == 3);
  CHECK(edit_distance("", "abc") == 3);
  CHECK(edit_distance("same", "same") == 0);
  CHECK(nearest_name("adm", {"sgd", "adam"}) == "adam");
  CHECK(nearest_name("rmsprop", {"sgd", "adam"}).empty());
}

TEST_CASE("errors carry a key path that callers nest", "[names]") {
  const Error e = key_error("options.eta", "expected number, got string");
  CHECK(e.key_path() == "options.eta");
  CHECK(e.message() == "expected number, got string");
  CHECK(std::string(e.what()) == "options.eta: expected number, got string");
  CHECK(std::string(e.within("methods[2]").what()) ==
        "methods[2].options.eta: expected number, got string");
  CHECK(std::string(key_error("[3]", "bad").within("wbits").what()) == "wbits[3]: bad");
  CHECK(std::string(error("no key").within("dataset").what()) == "dataset: no key");
  const Errors all({key_error("a", "one"), key_error("b.c", "two")});
  CHECK(std::string(all.what()) == "a: one\nb.c: two");
  CHECK(all.problems().size() == 2);
}
