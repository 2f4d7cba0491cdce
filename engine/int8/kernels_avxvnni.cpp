// AVX-VNNI int8 GEMM: the VEX-encoded 256-bit vpdpbusd of Alder Lake and later (32 u8×s8
// multiply-adds per instruction). Exactness and s8 activations as in kernels_avx512vnni.cpp.
#include "engine/int8/kernels.h"

#include "engine/check.h"

#include "engine/int8/intrinsics.h"

#include <algorithm>
#include <cstring>
#include <type_traits>
#include <vector>

#define QB_INT8_TARGET QB_INT8_ISA("avx2,avxvnni")

namespace qb::int8::detail {
namespace {

#include "engine/int8/vec256.inc"

struct Ops : Vec {
  using AElem = std::uint8_t;
  using WElem = std::int8_t;
  static constexpr int kNR = 8, kGroup = 4, kMR = 6, kNV = 2;  // 12 accumulators of 16 ymm
  static constexpr bool kSignedViaBias = true;
  QB_INT8_TARGET static inline V dot(V acc, V a, V w) { return _mm256_dpbusd_avx_epi32(acc, a, w); }
  static AElem from_u8(std::uint8_t x) { return x; }
  static AElem from_s8(std::int8_t x) { return AElem(int(x) + 128); }
};

#include "engine/int8/microkernel.inc"

}  // namespace

constinit const GemmKernel avxvnni_gemm = gemm_kernel<Ops>();

}  // namespace qb::int8::detail
