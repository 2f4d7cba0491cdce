#include "engine/fixed_point_gemm.h"

#include "engine/check.h"
#include "engine/int8/gemm.h"
#include "engine/int8/gemm_s16.h"

#include <algorithm>
#include <cmath>

namespace qb {
namespace {

// codes[r·ldc + k] = x[r][k] · 2^−shift (or x[k][r] · 2^−shift when transposed).
template <class T>
void to_codes(const float* x, int rows, int cols, int ld, bool transposed, int shift, T* codes,
              int ldc) {
  // x is on the grid, so x · 2^−shift is an integer in T's range: the product and the
  // conversion are exact (a float holds 24-bit integers; 2^−shift ≤ 2^126 is a float).
  const float inv = std::ldexp(1.0f, -shift);
  if (!transposed) {
    for (int r = 0; r < rows; ++r) {
      const float* xr = x + std::int64_t(r) * ld;
      T* c = codes + std::int64_t(r) * ldc;
      for (int k = 0; k < cols; ++k) c[k] = T(xr[k] * inv);
    }
    return;
  }
  // codes[r][k] = x[k][r]: read x row by row, write strided (rows are short: batch or channels).
  for (int k = 0; k < cols; ++k) {
    const float* xk = x + std::int64_t(k) * ld;
    for (int r = 0; r < rows; ++r) codes[std::int64_t(r) * ldc + k] = T(xk[r] * inv);
  }
}

}  // namespace

FixedPath fixed_path(const std::optional<FixedPoint>& a, const std::optional<FixedPoint>& b) {
  if (!a || !b) return FixedPath::none;
  const int bits = std::max(a->bits, b->bits);
  return bits <= 8 ? FixedPath::int8 : bits <= 16 ? FixedPath::int16 : FixedPath::none;
}

double pow2(int shift) { return std::ldexp(1.0, shift); }

CodeMatrix::CodeMatrix() = default;
CodeMatrix::~CodeMatrix() = default;
CodeMatrix::CodeMatrix(CodeMatrix&&) noexcept = default;
CodeMatrix& CodeMatrix::operator=(CodeMatrix&&) noexcept = default;

void* CodeMatrix::reset(FixedPath path, int shift, int rows, int cols) {
  QB_CHECK(path != FixedPath::none);
  path_ = path;
  shift_ = shift;
  rows_ = rows;
  cols_ = cols;
  packed8_valid_ = packed16_valid_ = false;
  const std::size_t n = std::size_t(rows) * std::size_t(cols);
  if (path == FixedPath::int8) {
    if (s8_.size() < n) s8_.resize(n);
    return s8_.data();
  }
  if (s16_.size() < n) s16_.resize(n);
  return s16_.data();
}

void CodeMatrix::load(FixedPath path, int shift, const float* x, int rows, int cols, int ld,
                      bool transposed) {
  void* codes = reset(path, shift, rows, cols);
  if (path == FixedPath::int8)
    to_codes(x, rows, cols, ld, transposed, shift, static_cast<std::int8_t*>(codes), cols);
  else
    to_codes(x, rows, cols, ld, transposed, shift, static_cast<std::int16_t*>(codes), cols);
}

void CodeMatrix::load_columns(const float* x, int cols, int ld, int col0) {
  QB_CHECK(path_ != FixedPath::none);
  QB_CHECK(col0 >= 0 && cols >= 0 && col0 + cols <= cols_);
  packed8_valid_ = packed16_valid_ = false;
  if (path_ == FixedPath::int8)
    to_codes(x, rows_, cols, ld, false, shift_, s8_.data() + col0, cols_);
  else
    to_codes(x, rows_, cols, ld, false, shift_, s16_.data() + col0, cols_);
}

void CodeMatrix::pack_as_right() {
  if (path_ == FixedPath::int16) {
    packed16_.pack(s16_.data(), rows_, cols_, cols_);
    packed16_valid_ = true;
    return;
  }
  if (packed_ && packed_->isa() == int8::best_isa())  // QB_MAX_ISA may have changed
    packed_->repack(s8_.data(), rows_, cols_, cols_);
  else
    packed_ = std::make_unique<int8::PackedWeights>(s8_.data(), rows_, cols_, cols_);
  packed8_valid_ = true;
}

void multiply_exact(const CodeMatrix& a, const CodeMatrix& b, std::vector<std::int32_t>& c32,
                    std::vector<std::int64_t>& p) {
  QB_CHECK(a.path_ == b.path_ && a.path_ != FixedPath::none);
  QB_CHECK_EQ(a.cols_, b.cols_);
  const int M = a.rows_, N = b.rows_, K = a.cols_;
  const std::size_t mn = std::size_t(M) * std::size_t(N);
  if (p.size() < mn) p.resize(mn);
  if (a.path_ == FixedPath::int16) {
    QB_CHECK(b.packed16_valid_);
    int8::gemm_s16(M, a.s16_.data(), K, b.packed16_, p.data(), N);
    return;
  }
  QB_CHECK(b.packed8_valid_);
  if (c32.size() < mn) c32.resize(mn);
  int8::gemm(a.s8_.data(), K, M, *b.packed_, c32.data(), N);
  std::copy_n(c32.data(), mn, p.data());
}

void store_scaled(const std::vector<std::int64_t>& p, int M, int N, double step, float* out,
                  int ldo, bool accumulate) {
  for (int m = 0; m < M; ++m) {
    const std::int64_t* pm = p.data() + std::int64_t(m) * N;
    float* o = out + std::int64_t(m) * ldo;
    if (accumulate)
      for (int n = 0; n < N; ++n) o[n] += float(double(pm[n]) * step);
    else
      for (int n = 0; n < N; ++n) o[n] = float(double(pm[n]) * step);
  }
}

}  // namespace qb
