// Vectorised reductions for hot loops.
//
// Without -ffast-math the compiler may not reorder a float sum, so a plain loop runs one add
// per cycle-latency. `omp simd reduction` grants exactly the reordering a SIMD sum needs, and
// the order it picks is fixed by the code, so results stay bitwise reproducible.
#pragma once

#include <cstddef>

namespace qb {

inline float sum(const float* p, std::size_t n) {
  float acc = 0.0f;
#pragma omp simd reduction(+ : acc)
  for (std::size_t i = 0; i < n; ++i) acc += p[i];
  return acc;
}

inline float dot(const float* a, const float* b, std::size_t n) {
  float acc = 0.0f;
#pragma omp simd reduction(+ : acc)
  for (std::size_t i = 0; i < n; ++i) acc += a[i] * b[i];
  return acc;
}

// Σ a[i]·((b[i] − c)·s): dot(a, h) for h[i] = (b[i] − c)·s formed on the fly, term for term and
// in dot's order, so that BatchNorm's backward, which recomputes x̂ this way instead of storing
// it, sums what it summed over the stored x̂ (scripts/bit-identity: identical).
inline float dot_standardised(const float* a, const float* b, std::size_t n, float c, float s) {
  float acc = 0.0f;
#pragma omp simd reduction(+ : acc)
  for (std::size_t i = 0; i < n; ++i) {
    const float h = (b[i] - c) * s;
    acc += a[i] * h;
  }
  return acc;
}

// Σ (p[i] − c)²
inline float sum_sq_dev(const float* p, std::size_t n, float c) {
  float acc = 0.0f;
#pragma omp simd reduction(+ : acc)
  for (std::size_t i = 0; i < n; ++i) {
    const float d = p[i] - c;
    acc += d * d;
  }
  return acc;
}

}  // namespace qb
