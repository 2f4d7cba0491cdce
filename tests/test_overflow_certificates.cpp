// What training arranged, integer inference (`qbench infer`'s function) confirms: a network
// trained by A2Q for a 16-bit accumulator overflows under no 16-bit model on any images, one
// trained by OAQ to certify wrap or pair-wrap shows no overflow under that model in its
// controlled layers on the images it was trained on (lanes: nearly none, see its test); naive
// minmax W8A8 does overflow (so these checks can fail).
#include "integer/infer.h"
#include "methods/qat.h"
#include "tests/support.h"

#include <catch2/catch.hpp>

#include <string>

using namespace qb;
using nlohmann::json;

namespace {

std::string trained(const test::TempDir& tmp, const std::string& method,
                    const json& options = json::object()) {
  QatConfig q{method, {}};
  q.settings.wbits = q.settings.abits = 8;
  q.settings.options = options;
  TrainConfig c = test::synthetic_lenet();
  c.out = (tmp.path / (method + ".h5")).string();
  c.quantization = to_json(q);
  Progress quiet = Progress::silent();
  train(c, quiet, make_qat(q));
  return c.out;
}

// The int8 layers of `qbench infer`'s report, in order.
json int8_layers(const std::string& checkpoint, integer::AccModel acc, const std::string& split) {
  integer::InferConfig ic;
  ic.checkpoint = checkpoint;
  ic.acc = acc;
  ic.split = split;
  ic.threads = 2;
  Progress quiet = Progress::silent();
  const json out = integer::infer(ic, quiet);
  CHECK(out.at("reference").at("mismatches") == 0);
  json layers = json::array();
  for (const json& l : out.at("layers"))
    if (l.at("kind") == "int8") layers.push_back(l);
  REQUIRE(layers.size() == 5);
  return layers;
}

std::int64_t wrong_from(const json& layers, std::size_t first) {
  std::int64_t n = 0;
  for (std::size_t i = first; i < layers.size(); ++i)
    n += layers[i].at("wrong").get<std::int64_t>();
  return n;
}

}  // namespace

TEST_CASE("certificates: naive minmax W8A8 overflows a 16-bit accumulator", "[oaq][a2q]") {
  const test::TempDir tmp;
  const std::string ck = trained(tmp, "minmax");
  CHECK(wrong_from(int8_layers(ck, integer::AccModel::wrap, "test"), 1) > 0);
}

TEST_CASE("certificates: A2Q overflows under no 16-bit model", "[a2q]") {
  const test::TempDir tmp;
  const std::string ck = trained(tmp, "a2q");
  for (auto acc :
       {integer::AccModel::wrap, integer::AccModel::saturate, integer::AccModel::pair_saturate,
        integer::AccModel::pair_wrap, integer::AccModel::lanes}) {
    INFO(integer::acc_model_name(acc));
    const json layers = int8_layers(ck, acc, "test");
    CHECK(wrong_from(layers, 0) == 0);
    CHECK(layers[2].at("dot_products").get<std::int64_t>() > 0);
  }
}

TEST_CASE("certificates: OAQ's controlled layers do not overflow the model they certify", "[oaq]") {
  const test::TempDir tmp;
  for (auto [name, acc] : {std::pair{"wrap", integer::AccModel::wrap},
                           std::pair{"pair-wrap", integer::AccModel::pair_wrap}}) {
    INFO(name);
    // MNN's clamp rule recounts each batch until it fits; the paper rule (α grows by at most
    // 0.01 per count) needs far more steps than these two short epochs.
    const std::string ck =
        trained(tmp, "oaq", {{"acc_model", name}, {"rule", "clamp"}, {"period", 1}});
    // The first layer's input is the image (pixels), which OAQ does not control.
    CHECK(wrong_from(int8_layers(ck, acc, "train"), 1) == 0);
  }
}

// MNN's lane partial sums (integer/ `lanes`). Training counts each batch's input at the running
// range the exported network quantizes with (methods/oaq.h), but the last weights and range
// are one optimizer step past the last count, and a lane holds only 2 products of every 16, so
// it sits nearer its edge than the full sum: on its training images the checkpoint keeps 6 of
// its 3.2 M dot products overflowed (73 when training counted at each batch's own range). What
// holds is a rate far below the uncontrolled network's, not 0: the certificate is data-driven
// and per step (note E.11).
TEST_CASE("certificates: OAQ certified for lanes nearly removes lane overflows", "[oaq]") {
  const test::TempDir tmp;
  const std::string ck =
      trained(tmp, "oaq", {{"acc_model", "lanes"}, {"rule", "clamp"}, {"period", 1}});
  const json layers = int8_layers(ck, integer::AccModel::lanes, "train");
  std::int64_t dot_products = 0;
  for (std::size_t i = 1; i < layers.size(); ++i)
    dot_products += layers[i].at("dot_products").get<std::int64_t>();
  CHECK(wrong_from(layers, 1) <= dot_products / 100000);
  const std::string naive = trained(tmp, "minmax");
  CHECK(wrong_from(int8_layers(naive, integer::AccModel::lanes, "train"), 1) > dot_products / 1000);
}
