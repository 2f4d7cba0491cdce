// AVX-512BW int8 GEMM: the AVX2 kernel's method (kernels_avx2.cpp: vpmaddwd on int16-widened
// operands, exact in int32) on 512-bit vectors, 32 multiply-adds per instruction.
#include "engine/int8/kernels.h"

#include "engine/check.h"

#include <immintrin.h>

#include <algorithm>
#include <cstring>
#include <type_traits>
#include <vector>

#define QB_INT8_TARGET __attribute__((target("avx512f,avx512bw")))

namespace qb::int8::detail {
namespace {

struct Ops {
  using V = __m512i;
  using AElem = std::int16_t;
  using WElem = std::int16_t;
  static constexpr int kNR = 16, kGroup = 2, kMR = 12, kNV = 2;  // 24 accumulators of 32 zmm
  static constexpr bool kSignedViaBias = false;
  QB_INT8_TARGET static inline V zero() { return _mm512_setzero_si512(); }
  QB_INT8_TARGET static inline V load(const void* p) { return _mm512_loadu_si512(p); }
  QB_INT8_TARGET static inline V bcast32(const void* p) {
    std::int32_t v;
    std::memcpy(&v, p, 4);
    return _mm512_set1_epi32(v);
  }
  QB_INT8_TARGET static inline V dot(V acc, V a, V w) {
    return _mm512_add_epi32(acc, _mm512_madd_epi16(a, w));
  }
  QB_INT8_TARGET static inline void store(void* p, V v) { _mm512_storeu_si512(p, v); }
  static AElem from_u8(std::uint8_t x) { return AElem(x); }
  static AElem from_s8(std::int8_t x) { return AElem(x); }
};

#include "engine/int8/microkernel.inc"

}  // namespace

void rows_avx512bw(const GemmArgs& args, int m0, int m1) { rows_entry<Ops>(args, m0, m1); }

}  // namespace qb::int8::detail
