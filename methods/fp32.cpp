// fp32: the identity, in every role. The baseline every table's Δ is measured against.
#include "methods/method.h"

namespace qb {
namespace {

class IdentityQuantizer final : public Quantizer {
 public:
  using Quantizer::Quantizer;
  const Tensor& forward(const Tensor& x, bool) override { return x; }
  const Tensor& backward(const Tensor& dy) override { return dy; }
  Grid grid() const override { return Grid{32, true}; }
};

class Fp32Method final : public Method {
 public:
  const MethodInfo& info() const override {
    static const MethodInfo mi{"fp32",
                               "-",
                               "identity: no quantization (the baseline)",
                               {QuantRole::weight, QuantRole::activation, QuantRole::gradient},
                               32,
                               32,
                               {}};
    return mi;
  }
  std::unique_ptr<Quantizer> make_quantizer(const QuantizerSpec& spec) const override {
    return std::make_unique<IdentityQuantizer>(spec);
  }
};

}  // namespace

std::unique_ptr<Method> make_fp32_method() { return std::make_unique<Fp32Method>(); }

}  // namespace qb
