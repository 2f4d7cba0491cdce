// An out-of-tree quantization method: "fixed_range", uniform round-to-nearest quantization
// over a clipping range fixed by an option instead of calibrated or learned.
//
//   y = s · clamp(rint(x / s), lo, hi)       rint: round half to even (PROBE.md convention)
//   signed (weights):         hi = 2^(b-1) - 1, lo = -hi, s = clip / hi
//   unsigned (activations):   hi = 2^b - 1,     lo = 0,   s = clip / hi
//   backward: clipped straight-through estimator, dL/dx = dL/dy where x lies inside the
//             representable range, 0 where it was clipped.
//
// Adding a method outside the tree takes three things, all shown below:
//   1. a Quantizer subclass (forward, backward, grid) and a Method subclass (info, make_quantizer);
//   2. qb::register_method(name, factory) at start-up, before anything looks methods up;
//   3. a CMake project with find_package(qbench) linking qbench::methods (CMakeLists.txt here).
// From then on the method is found by name like a built-in one (qb::make_method,
// qb::method_names). main() checks that and the quantizer's values, runs the conformance
// suite that every built-in method passes (qb::check_conformance), and exits non-zero on any
// failure: CTest runs it as the out_of_tree_method test.
#include <engine/check.h>
#include <methods/conformance.h>
#include <methods/fake_quant.h>
#include <methods/method.h>
#include <methods/registry.h>

#include <algorithm>
#include <cstdio>
#include <exception>
#include <memory>
#include <utility>
#include <vector>

namespace {

class FixedRangeQuantizer final : public qb::Quantizer {
 public:
  explicit FixedRangeQuantizer(qb::QuantizerSpec spec) : Quantizer(std::move(spec)) {
    // Signed for weights, unsigned for activations (every input but the image follows a ReLU),
    // unless the spec says otherwise. make_checked() has validated the spec against info()
    // already (bits 2..16, known options); what info() cannot express is checked here.
    signed_ = spec_.is_signed.value_or(spec_.role != qb::QuantRole::activation);
    const float clip = spec_.option<float>("clip", 1.0f);
    if (!(clip > 0.0f)) throw qb::error("options.clip: must be positive, got ", clip);
    hi_ = signed_ ? float((1u << (spec_.bits - 1)) - 1) : float((1ull << spec_.bits) - 1);
    lo_ = signed_ ? -hi_ : 0.0f;
    scale_ = clip / hi_;
  }

  const qb::Tensor& forward(const qb::Tensor& x, bool /*training*/) override {
    x_ = &x;  // backward needs x; the layer contract keeps it alive until then
    qb::ensure_shape(y_, qb::shape_of(x));
    qb::fake_quant(x.data(), y_.data(), x.size(), scale_, lo_, hi_);  // the library's kernel
    return y_;
  }

  const qb::Tensor& backward(const qb::Tensor& dy) override {
    QB_CHECK(x_ && dy.size() == x_->size());
    qb::ensure_shape(dx_, qb::shape_of(dy));
    const float lo = lo_ * scale_, hi = hi_ * scale_;
    for (std::size_t i = 0; i < dy.size(); ++i) {
      const float x = x_->data()[i];
      dx_.data()[i] = x >= lo && x <= hi ? dy.data()[i] : 0.0f;
    }
    return dx_;
  }

  // Everything integer inference needs: one scale, symmetric (no zero point).
  qb::Grid grid() const override {
    qb::Grid g;
    g.bits = spec_.bits;
    g.is_signed = signed_;
    g.scale = {scale_};
    return g;
  }

 private:
  bool signed_ = true;
  float lo_ = 0.0f, hi_ = 0.0f, scale_ = 1.0f;
  const qb::Tensor* x_ = nullptr;
  qb::Tensor y_, dx_;  // owned output buffers, reused across calls
};

class FixedRangeMethod final : public qb::Method {
 public:
  // validate() / make_checked() refuse other roles, bits outside 2..16 and unknown options.
  const qb::MethodInfo& info() const override {
    static const qb::MethodInfo mi{
        "fixed_range",
        "- (out-of-tree example)",
        "uniform round-to-nearest over [-clip, clip] or [0, clip], clip an option; clipped STE",
        {qb::QuantRole::weight, qb::QuantRole::activation},
        2,
        16,
        {{"clip", 1.0, "the clipping range: |x| above it saturates"}}};
    return mi;
  }
  std::unique_ptr<qb::Quantizer> make_quantizer(const qb::QuantizerSpec& spec) const override {
    return std::make_unique<FixedRangeQuantizer>(spec);
  }
  // make_layer (which quantizers a layer gets) and the trainer hooks keep their defaults.
};

int failures = 0;
void expect(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "FAIL: %s\n", what);
    ++failures;
  }
}

bool equal(const qb::Tensor& t, const std::vector<float>& want) {
  return t.size() == want.size() && std::equal(want.begin(), want.end(), t.data());
}

}  // namespace

int main() try {
  qb::register_method("fixed_range", [] { return std::make_unique<FixedRangeMethod>(); });

  const auto names = qb::method_names();
  expect(std::find(names.begin(), names.end(), "fixed_range") != names.end(),
         "qb::method_names() lists fixed_range");

  // Found by name, like a built-in method.
  const std::unique_ptr<qb::Method> method = qb::make_method("fixed_range");
  qb::QuantizerSpec spec;
  spec.role = qb::QuantRole::weight;
  spec.bits = 3;                   // signed: levels -3..3
  spec.options = {{"clip", 1.5}};  // so the step is s = 1.5 / 3 = 0.5
  const std::unique_ptr<qb::Quantizer> q = method->make_checked(spec);

  // x/s = -4, -1.48, -0.4, 0, 0.52, 1.5, 2.8, 6: clamped to ±3, rounded half to even (1.5 -> 2).
  const qb::Tensor x = {-2.0f, -0.74f, -0.2f, 0.0f, 0.26f, 0.75f, 1.4f, 3.0f};
  const qb::Tensor& y = q->forward(x, /*training=*/true);
  expect(equal(y, {-1.5f, -0.5f, 0.0f, 0.0f, 0.5f, 1.0f, 1.5f, 1.5f}), "forward values");

  // The gradient passes where |x| <= 1.5 and stops where x was clipped (-2 and 3).
  const qb::Tensor dy = {1.0f, 2.0f, 3.0f, 4.0f, 5.0f, 6.0f, 7.0f, 8.0f};
  const qb::Tensor& dx = q->backward(dy);
  expect(equal(dx, {0.0f, 2.0f, 3.0f, 4.0f, 5.0f, 6.0f, 7.0f, 0.0f}), "backward values");

  const qb::Grid g = q->grid();
  expect(g.bits == 3 && g.is_signed && g.scale == std::vector<float>{0.5f}, "grid");

  // The registry's validation applies to it too: an unknown option is refused.
  spec.options = {{"clp", 1.5}};
  bool refused = false;
  try {
    method->make_checked(spec);
  } catch (const qb::Error&) {
    refused = true;
  }
  expect(refused, "make_checked refuses the unknown option 'clp'");

  // The built-in methods' conformance suite, on every role and bit-width fixed_range declares.
  const qb::ConformanceReport report = qb::check_conformance("fixed_range");
  for (const qb::ConformanceFailure& f : report.failures)
    std::fprintf(stderr, "FAIL: conformance: %s\n", qb::to_string(f).c_str());
  failures += int(report.failures.size());

  if (failures) return 1;
  std::printf(
      "fixed_range: registered out of tree; forward, backward, grid and validation OK; "
      "conformance suite passed on %zu role/bit-width cases\n",
      report.cases_checked);
  return 0;
} catch (const std::exception& e) {
  std::fprintf(stderr, "FAIL: %s\n", e.what());
  return 1;
}
