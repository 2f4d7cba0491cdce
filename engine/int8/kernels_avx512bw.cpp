// AVX-512BW int8 GEMM: the AVX2 kernels' methods (kernels_avx2.cpp: vpmaddwd on int16-widened
// operands for any weights, vpmaddubsw for narrow ones; both exact in int32) on 512-bit
// vectors.
#include "engine/int8/kernels.h"

#include "engine/check.h"

#include "engine/int8/intrinsics.h"

#include <algorithm>
#include <cstring>
#include <type_traits>
#include <vector>

#define QB_INT8_TARGET QB_INT8_ISA("avx512f,avx512bw")

namespace qb::int8::detail {
namespace {

#include "engine/int8/vec512.inc"

struct Ops : Vec {
  using AElem = std::int16_t;
  using WElem = std::int16_t;
  static constexpr int kNR = 16, kGroup = 2, kMR = 12, kNV = 2;  // 24 accumulators of 32 zmm
  static constexpr bool kSignedViaBias = false;
  QB_INT8_TARGET static inline V dot(V acc, V a, V w) {
    return _mm512_add_epi32(acc, _mm512_madd_epi16(a, w));
  }
  static AElem from_u8(std::uint8_t x) { return AElem(x); }
  static AElem from_s8(std::int8_t x) { return AElem(x); }
};

struct OpsNarrow : Vec {
  using AElem = std::uint8_t;
  using WElem = std::int8_t;
  static constexpr int kNR = 16, kGroup = 4, kMR = 12, kNV = 2;
  static constexpr bool kSignedViaBias = true;
  QB_INT8_TARGET static inline V dot(V acc, V a, V w) {
    const V pairs = _mm512_maddubs_epi16(a, w);
    return _mm512_add_epi32(acc, _mm512_madd_epi16(pairs, _mm512_set1_epi16(1)));
  }
  static AElem from_u8(std::uint8_t x) { return x; }
  static AElem from_s8(std::int8_t x) { return AElem(int(x) + 128); }
};

#include "engine/int8/microkernel.inc"

}  // namespace

constinit const GemmKernel avx512bw_gemm = gemm_kernel<Ops>();
constinit const GemmKernel avx512bw_narrow_gemm = gemm_kernel<OpsNarrow>();

}  // namespace qb::int8::detail
