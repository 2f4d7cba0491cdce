#include "methods/calibration.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

namespace qb {

float three_sigma(const float* x, std::size_t n) {
  if (n == 0) return 0.0f;
  double s = 0.0;
  for (std::size_t i = 0; i < n; ++i) s += x[i];
  const double mean = s / double(n);
  double ss = 0.0;
  for (std::size_t i = 0; i < n; ++i) ss += (x[i] - mean) * (x[i] - mean);
  return float(std::abs(mean) + 3.0 * std::sqrt(ss / double(n)));
}

namespace {

constexpr std::size_t kBins = 2048;

// J(P, Q) of two unnormalised histograms over the same bins, each normalised here, with
// empty bins smoothed so both logs stay finite.
double jeffreys(const std::vector<double>& p, const std::vector<double>& q) {
  constexpr double eps = 1e-4;
  auto normalised = [&](const std::vector<double>& h) {
    double total = 0.0;
    std::size_t zeros = 0;
    for (double v : h) total += v, zeros += v == 0.0;
    std::vector<double> out(h.size());
    // Move eps of the mass from the non-empty bins to the empty ones.
    const double take = zeros ? eps * double(zeros) / double(h.size() - zeros) : 0.0;
    for (std::size_t i = 0; i < h.size(); ++i) out[i] = h[i] == 0.0 ? eps : h[i] / total - take;
    return out;
  };
  const auto pn = normalised(p), qn = normalised(q);
  double j = 0.0;
  for (std::size_t i = 0; i < pn.size(); ++i) j += (pn[i] - qn[i]) * std::log(pn[i] / qn[i]);
  return j;
}

}  // namespace

float kl_j_threshold(const float* x, std::size_t n, std::size_t levels, bool is_signed) {
  float top = 0.0f;
  for (std::size_t i = 0; i < n; ++i) top = std::max(top, is_signed ? std::abs(x[i]) : x[i]);
  if (!(top > 0.0f) || !std::isfinite(top)) return std::isfinite(top) ? 0.0f : top;
  std::vector<double> hist(kBins, 0.0);
  const double width = double(top) / double(kBins);
  // Exact zeros (half of every post-ReLU tensor) are on every grid whatever t is, so they
  // carry no information about t; left in, their spike in bin 0 is smeared over Q's first
  // level and drags t towards the smallest candidate.
  for (std::size_t i = 0; i < n; ++i) {
    const double v = is_signed ? std::abs(x[i]) : std::max(x[i], 0.0f);
    if (v > 0.0) hist[std::min(kBins - 1, std::size_t(v / width))] += 1.0;
  }
  levels = std::max<std::size_t>(levels, 1);
  if (levels >= kBins) return top;  // finer than the histogram: nothing to trade off

  double best = std::numeric_limits<double>::infinity();
  std::size_t best_bins = kBins;
  std::vector<double> p, q;
  for (std::size_t bins = levels; bins <= kBins; ++bins) {
    p.assign(hist.begin(), hist.begin() + std::ptrdiff_t(bins));
    for (std::size_t i = bins; i < kBins; ++i) p[bins - 1] += hist[i];  // clipped mass
    if (p[bins - 1] == 0.0) continue;  // an empty last bin: a smaller t does the same
    // Q: the unclipped bins below t merged into `levels` groups, each group's mass spread
    // over its non-empty bins — what a quantizer with threshold t keeps of the distribution.
    // The clipped mass is in P only, so J charges clipping as well as rounding.
    q.assign(bins, 0.0);
    for (std::size_t l = 0; l < levels; ++l) {
      const std::size_t b0 = l * bins / levels, b1 = (l + 1) * bins / levels;
      double mass = 0.0;
      std::size_t filled = 0;
      for (std::size_t b = b0; b < b1; ++b) mass += hist[b], filled += hist[b] != 0.0;
      for (std::size_t b = b0; b < b1; ++b) q[b] = hist[b] != 0.0 ? mass / double(filled) : 0.0;
    }
    const double j = jeffreys(p, q);
    if (j < best) best = j, best_bins = bins;
  }
  return float(double(best_bins) * width);
}

int pow2_mse_exponent(const float* x, std::size_t n, int bits, bool is_signed) {
  const double lo = is_signed ? -std::ldexp(1.0, bits - 1) : 0.0;
  const double hi = is_signed ? std::ldexp(1.0, bits - 1) - 1.0 : std::ldexp(1.0, bits) - 1.0;
  double top = 0.0;
  for (std::size_t i = 0; i < n; ++i) top = std::max(top, double(std::abs(x[i])));
  // The smallest e with hi·2^e ≥ top clips nothing; each step down halves the grid.
  const int e_max = int(std::ceil(std::log2(top / hi)));
  int best_e = e_max;
  double best = std::numeric_limits<double>::infinity();
  for (int e = e_max; e >= e_max - 12; --e) {
    const double step = std::ldexp(1.0, e);
    double sse = 0.0;
    for (std::size_t i = 0; i < n; ++i) {
      const double q = step * std::clamp(std::rint(double(x[i]) / step), lo, hi);
      sse += (double(x[i]) - q) * (double(x[i]) - q);
    }
    if (sse < best) best = sse, best_e = e;
  }
  return best_e;
}

}  // namespace qb
