// AVX2 int8 GEMM with 16-bit accumulation: the `pair_wrap` model of reference.h.
//
// vpmaddubsw multiplies 32 u8·s8 pairs and adds adjacent products into 16 int16 lanes,
// saturating (the model's sat16 of each pair); vpaddw adds those into int16 accumulators
// modulo 2^16. That is 32 multiply-adds per two instructions, against 16 for the exact int32
// kernel (vpmaddwd + vpaddd on widened operands, kernels_avx2.cpp): the speed 16-bit
// accumulators buy, and the reason overflow-aware quantization exists.
//
// The weights use the vpdpbusd layout (8 columns × 4 k per vector, PanelLayout{8, 4, 1}), so
// a broadcast u8 quad feeds two int16 lanes per column: one holds the pairs (k0, k1), the
// other (k2, k3). finish() adds the two, which is exact because addition modulo 2^16 does not
// care about order: the lanes' sum, wrapped to int16, is the model's sequential result.
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
  using AElem = std::uint8_t;
  using WElem = std::int8_t;
  static constexpr int kNR = 8, kGroup = 4, kMR = 6, kNV = 2;  // 12 accumulators of 16 ymm
  static constexpr bool kSignedViaBias = false;
  QB_INT8_TARGET static inline V dot(V acc, V a, V w) {
    return _mm256_add_epi16(acc, _mm256_maddubs_epi16(a, w));
  }
  // The two int16 lanes of each column summed exactly in int32 (vpmaddwd by 1), then wrapped
  // to int16 and sign-extended back.
  QB_INT8_TARGET static inline V finish(V acc) {
    const V sum = _mm256_madd_epi16(acc, _mm256_set1_epi16(1));
    return _mm256_srai_epi32(_mm256_slli_epi32(sum, 16), 16);
  }
  static AElem from_u8(std::uint8_t x) { return x; }
  // Never called: gemm_acc16 takes u8 activations only (rows_acc16 checks).
  static AElem from_s8(std::int8_t x) { return AElem(x); }
};

#include "engine/int8/microkernel.inc"

void rows_acc16(const GemmArgs& args, int m0, int m1) {
  QB_CHECK(!args.a_signed);
  rows_entry<Ops>(args, m0, m1);
}

}  // namespace

constinit const GemmKernel avx2_acc16_gemm = {rows_acc16, layout_of<Ops>()};

}  // namespace qb::int8::detail
