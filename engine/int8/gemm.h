// int8 GEMM with 32-bit accumulation and a weight operand packed once.
//
//   C[m][n] = sum_k A[m][k] * W[n][k]      A: M×K activations, u8 or s8, row-major (lda)
//                                          W: N×K weights, s8, packed into PackedWeights
//                                          C: M×N int32, row-major (ldc)
//
// Every path is bit-exact against gemm_ref (engine/int8/reference.h) for K ≤ kMaxK; how each
// one stays exact is written beside its kernel (engine/int8/kernels_*.cpp). The ISA is fixed
// when the weights are packed (the layout is the ISA's), by default best_isa(), so
// QB_MAX_ISA=avx2 (say) caps everything packed afterwards. Rows of C are split across
// OpenMP's threads; integer sums make the result independent of the split.
#pragma once

#include "engine/int8/isa.h"

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <vector>

namespace qb::int8 {

namespace detail {
struct GemmKernel;
}

// How a kernel wants W laid out: panels of `nr` columns (one int32 vector of C); in
// each panel, K runs in groups of `group` consecutive k, and a group holds `group` values of
// column 0, then of column 1, ... (what one vpmaddwd (group 2) or vpdpbusd (group 4) eats).
// Elements are int16 (`elem_bytes` 2: sign-extended for vpmaddwd) or int8. Padding is zero.
struct PanelLayout {
  int nr;
  int group;
  int elem_bytes;
};

// Which product the weights are packed for: gemm (exact int32 sums) or gemm_acc16.
enum class Accumulator { int32, int16 };

// What the caller promises about the activations gemm will multiply the weights by:
//   any  u8 or s8, the whole range;
//   u7   u8 values ≤ 127 only (activations of 7 bits or fewer: A4, A2, ...). Then
//        vpmaddubsw's pair sums cannot saturate (2·127·128 = 32512 < 2^15) whatever the
//        weights, so AVX2 and AVX-512BW run it as for narrow weights: the sums stay exact at
//        twice the multiply-adds per instruction. s8 activations are refused. An activation
//        above 127 breaks the promise: the result is then unspecified (pair-saturated on
//        AVX2/AVX-512BW, the exact sum elsewhere).
// (oneDNN's non-VNNI u8×s8 paths rely on the same bound: 7-bit activations.)
enum class Activations { any, u7 };

class PackedWeights {
 public:
  PackedWeights() = default;
  // Throws qb::Error when the CPU lacks `isa`. With Accumulator::int16, an ISA above AVX2
  // packs for the AVX2 kernel, the only 16-bit one (isa() then says avx2).
  PackedWeights(const std::int8_t* W, int N, int K, int ldw, Isa isa = best_isa(),
                Accumulator acc = Accumulator::int32, Activations act = Activations::any);
  // Packs other weights for the same ISA, accumulator and activations, reusing the storage
  // when it is large enough (APT packs a gradient per chunk of images: a fresh allocation
  // each time came back as page faults).
  void repack(const std::int8_t* W, int N, int K, int ldw);

  Isa isa() const { return isa_; }
  Accumulator accumulator() const { return acc_; }
  Activations activations() const { return act_; }
  // vpmaddubsw's pair sums cannot saturate, so gemm's AVX2 and AVX-512BW kernels use it on u8
  // operands instead of widening both operands to int16 for vpmaddwd — twice the multiply-adds
  // per instruction, still exact: every weight is in [-64, 63] (|2·255·64| < 2^15; weights of
  // 7 bits or fewer — W4, W2, ternary ... — always are), or the activations are promised u7.
  bool narrow() const { return narrow_; }
  int N() const { return N_; }
  int K() const { return K_; }
  PanelLayout layout() const { return layout_; }
  // The kernel gemm or gemm_acc16 runs on these weights (its layout is layout()).
  const detail::GemmKernel* kernel() const { return kernel_; }
  // K rounded up to the group, N rounded up to the panel width.
  int K_padded() const { return Kp_; }
  int N_padded() const { return Np_; }
  const void* data() const { return data_.get(); }
  // Per column (N_padded entries): -128 · sum_k W[n][k]. Kernels that take u8 activations
  // (vpdpbusd) run s8 ones as a + 128 and start their accumulators here.
  const std::int32_t* s8_bias() const { return s8_bias_.data(); }

 private:
  struct Free {
    void operator()(void* p) const { std::free(p); }
  };
  template <class T>
  void pack_panels(const std::int8_t* W, int N, int K, int ldw, T* out) const;
  Isa isa_ = Isa::scalar;
  Accumulator acc_ = Accumulator::int32;
  Activations act_ = Activations::any;
  bool narrow_ = false;
  int N_ = 0, K_ = 0, Kp_ = 0, Np_ = 0;
  std::size_t capacity_ = 0;  // bytes at data_
  PanelLayout layout_{1, 1, 1};
  const detail::GemmKernel* kernel_ = nullptr;
  std::unique_ptr<std::byte[], Free> data_;
  std::vector<std::int32_t> s8_bias_;
};

void gemm(const std::uint8_t* A, int lda, int M, const PackedWeights& W, std::int32_t* C, int ldc);
void gemm(const std::int8_t* A, int lda, int M, const PackedWeights& W, std::int32_t* C, int ldc);

// The same product accumulated in 16 bits the x86 way, the `pair_wrap` model of reference.h:
// vpmaddubsw sums adjacent u8·s8 pairs saturating to int16, vpaddw adds them modulo 2^16. C
// receives each dot product's int16 result. Equal to gemm's exact sum whenever that fits in
// int16 and no pair saturates (activations ≤ 127 never saturate a pair), which is what
// overflow-aware quantization arranges. Twice the multiply-adds per instruction of the int32
// AVX2 kernel. u8 activations only (vpmaddubsw's unsigned operand); W packed with
// Accumulator::int16.
void gemm_acc16(const std::uint8_t* A, int lda, int M, const PackedWeights& W, std::int32_t* C,
                int ldc);

}  // namespace qb::int8
