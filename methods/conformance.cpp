#include "methods/conformance.h"

#include "engine/check.h"
#include "engine/rng.h"
#include "methods/registry.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <exception>
#include <iomanip>
#include <memory>
#include <set>
#include <sstream>

namespace qb {

namespace {

LayerInfo conv_layer() {
  LayerInfo l;
  l.name = "conv";
  l.kind = LayerKind::conv;
  l.in_channels = 3;
  l.out_channels = 4;
  l.kernel_h = l.kernel_w = 3;
  l.weight_shape = {4, 3, 3, 3};
  l.fan_in = 27;
  l.fan_out = 36;
  return l;
}

// Inputs typical of each role: weights ~N(0, 0.5), activations spread over [-1, 12]
// (past PACT's initial α = 8), gradients ~N(0, 0.01).
Tensor input_for(QuantRole role, std::uint64_t seed) {
  Tensor x = Tensor::from_shape(role == QuantRole::weight ? Shape{4, 3, 3, 3} : Shape{2, 3, 5, 5});
  Rng rng(seed);
  for (auto& v : x) {
    if (role == QuantRole::weight)
      v = float(rng.normal() * 0.5);
    else if (role == QuantRole::activation)
      v = -1.0f + 13.0f * rng.uniform();
    else
      v = float(rng.normal() * 0.01);
  }
  return x;
}

std::vector<int> bit_widths(const MethodInfo& mi) {
  std::vector<int> out;
  for (int b : {1, 2, 3, 4, 8, 16, 32})
    if (b >= mi.min_bits && b <= mi.max_bits) out.push_back(b);
  return out;
}

// nullptr when the method refuses the combination by its rules (a clean qb::Error).
std::unique_ptr<Quantizer> build(const Method& m, QuantRole role, int bits) {
  QuantizerSpec spec;
  spec.role = role;
  spec.bits = bits;
  spec.layer = conv_layer();
  try {
    m.validate(spec);
    return m.make_quantizer(spec);
  } catch (const Error&) {
    return nullptr;
  }
}

bool all_finite(const Tensor& t) {
  return std::all_of(t.begin(), t.end(), [](float v) { return std::isfinite(v); });
}

// Empty when a and b are the same bits; else where and how they differ.
std::string bitwise_difference(const Tensor& a, const Tensor& b) {
  if (a.shape() != b.shape())
    return detail::concat("shapes ", to_string(shape_of(a)), " vs ", to_string(shape_of(b)));
  for (std::size_t i = 0; i < a.size(); ++i)
    if (std::memcmp(a.data() + i, b.data() + i, sizeof(float)) != 0) {
      std::ostringstream os;
      os << std::setprecision(9) << "element " << i << ": " << a.data()[i] << " vs " << b.data()[i];
      return os.str();
    }
  return {};
}

// One method × role × bits case, checked in the order the header lists; a failure that leaves
// nothing sound to check further (a wrong shape) ends the case.
void check_case(const Method& m, QuantRole role, int bits, ConformanceReport& report) {
  auto q = build(m, role, bits);
  if (!q) {
    ++report.cases_refused;
    return;
  }
  ++report.cases_checked;
  auto fail = [&](const char* check, const auto&... what) {
    report.failures.push_back({report.method, role, bits, check, detail::concat(what...)});
  };
  try {
    const Tensor x = input_for(role, 11);
    q->calibrate(x);
    const Tensor y = q->forward(x, true);
    if (y.shape() != x.shape() || !all_finite(y))
      return fail("shape", "forward's output is not x's shape or not finite");

    const Grid g = q->grid();
    if (g.bits != bits) fail("grid", "grid().bits is ", g.bits);

    // Per-channel groups are contiguous blocks and are checked one by one; other groupings
    // (SYQ's kernel rows and positions interleave) are checked over the tensor.
    if (bits <= 8) {
      const std::size_t groups = g.scale.size() > 1 ? g.scale.size() : 1;
      const std::size_t per_group = std::size_t(1) << bits;
      if (g.granularity == "channel" || groups == 1) {
        const std::size_t per = y.size() / groups;
        for (std::size_t gi = 0; gi < groups; ++gi) {
          const std::set<float> levels(y.data() + gi * per, y.data() + (gi + 1) * per);
          if (levels.size() > per_group)
            fail("levels", "group ", gi, " of ", groups, " has ", levels.size(),
                 " distinct values, more than 2^", bits);
        }
      } else {
        const std::set<float> levels(y.begin(), y.end());
        if (levels.size() > groups * per_group)
          fail("levels", levels.size(), " distinct values in ", groups, " groups, more than ",
               groups, "·2^", bits);
      }
    }

    // With parameters fixed: evaluation mode, so no running statistics move.
    if (q->idempotent()) {
      const Tensor yy = q->forward(y, false);
      for (std::size_t i = 0; i < y.size(); ++i) {
        const double a = y.data()[i], aa = yy.data()[i], diff = std::abs(aa - a);
        if (diff > 1e-6 && diff > 1e-5 * std::abs(a)) {
          fail("idempotent", "element ", i, ": q(x) = ", a, ", q(q(x)) = ", aa);
          break;
        }
      }
      q->forward(x, true);  // backward below differentiates at x
    }

    std::vector<Param*> params;
    q->collect_params(params);
    if (role != QuantRole::gradient) {
      const Tensor dy = input_for(role, 12);
      for (Param* p : params) p->zero_grad();
      const Tensor dx = q->backward(dy);
      if (dx.shape() != x.shape() || !all_finite(dx))
        return fail("backward", "dL/dx is not x's shape or not finite");
      for (Param* p : params)
        if (!all_finite(p->grad)) return fail("backward", "a parameter's gradient is not finite");
    }

    if (role != QuantRole::gradient && q->exact_param_gradients() && !params.empty()) {
      ++report.gradients_checked;
      const double worst = worst_param_gradient_error(*q, x, input_for(role, 13));
      if (!(worst < 1e-2))
        fail("param_gradient", "dL/dθ is ", worst, " (relative) off the central difference");
    }

    auto q2 = build(m, role, bits);
    if (!q2) return fail("build", "a second quantizer from the same spec was refused");
    q2->load(q->state());
    std::vector<Param*> params2;
    q2->collect_params(params2);
    if (params2.size() != params.size())
      return fail("round_trip", "a fresh quantizer has ", params2.size(), " parameters, not ",
                  params.size());
    for (std::size_t i = 0; i < params.size(); ++i) params2[i]->value = params[i]->value;
    const std::string reloaded = bitwise_difference(q->forward(x, false), q2->forward(x, false));
    if (!reloaded.empty()) fail("round_trip", "forward after state()/load(): ", reloaded);

    auto q3 = build(m, role, bits), q4 = build(m, role, bits);
    if (!q3 || !q4) return fail("build", "a second quantizer from the same spec was refused");
    q3->calibrate(x);
    q4->calibrate(x);
    const std::string repeated = bitwise_difference(q3->forward(x, true), q4->forward(x, true));
    if (!repeated.empty()) fail("determinism", "two fresh quantizers: ", repeated);
  } catch (const std::exception& e) {
    fail("exception", e.what());
  }
}

}  // namespace

std::string to_string(const ConformanceFailure& f) {
  return detail::concat(f.method, " ", to_string(f.role), " ", f.bits, " bits: ", f.check, ": ",
                        f.message);
}

ConformanceReport check_conformance(const Method& method) {
  ConformanceReport report;
  report.method = method.info().name;
  for (QuantRole role : method.info().roles)
    for (int bits : bit_widths(method.info())) check_case(method, role, bits, report);
  if (report.cases_checked == 0)
    report.failures.push_back({report.method, QuantRole::weight, 0, "build",
                               "no role and bit-width of its info() built a quantizer"});
  return report;
}

ConformanceReport check_conformance(const std::string& method_name) {
  return check_conformance(*make_method(method_name));
}

double worst_param_gradient_error(Quantizer& q, const Tensor& x, const Tensor& dy) {
  std::vector<Param*> params;
  q.collect_params(params);
  for (Param* p : params) p->zero_grad();
  q.forward(x, true);
  q.backward(dy);
  auto loss = [&] {
    const Tensor& y = q.forward(x, true);
    double l = 0.0;
    for (std::size_t i = 0; i < y.size(); ++i) l += double(dy.data()[i]) * y.data()[i];
    return l;
  };
  double worst = 0.0;
  for (Param* p : params)
    for (std::size_t i = 0; i < p->value.size(); ++i) {
      float& v = p->value.data()[i];
      const float v0 = v, h = 1e-3f * std::max(1.0f, std::abs(v0));
      v = v0 + h;
      const double up = loss();
      v = v0 - h;
      const double down = loss();
      v = v0;
      const double fd = (up - down) / (2.0 * double(h)), an = p->grad.data()[i];
      worst = std::max(worst, std::abs(fd - an) / std::max(1e-3, std::abs(fd)));
    }
  return worst;
}

}  // namespace qb
