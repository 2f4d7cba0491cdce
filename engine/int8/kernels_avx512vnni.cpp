// AVX-512 VNNI int8 GEMM: vpdpbusd, 64 u8×s8 multiply-adds per instruction.
//
// vpdpbusd (not vpdpbusds) adds the four products of each lane, |sum| ≤ 4·32640, to the int32
// accumulator without saturation, so the result is the exact sum for K ≤ kMaxK. It takes
// unsigned activations: s8 activations are packed as a + 128 (a u8) and the accumulators start
// at −128·sum_k W[n][k] (PackedWeights::s8_bias), which makes Σ (a+128)·w − 128·Σ w = Σ a·w
// exactly; the intermediate Σ (a+128)·w stays within ±255·128·K < 2^31 as well.
#include "engine/int8/kernels.h"

#include "engine/check.h"

#include "engine/int8/intrinsics.h"

#include <algorithm>
#include <cstring>
#include <type_traits>
#include <vector>

#define QB_INT8_TARGET QB_INT8_ISA("avx512f,avx512bw,avx512vnni")

namespace qb::int8::detail {
namespace {

#include "engine/int8/vec512.inc"

struct Ops : Vec {
  using AElem = std::uint8_t;
  using WElem = std::int8_t;
  static constexpr int kNR = 16, kGroup = 4, kMR = 12, kNV = 2;  // 24 accumulators of 32 zmm
  static constexpr bool kSignedViaBias = true;
  QB_INT8_TARGET static inline V dot(V acc, V a, V w) { return _mm512_dpbusd_epi32(acc, a, w); }
  static AElem from_u8(std::uint8_t x) { return x; }
  static AElem from_s8(std::int8_t x) { return AElem(int(x) + 128); }
};

#include "engine/int8/microkernel.inc"

}  // namespace

constinit const GemmKernel avx512vnni_gemm = gemm_kernel<Ops>();

}  // namespace qb::int8::detail
