// The sample statistics the report prints: one definition, so a table's mean and a claim's
// verdict agree to the last digit.
#pragma once

#include <cmath>
#include <cstddef>
#include <vector>

namespace qb {

struct SampleStats {
  std::size_t n = 0;
  double mean = 0;  // 0 when n = 0
  double std = 0;   // sample standard deviation (n − 1); 0 when n < 2
};

// Summed in order: the same values give the same bits.
inline SampleStats sample_stats(const std::vector<double>& v) {
  SampleStats s;
  s.n = v.size();
  if (s.n == 0) return s;
  double sum = 0;
  for (double x : v) sum += x;
  s.mean = sum / double(s.n);
  if (s.n > 1) {
    double ss = 0;
    for (double x : v) ss += (x - s.mean) * (x - s.mean);
    s.std = std::sqrt(ss / double(s.n - 1));
  }
  return s;
}

}  // namespace qb
