#include "engine/int8/requantize.h"

#include "engine/check.h"
#include "engine/int8/requantize_kernels.h"
#include "engine/parallel.h"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <type_traits>
#include <vector>

namespace qb::int8 {

double Multiplier::scale() const { return std::ldexp(double(m0), e - 31); }

Multiplier quantize_multiplier(double scale) {
  if (!std::isfinite(scale) || scale <= 0)
    throw error("quantize_multiplier: the scale must be positive and finite (got ", scale, ")");
  int e = 0;
  const double q = std::frexp(scale, &e);  // scale = q · 2^e, q in [1/2, 1)
  // q · 2^31 is exact in a double (a power-of-2 scaling), so this is the only rounding.
  std::int64_t m0 = std::llround(std::ldexp(q, 31));
  if (m0 == (std::int64_t(1) << 31)) {  // q rounded up to 1
    m0 >>= 1;
    ++e;
  }
  if (e > 31)
    throw error("quantize_multiplier: scale ", scale, " needs a left shift (M0 · 2^(e − 31) ",
                "with e ≤ 31 stays below 2^31)");
  return {std::int32_t(m0), e};
}

std::int64_t round_shift_half_even(std::int64_t p, int s) {
  QB_CHECK_GE(s, 0);
  if (s == 0) return p;
  // |p / 2^s| ≤ 2^63 / 2^64 = 1/2, and −1/2 goes to the even 0.
  if (s >= 64) return 0;
  const std::int64_t q = p >> s;  // floor (arithmetic shift, defined since C++20)
  const std::uint64_t r = std::uint64_t(p) & ((std::uint64_t(1) << s) - 1);  // p − q·2^s
  const std::uint64_t half = std::uint64_t(1) << (s - 1);
  return q + (r > half || (r == half && (q & 1)));
}

namespace {

template <class Out>
struct Range {
  static constexpr int lo = std::is_signed_v<Out> ? -128 : 0;
  static constexpr int hi = std::is_signed_v<Out> ? 127 : 255;
};

// The clamp the kernels use: [lo, hi] ∩ the type's range, checked non-empty.
template <class Out>
OutputParams checked(const OutputParams& out, int M, int N, int ldc, int ldy) {
  QB_CHECK_GE(M, 0);
  QB_CHECK_GE(N, 0);
  QB_CHECK_GE(ldc, N);
  QB_CHECK_GE(ldy, N);
  const char* type = std::is_signed_v<Out> ? "s8" : "u8";
  if (out.zero_point < Range<Out>::lo || out.zero_point > Range<Out>::hi)
    throw error("requantize: zero point ", out.zero_point, " is outside the ", type, " range");
  OutputParams o = out;
  o.lo = std::max(out.lo, Range<Out>::lo);
  o.hi = std::min(out.hi, Range<Out>::hi);
  if (o.lo > o.hi)
    throw error("requantize: the clamp [", out.lo, ", ", out.hi, "] leaves no ", type, " value");
  return o;
}

void check_shift(int shift) {
  if (shift < 0)
    throw error("requantize_shift: shift ", shift, " < 0 (a left shift) is not supported");
}

std::int32_t add_sat32(std::int32_t a, std::int32_t b) {
  return std::int32_t(std::clamp<std::int64_t>(std::int64_t(a) + b, INT32_MIN, INT32_MAX));
}

// The right shift 31 − e, capped at 63 (which already gives 0 for every x).
int total_shift(const Multiplier& m) {
  if (m.e > 31)
    throw error("requantize: multiplier exponent ", m.e, " > 31 (a left shift) is not supported");
  return int(std::min<std::int64_t>(31 - std::int64_t(m.e), 63));
}

template <class Out>
Out finish(std::int64_t r, const OutputParams& o) {
  return Out(std::clamp<std::int64_t>(r + o.zero_point, o.lo, o.hi));
}

// The fine bias's preconditions: |B| < 2^61 and total shifts ≤ 62 (requantize.h).
void check_fine_bias(const OutputParams& o, int M, int N, std::span<const Multiplier> mult) {
  if (!o.fine_bias) return;
  for (const Multiplier& mu : mult)
    if (31 - std::int64_t(mu.e) > 62)
      throw error("requantize: a fine bias needs a total right shift ≤ 62 (got ", 31 - mu.e, ")");
  if (o.fine_bias_checked) return;
  const std::int64_t rows = o.fine_bias_ld == 0 ? 1 : M;
  QB_CHECK(o.fine_bias_ld == 0 || o.fine_bias_ld >= N);
  // A bias per output position is a table as large as the output, checked on every call (unless
  // the caller checked it once); the offending value is looked for only on failure.
  bool inside = true;
  for (std::int64_t m = 0; m < rows; ++m)
    inside = inside && fine_bias_in_range(o.fine_bias + m * o.fine_bias_ld, std::size_t(N));
  if (inside) return;
  for (std::int64_t m = 0; m < rows; ++m)
    for (int n = 0; n < N; ++n) {
      const std::int64_t b = o.fine_bias[m * o.fine_bias_ld + n];
      if (!fine_bias_in_range(&b, 1))
        throw error("requantize: fine bias ", b, " is not inside (−2^61, 2^61)");
    }
}

template <class Out>
void mult_ref(const std::int32_t* C, int ldc, int M, int N, std::span<const Multiplier> mult,
              const OutputParams& out, Out* Y, int ldy) {
  QB_CHECK(mult.size() == 1 || mult.size() == std::size_t(N));
  const OutputParams o = checked<Out>(out, M, N, ldc, ldy);
  for (const Multiplier& mu : mult) total_shift(mu);  // refuses e > 31
  check_fine_bias(o, M, N, mult);
  for (int m = 0; m < M; ++m)
    for (int n = 0; n < N; ++n) {
      std::int32_t x = C[std::int64_t(m) * ldc + n];
      if (o.bias) x = add_sat32(x, o.bias[n]);
      const Multiplier& mu = mult.size() == 1 ? mult[0] : mult[n];
      // |x · m0| ≤ 2^31 · 2^31 = 2^62: exact in int64; with |B| < 2^61 the sum is too.
      std::int64_t p = std::int64_t(x) * mu.m0;
      if (o.fine_bias) p += o.fine_bias[m * o.fine_bias_ld + n];
      const int s = int(std::min<std::int64_t>(31 - std::int64_t(mu.e), 64));
      Y[std::int64_t(m) * ldy + n] = finish<Out>(round_shift_half_even(p, s), o);
    }
}

// The shift form with a fine bias is the multiplier form with M0 = 2^30, e = 1 − shift.
Multiplier shift_as_multiplier(int shift) {
  check_shift(shift);
  return {std::int32_t(1) << 30, 1 - shift};
}

template <class Out>
void shift_ref(const std::int32_t* C, int ldc, int M, int N, int shift, const OutputParams& out,
               Out* Y, int ldy) {
  if (out.fine_bias) {
    const Multiplier mu = shift_as_multiplier(shift);
    return mult_ref(C, ldc, M, N, std::span<const Multiplier>(&mu, 1), out, Y, ldy);
  }
  check_shift(shift);
  const OutputParams o = checked<Out>(out, M, N, ldc, ldy);
  for (int m = 0; m < M; ++m)
    for (int n = 0; n < N; ++n) {
      std::int32_t x = C[std::int64_t(m) * ldc + n];
      if (o.bias) x = add_sat32(x, o.bias[n]);
      Y[std::int64_t(m) * ldy + n] = finish<Out>(round_shift_half_even(x, shift), o);
    }
}

// Kernels by ISA: AVX2 for avx2 and avxvnni, AVX-512 (F + BW) for avx512bw and avx512vnni.
bool uses_avx512(Isa isa) { return isa == Isa::avx512bw || isa == Isa::avx512vnni; }

// Rows split in fixed contiguous blocks, at least 64K elements a thread.
void run_rows(detail::RequantKernel kernel, const detail::RequantArgs& args, int M) {
  const std::int64_t elems = std::int64_t(M) * args.N;
  const int T = int(
      std::min<std::int64_t>({omp_get_max_threads(), std::max<std::int64_t>(1, elems / 65536), M}));
  parallel_split(M, T,
                 [&](int, std::int64_t r0, std::int64_t r1) { kernel(args, int(r0), int(r1)); });
}

template <class Out>
detail::RequantArgs make_args(const std::int32_t* C, int ldc, int N, const OutputParams& o, Out* Y,
                              int ldy) {
  detail::RequantArgs a{};
  a.C = C;
  a.ldc = ldc;
  a.N = N;
  a.bias = o.bias;
  a.fine_bias = o.fine_bias;
  a.fine_bias_ld = o.fine_bias_ld;
  a.zero_point = o.zero_point;
  a.lo = o.lo;
  a.hi = o.hi;
  a.Y = Y;
  a.y_signed = std::is_signed_v<Out>;
  a.ldy = ldy;
  return a;
}

void check_isa(Isa isa) {
  if (!cpu_has(isa)) throw error("requantize: this CPU cannot run the ", isa_name(isa), " kernels");
}

template <class Out>
void mult_fast(const std::int32_t* C, int ldc, int M, int N, std::span<const Multiplier> mult,
               const OutputParams& out, Out* Y, int ldy, Isa isa) {
  check_isa(isa);
  if (isa == Isa::scalar) return mult_ref(C, ldc, M, N, mult, out, Y, ldy);
  QB_CHECK(mult.size() == 1 || mult.size() == std::size_t(N));
  const OutputParams o = checked<Out>(out, M, N, ldc, ldy);
  // The kernels' tables: m0 and the capped shift per column (N int32 pairs, next to M·N work).
  std::vector<std::int32_t> m0(mult.size()), shift(mult.size());
  for (std::size_t i = 0; i < mult.size(); ++i) {
    m0[i] = mult[i].m0;
    shift[i] = total_shift(mult[i]);
  }
  check_fine_bias(o, M, N, mult);
  if (M == 0 || N == 0) return;
  detail::RequantArgs a = make_args(C, ldc, N, o, Y, ldy);
  a.m0 = m0.data();
  a.shift = shift.data();
  a.per_column = mult.size() != 1;
  run_rows(uses_avx512(isa) ? detail::requant_mult_avx512 : detail::requant_mult_avx2, a, M);
}

template <class Out>
void shift_fast(const std::int32_t* C, int ldc, int M, int N, int shift, const OutputParams& out,
                Out* Y, int ldy, Isa isa) {
  check_isa(isa);
  if (isa == Isa::scalar) return shift_ref(C, ldc, M, N, shift, out, Y, ldy);
  if (out.fine_bias) {
    const Multiplier mu = shift_as_multiplier(shift);
    return mult_fast(C, ldc, M, N, std::span<const Multiplier>(&mu, 1), out, Y, ldy, isa);
  }
  check_shift(shift);
  const OutputParams o = checked<Out>(out, M, N, ldc, ldy);
  if (M == 0 || N == 0) return;
  if (shift >= 32) {
    // |x / 2^32| ≤ 1/2 for every int32 x, and −1/2 goes to the even 0: y is the clamped zero
    // point everywhere.
    const Out y = finish<Out>(0, o);
    for (int m = 0; m < M; ++m) std::fill_n(Y + std::int64_t(m) * ldy, N, y);
    return;
  }
  detail::RequantArgs a = make_args(C, ldc, N, o, Y, ldy);
  const std::int32_t s = shift;
  a.shift = &s;
  run_rows(uses_avx512(isa) ? detail::requant_shift_avx512 : detail::requant_shift_avx2, a, M);
}

}  // namespace

void requantize_shift(const std::int32_t* C, int ldc, int M, int N, int shift,
                      const OutputParams& out, std::uint8_t* Y, int ldy, Isa isa) {
  shift_fast(C, ldc, M, N, shift, out, Y, ldy, isa);
}
void requantize_shift(const std::int32_t* C, int ldc, int M, int N, int shift,
                      const OutputParams& out, std::int8_t* Y, int ldy, Isa isa) {
  shift_fast(C, ldc, M, N, shift, out, Y, ldy, isa);
}
void requantize(const std::int32_t* C, int ldc, int M, int N, Multiplier mult,
                const OutputParams& out, std::uint8_t* Y, int ldy, Isa isa) {
  mult_fast(C, ldc, M, N, std::span<const Multiplier>(&mult, 1), out, Y, ldy, isa);
}
void requantize(const std::int32_t* C, int ldc, int M, int N, Multiplier mult,
                const OutputParams& out, std::int8_t* Y, int ldy, Isa isa) {
  mult_fast(C, ldc, M, N, std::span<const Multiplier>(&mult, 1), out, Y, ldy, isa);
}
void requantize(const std::int32_t* C, int ldc, int M, int N, std::span<const Multiplier> mult,
                const OutputParams& out, std::uint8_t* Y, int ldy, Isa isa) {
  QB_CHECK_EQ(mult.size(), std::size_t(N));
  mult_fast(C, ldc, M, N, mult, out, Y, ldy, isa);
}
void requantize(const std::int32_t* C, int ldc, int M, int N, std::span<const Multiplier> mult,
                const OutputParams& out, std::int8_t* Y, int ldy, Isa isa) {
  QB_CHECK_EQ(mult.size(), std::size_t(N));
  mult_fast(C, ldc, M, N, mult, out, Y, ldy, isa);
}

void requantize_shift_ref(const std::int32_t* C, int ldc, int M, int N, int shift,
                          const OutputParams& out, std::uint8_t* Y, int ldy) {
  shift_ref(C, ldc, M, N, shift, out, Y, ldy);
}
void requantize_shift_ref(const std::int32_t* C, int ldc, int M, int N, int shift,
                          const OutputParams& out, std::int8_t* Y, int ldy) {
  shift_ref(C, ldc, M, N, shift, out, Y, ldy);
}
void requantize_ref(const std::int32_t* C, int ldc, int M, int N, std::span<const Multiplier> mult,
                    const OutputParams& out, std::uint8_t* Y, int ldy) {
  mult_ref(C, ldc, M, N, mult, out, Y, ldy);
}
void requantize_ref(const std::int32_t* C, int ldc, int M, int N, std::span<const Multiplier> mult,
                    const OutputParams& out, std::int8_t* Y, int ldy) {
  mult_ref(C, ldc, M, N, mult, out, Y, ldy);
}

// b ∈ (−2^61, 2^61) ⟺ u = b + 2^61 − 1 ∈ [0, 2^62 − 2] as unsigned ⟺ neither u nor u + 1 has a
// bit above 61: adds, logical shifts and an OR reduction, which AVX2 vectorises (it has no
// unsigned or 64-bit min/max).
bool fine_bias_in_range(const std::int64_t* b, std::size_t n) {
  constexpr std::uint64_t kOffset = (std::uint64_t(1) << 61) - 1;
  std::uint64_t high = 0;
  for (std::size_t i = 0; i < n; ++i) {
    const std::uint64_t u = std::uint64_t(b[i]) + kOffset;
    high |= (u >> 62) | ((u + 1) >> 62);
  }
  return high == 0;
}

}  // namespace qb::int8
