// Quantization-aware training: which quantizers a method installs where, fine-tuning from an
// FP32 checkpoint, and bit-exact resume with learned quantizer parameters and running state.
#include "engine/check.h"
#include "engine/nets.h"
#include "engine/parallel.h"
#include "methods/qat.h"
#include "methods/quantizer.h"
#include "methods/registry.h"
#include "tests/support.h"

#include <catch2/catch.hpp>

#include <cstring>

using namespace qb;

namespace {

int bits_of(Layer* l, HookSlot slot) {
  auto* q = dynamic_cast<Quantizer*>(l->hook(slot));
  return q ? q->grid().bits : 0;
}

}  // namespace

TEST_CASE("a method's quantizers land in the right slots", "[qat]") {
  auto net = make_network("lenet5", {1, 28, 28});
  QatConfig c{"pact", {}};
  c.settings.wbits = 4;
  c.settings.abits = 3;
  c.settings.first_last = FirstLast::eight;
  make_qat(c).attach(*net);
  const auto layers = net->hookable_layers();        // conv1 conv2 fc1 fc2 fc3
  CHECK(bits_of(layers[0], HookSlot::weight) == 8);  // first layer: 8-bit weights
  CHECK(bits_of(layers[0], HookSlot::input) == 0);   // the image stays in floating point
  CHECK(bits_of(layers[1], HookSlot::weight) == 4);
  CHECK(bits_of(layers[1], HookSlot::input) == 3);
  CHECK(bits_of(layers[4], HookSlot::weight) == 8);  // last layer
  CHECK(bits_of(layers[2], HookSlot::grad) == 0);    // PACT does not quantize gradients
  // Learned α: one per quantized input, named after the layer, in the quantizer group.
  int alphas = 0;
  for (Param* p : net->params())
    if (p->role == ParamRole::quantizer) {
      ++alphas;
      CHECK(p->name.find(".input_q.alpha") != std::string::npos);
    }
  CHECK(alphas == 4);

  auto net2 = make_network("lenet5", {1, 28, 28});
  c.settings.first_last = FirstLast::fp32;
  make_qat(c).attach(*net2);
  CHECK(bits_of(net2->hookable_layers()[0], HookSlot::weight) == 0);
  CHECK(bits_of(net2->hookable_layers()[4], HookSlot::weight) == 0);

  QatConfig bad{"minmax", {}};
  bad.settings.wbits = 40;
  CHECK_THROWS_WITH(make_qat(bad), Catch::StartsWith("bits"));
  CHECK_THROWS_WITH(make_qat(QatConfig{"lsq", {}}), Catch::Contains("unknown method 'lsq'"));
}

TEST_CASE("quantized fine-tuning starts from FP32 weights and resumes bit for bit",
          "[qat][checkpoint]") {
  const test::TempDir dir;
  Progress quiet = Progress::silent();
  TrainConfig fp = test::synthetic_lenet();
  fp.epochs = 1;
  fp.out = (dir.path / "fp32.h5").string();
  train(fp, quiet);

  QatConfig q{"minmax", {}};  // running activation ranges: hook state that must survive
  q.settings.wbits = 4;
  q.settings.abits = 4;
  TrainConfig qc = test::synthetic_lenet();
  qc.init = fp.out;
  qc.epochs = 2;
  qc.quantization = to_json(q);
  const nlohmann::json full = train(qc, quiet, make_qat(q));
  CHECK(full.at("test_accuracy").get<double>() > 0.8);
  REQUIRE(full.at("layers").size() == 5);
  CHECK(full.at("layers")[1].at("input").at("grid").at("bits") == 4);

  // Interrupted after epoch 1, then resumed: same test accuracy, same per-layer report.
  const std::string checkpoint = (dir.path / "q.h5").string();
  const nlohmann::json again = test::train_killed_and_resumed(qc, q, 1, checkpoint);
  CHECK(again.at("test_accuracy") == full.at("test_accuracy"));
  CHECK(again.at("layers") == full.at("layers"));

  // A different method cannot resume this run's checkpoint.
  QatConfig other{"pact", {}};
  other.settings.wbits = 4;
  other.settings.abits = 4;
  TrainConfig wrong = qc;
  wrong.resume = checkpoint;
  wrong.quantization = to_json(other);
  CHECK_THROWS_WITH(train(wrong, quiet, make_qat(other)), Catch::Contains("different run"));
}

// A sweep cell killed mid-training resumes from its last checkpoint (experiments/runner.cpp),
// so every registered method must resume bit for bit: killed after epoch 1 of 2 and resumed,
// each ends with the test accuracy, loss and per-layer report of an uninterrupted run, at
// test::low_bit_qat's widths.
TEST_CASE("every registered method resumes bit for bit", "[qat][checkpoint]") {
  const test::TempDir dir;
  Progress quiet = Progress::silent();
  TrainConfig fp = test::synthetic_lenet();
  fp.epochs = 1;
  fp.data.train_limit = 640;  // 10 steps an epoch: enough to carry state across the kill
  fp.out = (dir.path / "fp32.h5").string();
  train(fp, quiet);
  int methods = 0;
  for (const std::string& method : method_names()) {
    if (method == "fp32") continue;  // FP32 resumes in tests/test_train.cpp
    const QatConfig q = test::low_bit_qat(method);
    TrainConfig qc = test::synthetic_lenet();
    qc.init = fp.out;
    qc.epochs = 2;
    qc.data = fp.data;
    qc.quantization = to_json(q);
    INFO(method);
    const nlohmann::json full = train(qc, quiet, make_qat(q));
    const nlohmann::json again =
        test::train_killed_and_resumed(qc, q, 1, (dir.path / (method + ".h5")).string());
    CHECK(again.at("test_accuracy") == full.at("test_accuracy"));
    CHECK(again.at("test_loss") == full.at("test_loss"));
    CHECK(again.at("layers") == full.at("layers"));
    ++methods;
  }
  CHECK(methods >= 9);
}
