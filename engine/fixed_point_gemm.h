// Exact GEMMs on fixed-point operands: the arithmetic of the integer training path.
//
// Operands x = code · 2^shift (engine/fixed_point.h) are converted to their codes (x · 2^−shift,
// exact: x is on its grid), multiplied on the integer kernels with exact sums, and scaled once:
//   out = 2^(shift_a + shift_b) · Σ_k code_a · code_b        (int64 → double, exact; → float,
//                                                              one rounding)
// The float GEMM of the fake-quant path multiplies the same values; it equals this whenever its
// float sums are exact (every partial sum a multiple of the step and below 2^24 steps), and
// otherwise differs by its own rounding only.
//
// Kernels by width (FixedPath):
//   int8   both operands ≤ 8 bits: int8::gemm, s8 × s8 with exact int32 sums (K ≤ 65536). Its
//          kernels take u8 × s8; s8 left operands run as a + 128 with the correction
//          −128 · Σ_k b[n][k] precomputed per column when the right operand is packed
//          (PackedWeights::s8_bias): one pass over B per packing, nothing per product.
//   int16  both ≤ 16 bits (an 8-bit one widened): int8::gemm_s16, exact int64 sums.
//   none   a 24-bit operand: its products need 47 bits; the float GEMM runs (as fake-quant).
//
// Layout: both operands K-contiguous (C = A·Bᵀ). A transposed operand (Linear's dW = dyᵀ·x,
// dX = dy·W) is transposed while its codes are made — the conversion pass that must happen
// anyway, O(rows·K) against the GEMM's O(M·N·K). The right operand is packed (PackedWeights' or
// PackedS16's panels) once per load, and reused by every multiply against it.
#pragma once

#include "engine/fixed_point.h"
#include "engine/int8/gemm_s16.h"

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

namespace qb {

namespace int8 {
class PackedWeights;
}

enum class FixedPath { none, int8, int16 };

// The narrowest integer kernel for two operands; none unless both are fixed point ≤ 16 bits.
FixedPath fixed_path(const std::optional<FixedPoint>& a, const std::optional<FixedPoint>& b);

// How many GEMMs a layer ran on each path (none: the float GEMM), since it was made. Not saved
// with checkpoints: the paths follow from the hooks' widths, which are.
struct GemmCounts {
  std::array<std::int64_t, 3> by_path{};
  void add(FixedPath p) { ++by_path[std::size_t(p)]; }
  std::int64_t operator[](FixedPath p) const { return by_path[std::size_t(p)]; }
};

// 2^shift as a double (shifts of two float operands, down to −252, stay normal).
double pow2(int shift);

// A rows × cols matrix of codes, cols contiguous (the reduction dimension of multiply_exact),
// int8 or int16 by its path.
class CodeMatrix {
 public:
  CodeMatrix();
  ~CodeMatrix();
  CodeMatrix(CodeMatrix&&) noexcept;
  CodeMatrix& operator=(CodeMatrix&&) noexcept;

  // The codes of row-major float x (rows × cols, row stride ld), or with `transposed` of xᵀ
  // (x is then cols × rows, row stride ld).
  void load(FixedPath path, int shift, const float* x, int rows, int cols, int ld, bool transposed);
  // Storage for codes the caller writes (im2col): rows × cols of int8_t or int16_t by path.
  void* reset(FixedPath path, int shift, int rows, int cols);
  // After reset: the codes of row-major float x (rows() × cols, row stride ld) written into
  // columns [col0, col0 + cols), at reset's path and shift (a matrix built block by block).
  void load_columns(const float* x, int cols, int ld, int col0);
  // Packs the codes as the right operand of int8::gemm or int8::gemm_s16. Needed before this
  // matrix is `b` of multiply_exact.
  void pack_as_right();

  FixedPath path() const { return path_; }
  int shift() const { return shift_; }
  int rows() const { return rows_; }
  int cols() const { return cols_; }
  const std::int8_t* s8() const { return s8_.data(); }
  const std::int16_t* s16() const { return s16_.data(); }

 private:
  friend void multiply_exact(const CodeMatrix& a, const CodeMatrix& b,
                             std::vector<std::int32_t>& c32, std::vector<std::int64_t>& p);
  FixedPath path_ = FixedPath::none;
  int shift_ = 0, rows_ = 0, cols_ = 0;
  std::vector<std::int8_t> s8_;
  std::vector<std::int16_t> s16_;
  std::unique_ptr<int8::PackedWeights> packed_;          // int8's packed codes (storage kept)
  int8::PackedS16 packed16_;                             // int16's (storage kept)
  bool packed8_valid_ = false, packed16_valid_ = false;  // after pack_as_right, until reset
};

// p (a.rows × b.rows, row-major) = a · bᵀ summed exactly; same path and cols, b packed.
// c32 is scratch for the int8 path's int32 results.
void multiply_exact(const CodeMatrix& a, const CodeMatrix& b, std::vector<std::int32_t>& c32,
                    std::vector<std::int64_t>& p);

// out[m·ldo + n] (+)= float(step · p[m·N + n]): the exact products scaled by
// step = 2^(shift_a + shift_b), overwritten or, with `accumulate`, added.
void store_scaled(const std::vector<std::int64_t>& p, int M, int N, double step, float* out,
                  int ldo, bool accumulate);

// What one layer keeps from call to call (allocate once, reuse every step).
struct FixedGemmScratch {
  CodeMatrix a, b;
  std::vector<std::int32_t> c32;
  std::vector<std::int64_t> p;
};

}  // namespace qb
