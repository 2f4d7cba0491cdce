// AVX2 int8 GEMM, exact int32 accumulation: vpmaddwd on int16-widened operands for any
// weights, vpmaddubsw on u8 operands for narrow ones (PackedWeights::narrow()).
//
// Why not vpmaddubsw (u8×s8 → s16 pairs): its pair sum a0·w0 + a1·w1 saturates to int16, and
// over the full range it reaches 2·255·127 = 64770 or 2·255·(−128) = −65280, so it is not
// exact (that is the `pair_saturate` model of reference.h). Here activations are widened to
// int16 when a row block is packed (zero-extended u8, sign-extended s8) and weights when they
// are packed (sign-extended); vpmaddwd then forms a0·w0 + a1·w1 in int32, |·| ≤ 2·32640, and
// saturates only for (−32768)·(−32768) pairs, which int8 inputs cannot produce. Both do 16
// multiply-adds per 256-bit instruction on the same ports, so exactness costs no multiplies,
// only twice the weight bytes and the widening of each row block.
//
// Narrow weights (all in [-64, 63], e.g. any of 7 bits or fewer) keep vpmaddubsw's pairs
// inside int16, |a0·w0 + a1·w1| ≤ 2·255·64 = 32640, so it is exact there: vpmaddubsw, then
// vpmaddwd by 1 (pairs to int32) and vpaddd do 32 multiply-adds in three instructions where the
// widened path needs four, with half the bytes to load. s8 activations run as a + 128 with the
// accumulators starting at PackedWeights::s8_bias(), as in the VNNI kernels.
#include "engine/int8/kernels.h"

#include "engine/check.h"

#include "engine/int8/intrinsics.h"

#include <algorithm>
#include <cstring>
#include <type_traits>
#include <vector>

#define QB_INT8_TARGET QB_INT8_ISA("avx2")

namespace qb::int8::detail {
namespace {

#include "engine/int8/vec256.inc"

struct Ops : Vec {
  using AElem = std::int16_t;
  using WElem = std::int16_t;
  static constexpr int kNR = 8, kGroup = 2, kMR = 6, kNV = 2;  // 12 accumulators of 16 ymm
  static constexpr bool kSignedViaBias = false;
  QB_INT8_TARGET static inline V dot(V acc, V a, V w) {
    return _mm256_add_epi32(acc, _mm256_madd_epi16(a, w));
  }
  static AElem from_u8(std::uint8_t x) { return AElem(x); }
  static AElem from_s8(std::int8_t x) { return AElem(x); }
};

struct OpsNarrow : Vec {
  using AElem = std::uint8_t;
  using WElem = std::int8_t;
  static constexpr int kNR = 8, kGroup = 4, kMR = 6, kNV = 2;
  static constexpr bool kSignedViaBias = true;
  QB_INT8_TARGET static inline V dot(V acc, V a, V w) {
    const V pairs = _mm256_maddubs_epi16(a, w);
    return _mm256_add_epi32(acc, _mm256_madd_epi16(pairs, _mm256_set1_epi16(1)));
  }
  static AElem from_u8(std::uint8_t x) { return x; }
  static AElem from_s8(std::int8_t x) { return AElem(int(x) + 128); }
};

#include "engine/int8/microkernel.inc"

}  // namespace

constinit const GemmKernel avx2_gemm = gemm_kernel<Ops>();
constinit const GemmKernel avx2_narrow_gemm = gemm_kernel<OpsNarrow>();

}  // namespace qb::int8::detail
