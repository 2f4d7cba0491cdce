// AVX2 int8 GEMM, exact int32 accumulation through vpmaddwd on int16-widened operands.
//
// Why not vpmaddubsw (u8×s8 → s16 pairs): its pair sum a0·w0 + a1·w1 saturates to int16, and
// over the full range it reaches 2·255·127 = 64770 or 2·255·(−128) = −65280, so it is not
// exact (that is the `pair_saturate` model of reference.h). Here activations are widened to
// int16 when a row block is packed (zero-extended u8, sign-extended s8) and weights when they
// are packed (sign-extended); vpmaddwd then forms a0·w0 + a1·w1 in int32, |·| ≤ 2·32640, and
// saturates only for (−32768)·(−32768) pairs, which int8 inputs cannot produce. Both do 16
// multiply-adds per 256-bit instruction on the same ports, so exactness costs no multiplies,
// only twice the weight bytes and the widening of each row block.
#include "engine/int8/kernels.h"

#include "engine/check.h"

#include <immintrin.h>

#include <algorithm>
#include <cstring>
#include <type_traits>
#include <vector>

#define QB_INT8_TARGET __attribute__((target("avx2")))

namespace qb::int8::detail {
namespace {

struct Ops {
  using V = __m256i;
  using AElem = std::int16_t;
  using WElem = std::int16_t;
  static constexpr int kNR = 8, kGroup = 2, kMR = 6, kNV = 2;  // 12 accumulators of 16 ymm
  static constexpr bool kSignedViaBias = false;
  QB_INT8_TARGET static inline V zero() { return _mm256_setzero_si256(); }
  QB_INT8_TARGET static inline V load(const void* p) {
    return _mm256_loadu_si256(static_cast<const __m256i*>(p));
  }
  QB_INT8_TARGET static inline V bcast32(const void* p) {
    std::int32_t v;
    std::memcpy(&v, p, 4);
    return _mm256_set1_epi32(v);
  }
  QB_INT8_TARGET static inline V dot(V acc, V a, V w) {
    return _mm256_add_epi32(acc, _mm256_madd_epi16(a, w));
  }
  QB_INT8_TARGET static inline void store(void* p, V v) {
    _mm256_storeu_si256(static_cast<__m256i*>(p), v);
  }
  static AElem from_u8(std::uint8_t x) { return AElem(x); }
  static AElem from_s8(std::int8_t x) { return AElem(x); }
};

#include "engine/int8/microkernel.inc"

}  // namespace

void rows_avx2(const GemmArgs& args, int m0, int m1) { rows_entry<Ops>(args, m0, m1); }

}  // namespace qb::int8::detail
