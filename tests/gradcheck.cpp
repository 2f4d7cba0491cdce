#include "tests/gradcheck.h"

#include "engine/rng.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <sstream>

namespace qb::test {

void fill_away_from_zero(Tensor& x, std::uint64_t seed) {
  Rng rng(seed);
  for (auto& v : x) {
    const float mag = 0.05f + 0.95f * rng.uniform();
    v = rng.uniform() < 0.5f ? -mag : mag;
  }
}

void fill_normal(Tensor& x, std::uint64_t seed, float scale) {
  Rng rng(seed);
  for (auto& v : x) v = float(rng.normal()) * scale;
}

namespace {

double objective(Layer& layer, const Tensor& x, const Tensor& r, bool training) {
  const Tensor& y = layer.forward(x, training);
  double s = 0.0;
  for (std::size_t i = 0; i < y.size(); ++i) s += double(y.data()[i]) * r.data()[i];
  return s;
}

std::vector<std::size_t> sample(std::size_t n, std::size_t k, Rng& rng) {
  std::vector<std::size_t> idx(n);
  std::iota(idx.begin(), idx.end(), 0);
  if (n <= k) return idx;
  for (std::size_t i = 0; i < k; ++i) std::swap(idx[i], idx[i + rng.uniform_int(n - i)]);
  idx.resize(k);
  std::sort(idx.begin(), idx.end());
  return idx;
}

// Compares analytic[i] with the central difference of `objective` w.r.t. value[i].
void compare(const std::string& what, float* value, const float* analytic, std::size_t n,
             const std::function<double()>& f, const GradCheckOptions& opt, Rng& rng,
             GradCheckResult& res) {
  double worst = 0.0;
  std::ostringstream msg;
  for (std::size_t i : sample(n, opt.max_coords, rng)) {
    const float orig = value[i];
    value[i] = orig + opt.step;
    const double up = f();
    value[i] = orig - opt.step;
    const double down = f();
    value[i] = orig;
    const double numeric = (up - down) / (2.0 * double(opt.step));
    const double err = std::abs(numeric - double(analytic[i]));
    const double bound =
        opt.atol + opt.rtol * std::max(std::abs(numeric), std::abs(double(analytic[i])));
    ++res.checked;
    if (err > bound && err / bound > worst) {
      worst = err / bound;
      msg.str("");
      msg << what << "[" << i << "]: analytic " << analytic[i] << " vs numeric " << numeric;
    }
  }
  if (worst > 1.0) {
    res.ok = false;
    res.report += msg.str() + "\n";
  }
}

}  // namespace

GradCheckResult check_layer_at(Layer& layer, const Tensor& x0, const GradCheckOptions& opt) {
  GradCheckResult res;
  Rng rng(derive_seed(opt.seed, {77}));
  Tensor x = x0;
  const Shape ys = layer.output_shape(shape_of(x));
  Tensor r = Tensor::from_shape(ys);
  fill_normal(r, derive_seed(opt.seed, {78}));

  std::vector<Param*> params;
  layer.collect_params(params);
  for (Param* p : params) p->zero_grad();
  layer.forward(x, opt.training);
  const Tensor dx = layer.backward(r);  // a copy: later forwards reuse the layer's buffers
  std::vector<Tensor> grads;
  for (Param* p : params) grads.push_back(p->grad);

  auto f = [&] { return objective(layer, x, r, opt.training); };
  if (opt.check_input) compare("dx", x.data(), dx.data(), x.size(), f, opt, rng, res);
  for (std::size_t k = 0; k < params.size(); ++k)
    compare(params[k]->name, params[k]->value.data(), grads[k].data(), grads[k].size(), f, opt, rng,
            res);
  return res;
}

GradCheckResult check_layer(Layer& layer, const Shape& input_shape, const GradCheckOptions& opt) {
  Tensor x = Tensor::from_shape(input_shape);
  fill_away_from_zero(x, derive_seed(opt.seed, {79}));
  return check_layer_at(layer, x, opt);
}

}  // namespace qb::test
