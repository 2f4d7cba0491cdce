// Scalar reference int8 GEMMs: the definitions every fast path is tested against.
//
//   C[m][n] = sum_k A[m][k] * W[n][k]      A: M×K row-major (activations, u8 or s8)
//                                          W: N×K row-major (weights, s8), i.e. C = A·Wᵀ
//
// 32-bit accumulation is exact for K ≤ kMaxK: |A·W| ≤ 255·128 = 32640 per product, and
// 65536·32640 = 2,139,095,040 < 2^31.
//
// 16-bit accumulation models (what an int16 accumulator does to the same dot product, k in
// order 0..K-1; every single product fits int16, since |product| ≤ 32640 < 2^15):
//   wrap           acc = (acc + a·w) mod 2^16, kept in [-2^15, 2^15)   (ARM smlal on int16)
//   saturate       acc = sat16(acc + a·w) after every add               (vpaddsw / vqadd)
//   pair_saturate  acc32 += sat16(a[2i]·w[2i] + a[2i+1]·w[2i+1])        (x86 vpmaddubsw, whose
//                  adjacent pair sums saturate to int16, then widened and summed in int32;
//                  an odd K pairs the last product with 0)
//   pair_wrap      acc = (acc + sat16(a[2i]·w[2i] + a[2i+1]·w[2i+1])) mod 2^16   (x86 16-bit
//                  accumulation: vpmaddubsw, then vpaddw; what gemm_acc16 computes. Modular
//                  addition is associative, so the order the pairs are added in does not
//                  matter. Equal to `wrap` whenever no pair saturates, e.g. for activations
//                  ≤ 127: |pair| ≤ 2·127·128 = 32512)
//   lanes          MNN's ARM kernel (…_16x4_Unit_FAST, research note C.3): in each block of 16
//                  consecutive k, lane j (0..7) adds products 2j and 2j+1 modulo 2^16; the 8
//                  lanes are widened and summed in int32 at the end. Neither full-sum model
//                  implies it, nor it them (note E.10); methods/accumulation.h's lanes_sum is
//                  the same definition, the one OAQ certifies
// With `count`, the model functions return how many of the M·N dot products differ from the
// exact sum (the exact sum is computed alongside); without it they return 0.
#pragma once

#include "engine/names.h"

#include <cstdint>
#include <string_view>

namespace qb::int8 {

inline constexpr int kMaxK = 65536;

void gemm_ref(int M, int N, int K, const std::uint8_t* A, int lda, const std::int8_t* W, int ldw,
              std::int32_t* C, int ldc);
void gemm_ref(int M, int N, int K, const std::int8_t* A, int lda, const std::int8_t* W, int ldw,
              std::int32_t* C, int ldc);

enum class Acc16 { wrap, saturate, pair_saturate, pair_wrap, lanes };

inline constexpr Named<Acc16> kAcc16Rows[] = {{"wrap", Acc16::wrap},
                                              {"saturate", Acc16::saturate},
                                              {"pair-saturate", Acc16::pair_saturate},
                                              {"pair-wrap", Acc16::pair_wrap},
                                              {"lanes", Acc16::lanes}};
inline constexpr NameTable<Named<Acc16>> kAcc16Models{"16-bit accumulation model", kAcc16Rows};

// The shape checks gemm_s16 and gemm_s16_ref share (non-negative sizes, leading dimensions
// at least a row): QB_CHECK failures, since callers are internal.
void check_gemm_s16_shape(int M, int N, int K, int lda, int ldb, int ldc);

// int16 × int16 with exact int64 sums, C = A·Bᵀ (A: M×K, B: N×K, row-major): the reference of
// gemm_s16 (gemm_s16.h), the integer training path's kernel for 16-bit operands. Any K: a
// product is at most 2^30 in magnitude, so 2^33 of them fit int64.
void gemm_s16_ref(int M, int N, int K, const std::int16_t* A, int lda, const std::int16_t* B,
                  int ldb, std::int64_t* C, int ldc);

const char* acc16_name(Acc16 model);
Acc16 parse_acc16(std::string_view name);  // throws qb::Error

// C receives the model's result (within int16 for wrap, saturate and pair_wrap).
std::int64_t gemm_acc16_ref(Acc16 model, int M, int N, int K, const std::uint8_t* A, int lda,
                            const std::int8_t* W, int ldw, std::int32_t* C, int ldc, bool count);
std::int64_t gemm_acc16_ref(Acc16 model, int M, int N, int K, const std::int8_t* A, int lda,
                            const std::int8_t* W, int ldw, std::int32_t* C, int ldc, bool count);

}  // namespace qb::int8
