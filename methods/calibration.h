// Range calibration shared by methods that initialise a clipping threshold from data.
#pragma once

#include <cstddef>

namespace qb {

// The 3SD rule: |mean| + 3·std (population standard deviation) of n values.
float three_sigma(const float* x, std::size_t n);

// The KL-J threshold (Jain et al. 2019 §3.3, after TensorRT's entropy calibration): the t that
// minimises the Jeffreys divergence J(P, Q) = KL(P‖Q) + KL(Q‖P) between P, a 2048-bin
// histogram of the non-zero |x| (signed) or positive x (unsigned) clipped at t (the mass beyond t
// folded into the last kept bin), and Q, the histogram below t requantized to `levels` uniform
// levels (each level's mass spread over its non-empty bins). Candidates are the bin edges from
// `levels` bins up, so t ≥ levels·max/2048 (TensorRT's resolution: an 8-bit unsigned
// threshold is at least max/8); empty bins are smoothed with 1e-4 of the mass before the logs.
// Returns 0 when no value is positive.
float kl_j_threshold(const float* x, std::size_t n, std::size_t levels, bool is_signed);

// The power-of-2 step s = 2^e that minimises the mean squared error Σ (x − s·clamp(rint(x/s),
// lo, hi))² of n values on a `bits`-bit grid (signed: codes −2^(b−1) .. 2^(b−1) − 1, unsigned:
// 0 .. 2^b − 1), over the steps from the one whose top code reaches max|x| down to 2^−12 of it
// (below that the grid holds almost nothing). Returns e; ties go to the larger step. Unlike
// KL-J's comparison of shapes, the squared error charges clipped values by how far they are
// clipped, which is what decides a 2-bit grid (methods/alt.h). n > 0 and max|x| > 0 finite.
int pow2_mse_exponent(const float* x, std::size_t n, int bits, bool is_signed);

}  // namespace qb
