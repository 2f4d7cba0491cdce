// Sweep configs: Cartesian expansion with exclude/include, content-addressed cell keys, and
// one line per problem naming its key path.
#include "engine/check.h"
#include "experiments/config.h"
#include "experiments/hash.h"
#include "experiments/results_columns.h"
#include "experiments/runner.h"
#include "experiments/store.h"
#include "tests/support.h"

#include <catch2/catch.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <set>
#include <thread>

using namespace qb;
using json = nlohmann::json;

namespace {

json base() {
  return json::parse(R"({
    "dataset": {"name": "synthetic"},
    "networks": ["lenet5"],
    "seeds": [1, 2],
    "fp32": {"epochs": 1},
    "wbits": [8, 4], "abits": [8, 4],
    "methods": [{"name": "fp32", "wbits": 32, "abits": 32}, {"name": "minmax"}]
  })");
}

std::set<std::string> names(const exp::Sweep& s) {
  std::set<std::string> out;
  for (const auto& c : s.cells) out.insert(c.name);
  return out;
}

std::string problems(const json& j) {
  try {
    exp::parse_sweep(j);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST_CASE("cells are the Cartesian product minus excludes plus includes", "[sweep]") {
  json j = base();
  CHECK(exp::parse_sweep(j).cells.size() == 2 * (1 + 4));  // seeds × (fp32 + minmax 2×2)

  j["exclude"] = json::parse(R"([{"wbits": 8, "abits": 4}, {"wbits": 4, "abits": 8}])");
  exp::Sweep s = exp::parse_sweep(j);
  CHECK(s.cells.size() == 2 * 3);
  CHECK(names(s).count("minmax/w8a4/lenet5/synthetic/s1") == 0);
  CHECK(names(s).count("minmax/w4a4/lenet5/synthetic/s2") == 1);

  // An include adds cells the excludes removed (and is never excluded itself).
  j["include"] = json::parse(R"([{"method": "minmax", "wbits": 8, "abits": 4, "seed": 1}])");
  s = exp::parse_sweep(j);
  CHECK(s.cells.size() == 2 * 3 + 1);
  CHECK(names(s).count("minmax/w8a4/lenet5/synthetic/s1") == 1);

  // Each pretraining is followed by the fine-tunes that start from it; indices are positions.
  for (std::size_t i = 0; i < s.cells.size(); ++i) CHECK(s.cells[i].index == i);
  CHECK(s.cells.front().seed == 1);
  CHECK(s.cells[3].seed == 1);
}

TEST_CASE("cell keys are stable, depend on content only, and differ between cells", "[sweep]") {
  const exp::Sweep a = exp::parse_sweep(base());
  json j = base();
  j["fp32"]["epochs"] = 1.0;                // a number written differently
  j["dataset"]["data_dir"] = "/elsewhere";  // the folder is not part of a cell's identity
  const exp::Sweep b = exp::parse_sweep(j);
  REQUIRE(a.cells.size() == b.cells.size());
  std::set<std::string> keys;
  for (std::size_t i = 0; i < a.cells.size(); ++i) {
    CHECK(a.cells[i].key == b.cells[i].key);
    CHECK(a.cells[i].key.size() == 16);
    keys.insert(a.cells[i].key);
  }
  CHECK(keys.size() == a.cells.size());
  CHECK(a.hash == b.hash);
  // A pinned key: changing how keys are computed silently orphans every stored result.
  CHECK(exp::content_key(json::parse(R"({"b": 1.0, "a": [2, 0.5]})")) ==
        exp::content_key(json::parse(R"({"a": [2.0, 0.5], "b": 1})")));
  CHECK(exp::hex16(exp::fnv1a64("")) == "cbf29ce484222325");
  CHECK(exp::hex16(exp::fnv1a64("a")) == "af63dc4c8601ec8c");

  // Anything that changes a result changes the key: the recipe, the options, the data.
  j = base();
  j["methods"][1]["recipe"] = {{"lr", 0.01}};
  CHECK(exp::parse_sweep(j).cells.back().key != a.cells.back().key);
  j = base();
  j["methods"][1]["options"] = {{"momentum", 0.5}};
  CHECK(exp::parse_sweep(j).cells.back().key != a.cells.back().key);
  j = base();
  j["dataset"]["train_limit"] = 100;
  const exp::Sweep c = exp::parse_sweep(j);
  CHECK(c.cells.back().key != a.cells.back().key);
  CHECK(c.cells.back().fp32_key != a.cells.back().fp32_key);
  CHECK(c.hash != a.hash);
}

TEST_CASE("config problems are reported one per line with their key path", "[sweep]") {
  json j = base();
  j["methods"].push_back({{"name", "syq"}, {"options", {{"eta", "big"}}}});
  j["methods"].push_back({{"name", "alt"}, {"wbits", {20}}});
  j["methods"].push_back({{"name", "minmx"}});
  j["dataset"]["trian_limit"] = 5;
  j["seeds"] = json::array();
  const std::string p = problems(j);
  CHECK_THAT(p, Catch::Contains("methods[2].options.eta: expected number, got string"));
  CHECK_THAT(p, Catch::Contains("methods[3].wbits[0]: alt supports 1..16 bits"));
  CHECK_THAT(p, Catch::Contains("methods[4].name: unknown method 'minmx' (valid: "));
  CHECK_THAT(p, Catch::Contains("did you mean 'minmax'?)"));
  CHECK_THAT(p, Catch::Contains("dataset.trian_limit: unknown key (did you mean 'train_limit'?)"));
  CHECK_THAT(p, Catch::Contains("seeds: empty list"));

  j = base();
  j["exclude"] = json::parse(R"([{"method": ["fp32", "minmax"]}])");
  CHECK_THAT(problems(j), Catch::Contains("the sweep is empty"));
  j["exclude"] = json::parse(R"([{"method": "minmax", "wbits": 3}])");
  CHECK_THAT(problems(j), Catch::Contains("exclude[0]: matches no cell"));
  j = base();
  j["methods"][1]["granularity"] = "row";  // only the quantizer's constructor knows
  CHECK_THAT(problems(j), Catch::Contains("methods[1].options.granularity: minmax supports"));
  j = base();
  j["methods"][1]["first_last"] = {"same", "fp23"};
  CHECK_THAT(problems(j), Catch::Contains("methods[1].first_last[1]: unknown first_last 'fp23' "
                                          "(valid: same, 8, fp32; did you mean 'fp32'?)"));
  j = base();
  j["fp32"] = {{"optimizer", "adm"}};
  CHECK_THAT(problems(j), Catch::Contains("fp32.optimizer: unknown optimizer 'adm'"));
}

TEST_CASE("shards are disjoint and cover the sweep", "[sweep]") {
  for (std::size_t n : {1, 2, 3, 7}) {
    std::set<std::size_t> all;
    std::size_t total = 0;
    for (std::size_t i = 0; i < n; ++i) {
      const auto part = exp::shard_indices(10, i, n);
      total += part.size();
      all.insert(part.begin(), part.end());
    }
    CHECK(total == 10);
    CHECK(all.size() == 10);
  }
}

TEST_CASE("integers beyond their type are refused with their key path, never wrapped", "[sweep]") {
  json j = base();
  j["seeds"] = json::parse("[1180591620717411303424]");  // 2^70, read as a double
  CHECK(problems(j) == "seeds[0]: 1180591620717411303424 is out of range (0 .. 2^64-1)");
  j = base();
  j["seeds"] = json::parse("[18446744073709551616]");  // 2^64
  CHECK(problems(j) == "seeds[0]: 18446744073709551616 is out of range (0 .. 2^64-1)");
  j = base();
  j["fp32"]["epochs"] = json::parse("1e30");
  CHECK(problems(j) == "fp32.epochs: 1e+30 is out of range (0 .. 2^64-1)");
  j = base();
  j["methods"][1]["wbits"] = json::parse("[4, 1099511627776]");  // bit-widths are ints
  CHECK(problems(j) == "methods[1].wbits[1]: 1099511627776 is out of range (0 .. 2^31-1)");
  j = base();
  j["seeds"] = json::parse("[18446744073709551615]");  // 2^64 − 1 itself fits
  CHECK(exp::parse_sweep(j).cells.front().seed == 18446744073709551615u);
}

TEST_CASE("a config of too many cells is refused before anything expands it", "[sweep]") {
  const std::string raise = " (raise \"max_cells\" or --max-cells to run it)";
  json j = base();  // 2 seeds × (fp32 + minmax 2×2) = 10 cells
  j["max_cells"] = 9;
  CHECK(problems(j) == "the sweep holds 10 cells before excludes, over the limit of 9" + raise);
  CHECK(exp::parse_sweep(j, 10).cells.size() == 10);  // --max-cells replaces the key
  j["max_cells"] = 10;
  CHECK(exp::parse_sweep(j).cells.size() == 10);

  // 10^7 cells (10^4 seeds × 10^3 bit-widths): the default limit, counted, not built.
  j = base();
  j["seeds"] = json::array();
  for (int s = 0; s < 10000; ++s) j["seeds"].push_back(s);
  j["methods"] = json::parse(R"([{"name": "minmax", "abits": 8}])");
  j["methods"][0]["wbits"] = std::vector<int>(1000, 8);
  CHECK(problems(j) ==
        "the sweep holds 10000000 cells before excludes, over the limit of 100000" + raise);

  // 2^70 cells: the count saturates instead of wrapping to a small number.
  j = base();
  for (const char* key :
       {"networks", "seeds", "wbits", "abits", "gbits", "first_last", "granularity"})
    j[key] = json::array();
  for (int i = 0; i < 1024; ++i) {
    j["networks"].push_back("lenet5");
    j["seeds"].push_back(i);
    j["wbits"].push_back(8);
    j["abits"].push_back(8);
    j["gbits"].push_back(32);
    j["first_last"].push_back("same");
    j["granularity"].push_back("tensor");
  }
  j["methods"] = json::parse(R"([{"name": "minmax"}])");
  CHECK(problems(j) ==
        "the sweep holds over 2^64-1 cells before excludes, over the limit of 100000" + raise);
}

TEST_CASE("the integer option names accumulator models and leaves cell keys alone", "[sweep]") {
  json j = base();
  const exp::Sweep plain = exp::parse_sweep(j);
  j["integer"] = {{"acc", {"int32", "pair-saturate"}}};
  const exp::Sweep with = exp::parse_sweep(j);
  REQUIRE(with.cells.size() == plain.cells.size());
  // Integer results are added to a finished cell from its checkpoint, never by training again:
  // the option is not part of a cell's identity, nor of the sweep's.
  CHECK(with.hash == plain.hash);
  for (std::size_t i = 0; i < with.cells.size(); ++i) {
    CHECK(with.cells[i].key == plain.cells[i].key);
    CHECK(plain.cells[i].integer_acc.empty());
    CHECK(with.cells[i].integer_acc ==
          std::vector{integer::AccModel::int32, integer::AccModel::pair_saturate});
  }
  j["integer"] = {{"acc", "wrap"}};  // one value for a list
  CHECK(exp::parse_sweep(j).cells[0].integer_acc == std::vector{integer::AccModel::wrap});
  CHECK(exp::parse_sweep(j).cells[0].integer_simulate == 0);  // simulate every image
  j["integer"] = {{"acc", "wrap"}, {"simulate", 1000}};
  CHECK(exp::parse_sweep(j).cells[0].integer_simulate == 1000);
  CHECK(exp::parse_sweep(j).cells[0].key == plain.cells[0].key);
  j["integer"] = {{"acc", "wrap"}, {"simulate", -1}};
  CHECK(problems(j).find("integer.simulate: ") == 0);

  j["integer"] = {{"acc", {"int32", "wrapp"}}};
  CHECK(problems(j) ==
        "integer.acc[1]: unknown accumulator model 'wrapp' (valid: int32, wrap, saturate, "
        "pair-saturate, pair-wrap, lanes; did you mean 'wrap'?)");
  j["integer"] = {{"acc", 16}};
  CHECK(problems(j) == "integer.acc: expected string, got number");
  j["integer"] = {{"acc", {"saturate", 16}}};
  CHECK(problems(j) == "integer.acc[1]: expected string, got number");
  j["integer"] = {"int32"};
  CHECK(problems(j) == "integer: expected object, got array");
  j["integer"] = {{"acc", {"wrap", "wrap"}}};
  CHECK(problems(j) == "integer.acc[1]: 'wrap' is listed twice");
  j["integer"] = json::object();
  CHECK(problems(j) == "integer.acc: missing (e.g. [\"int32\", \"wrap\", \"saturate\"])");
  j["integer"] = {{"accs", {"wrap"}}, {"acc", "int32"}};
  CHECK(problems(j) == "integer.accs: unknown key (did you mean 'acc'?)");
  j.erase("integer");
  j["integr"] = {{"acc", "int32"}};
  CHECK(problems(j) == "integr: unknown key (did you mean 'integer'?)");
}

TEST_CASE("every accumulator model has its integer summary columns", "[sweep]") {
  std::size_t acc_columns = 0;
  for (const auto& col : exp::kResultsColumns.rows())
    acc_columns += col.name.substr(0, 8) == "int_acc_";
  CHECK(acc_columns == std::size(integer::kAccModelRows));
  for (const auto& row : integer::kAccModelRows) {
    std::string model(row.name);
    std::replace(model.begin(), model.end(), '-', '_');
    for (const char* quantity :
         {"int_acc_", "int_agree_", "int_wrong_", "int_rate_", "int_mismatch_"}) {
      const exp::ResultsColumn* col = exp::kResultsColumns.find(quantity + model);
      REQUIRE(col);
      CHECK(col->type == exp::ColumnType::real);
      CHECK(col->optional);  // absent from files merged before them
      CHECK(!col->metric_label.empty());
    }
  }
}

TEST_CASE("cells that fine-tune keep the keys they had before init existed", "[sweep]") {
  // ci-tiny's keys and sweep hash as qbench printed them before cells could start from scratch
  // (`qbench sweep experiments/configs/ci-tiny.json --dry-run` at commit 3b31885).
  const exp::Sweep s =
      exp::load_sweep(std::string(QB_SOURCE_DIR) + "/experiments/configs/ci-tiny.json");
  const std::vector<std::string> keys = {"b4a4905ee4f96d29", "c045af51fc206a86", "12e808273d4b4aae",
                                         "dd1d21701955025b", "72082fe79d46f013"};
  REQUIRE(s.cells.size() == keys.size());
  for (std::size_t i = 0; i < keys.size(); ++i) CHECK(s.cells[i].key == keys[i]);
  CHECK(s.hash == "b49b640827d67b44");
  // Writing the default out changes nothing either.
  json j = base();
  j["methods"][1]["init"] = "fp32";
  CHECK(exp::parse_sweep(j).hash == exp::parse_sweep(base()).hash);
}

TEST_CASE("a method entry with init scratch trains from random init with the FP32 recipe",
          "[sweep]") {
  json j = base();
  j["fp32"] = {{"epochs", 7}, {"lr", 0.1}, {"batch", 64}};
  j["finetune"] = {{"epochs", 2}, {"lr", 0.001}};
  const exp::Sweep tuned = exp::parse_sweep(j);
  j["methods"][1]["init"] = "scratch";
  const exp::Sweep s = exp::parse_sweep(j);
  REQUIRE(s.cells.size() == tuned.cells.size());
  // The same cell fine-tuned: by name, since scratch cells are ordered first.
  auto tuned_cell = [&](const std::string& name) -> const exp::Cell& {
    for (const exp::Cell& t : tuned.cells)
      if (t.name == name) return t;
    FAIL("no fine-tuned cell " << name);
    return tuned.cells.front();
  };
  for (std::size_t i = 0; i < s.cells.size(); ++i) {
    const exp::Cell& c = s.cells[i];
    if (c.method == "fp32") {  // the other entry is untouched
      CHECK(c.init == exp::Init::fp32);
      CHECK(c.key == tuned_cell(c.name).key);
      CHECK(!c.fp32_key.empty());
      continue;
    }
    CHECK(c.init == exp::Init::scratch);
    CHECK(c.recipe.epochs == 7);  // the fp32 recipe, not finetune's
    CHECK(c.recipe.lr == 0.1);
    CHECK(c.recipe.batch == 64);
    CHECK(c.fp32_key.empty());  // no pretraining behind it
    CHECK(exp::cell_json(c).at("init") == "scratch");
    REQUIRE(c.name.size() > 8);
    CHECK(c.name.substr(c.name.size() - 8) == "/scratch");
    CHECK(c.key != tuned_cell(c.name.substr(0, c.name.size() - 8)).key);
    CHECK(exp::cell_train_config(c).init.empty());
  }
  // A recipe in the entry overrides the fp32 one key by key.
  j["methods"][1]["recipe"] = {{"lr", 0.02}};
  const exp::Sweep overridden = exp::parse_sweep(j);
  const exp::Cell& c = overridden.cells.front();
  REQUIRE(c.init == exp::Init::scratch);
  CHECK(c.recipe.lr == 0.02);
  CHECK(c.recipe.epochs == 7);
  // An include rule takes its entry's init.
  j["include"] = json::parse(R"([{"method": "minmax", "wbits": 2, "abits": 2, "seed": 1}])");
  for (const exp::Cell& cell : exp::parse_sweep(j).cells)
    if (cell.method == "minmax") CHECK(cell.init == exp::Init::scratch);
}

TEST_CASE("cells trained from scratch come first in a network, then seeds, then methods",
          "[sweep]") {
  // The longest cells (a whole FP32 recipe each) start first, so that no process is left with
  // one of them while the others have run out of work.
  json j = base();
  j["seeds"] = {2, 1};
  j["methods"][1]["init"] = "scratch";
  const exp::Sweep s = exp::parse_sweep(j);
  std::vector<std::pair<bool, std::uint64_t>> order;
  for (const exp::Cell& c : s.cells) order.emplace_back(c.init == exp::Init::scratch, c.seed);
  REQUIRE(order.size() >= 4);
  std::size_t scratch = 0;
  while (scratch < order.size() && order[scratch].first) ++scratch;
  REQUIRE(scratch > 0);
  REQUIRE(scratch < order.size());
  for (std::size_t i = scratch; i < order.size(); ++i) CHECK(!order[i].first);  // none after
  // Within each part, seeds in the config's order: 2 before 1.
  auto rank = [](std::uint64_t seed) { return seed == 2 ? 0 : 1; };
  for (std::size_t i = 1; i < order.size(); ++i)
    if (i != scratch) CHECK(rank(order[i - 1].second) <= rank(order[i].second));
}

TEST_CASE("a misspelt init is refused with the valid names", "[sweep]") {
  json j = base();
  j["methods"][1]["init"] = "scrach";
  CHECK(problems(j) ==
        "methods[1].init: unknown init 'scrach' (valid: fp32, scratch; did you mean 'scratch'?)");
  j["methods"][1]["init"] = 1;
  CHECK(problems(j) == "methods[1].init: expected string, got number");
}

TEST_CASE("a cell whose pretraining another process holds is put off, not waited on", "[sweep]") {
  // Two seeds, one fine-tuning cell each; "another process" (a lock held here) pretrains seed 1.
  json j = base();
  j["methods"] = json::parse(R"([{"name": "minmax", "wbits": 8, "abits": 8}])");
  j["finetune"] = {{"epochs", 1}};
  const exp::Sweep s = exp::parse_sweep(j);
  REQUIRE(s.cells.size() == 2);
  REQUIRE(s.cells[0].seed == 1);
  const test::TempDir dir;
  exp::prepare_results_dir(dir.path.string(), s, s.config);
  exp::RunOptions o;
  o.out = dir.path.string();
  o.threads = 1;
  o.quiet = true;
  auto lock = std::make_unique<exp::FileLock>(o.out, "fp32-" + s.cells[0].fp32_key, true);
  REQUIRE(lock->owns());

  std::FILE* out = std::tmpfile();
  REQUIRE(out != nullptr);
  std::thread sweep([&] { exp::run_cells(s, {0, 1}, o, out); });
  // Seed 2's cell finishes while seed 1's pretraining is still held: it was not waited for.
  // (Without the put-off, the sweep would block on the lock and this wait would run out.)
  const std::string second = exp::cell_path(o.out, s.cells[1].key);
  const std::string first = exp::cell_path(o.out, s.cells[0].key);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::minutes(3);
  while (!std::filesystem::exists(second) && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  CHECK(std::filesystem::exists(second));
  CHECK(!std::filesystem::exists(first));
  lock.reset();  // the other process is gone: seed 1 is pretrained and its cell run here
  sweep.join();
  CHECK(std::filesystem::exists(first));
  std::fclose(out);
}
