// AVX-VNNI int8 GEMM: the VEX-encoded 256-bit vpdpbusd of Alder Lake and later (32 u8×s8
// multiply-adds per instruction). Exactness and s8 activations as in kernels_avx512vnni.cpp.
#include "engine/int8/kernels.h"

#include "engine/check.h"

#include <immintrin.h>

#include <algorithm>
#include <cstring>
#include <type_traits>
#include <vector>

#define QB_INT8_TARGET __attribute__((target("avx2,avxvnni")))

namespace qb::int8::detail {
namespace {

struct Ops {
  using V = __m256i;
  using AElem = std::uint8_t;
  using WElem = std::int8_t;
  static constexpr int kNR = 8, kGroup = 4, kMR = 6, kNV = 2;  // 12 accumulators of 16 ymm
  static constexpr bool kSignedViaBias = true;
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
    return _mm256_dpbusd_avx_epi32(acc, a, w);
  }
  QB_INT8_TARGET static inline void store(void* p, V v) {
    _mm256_storeu_si256(static_cast<__m256i*>(p), v);
  }
  static AElem from_u8(std::uint8_t x) { return x; }
  static AElem from_s8(std::int8_t x) { return AElem(int(x) + 128); }
};

#include "engine/int8/microkernel.inc"

}  // namespace

void rows_avxvnni(const GemmArgs& args, int m0, int m1) { rows_entry<Ops>(args, m0, m1); }

}  // namespace qb::int8::detail
