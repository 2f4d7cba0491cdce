// The per-ISA kernels behind qb::int8::gemm (internal to engine/int8).
//
// Each kernels_<isa>.cpp compiles its functions with __attribute__((target(...))) (spelled
// QB_INT8_ISA, engine/int8/intrinsics.h, so the emulation build can drop it) rather than
// per-file -m flags: with -mavx512f on a whole file, inline functions and templates it
// instantiates (std::vector, ...) could be emitted with AVX-512 code and picked by the linker
// for every caller, breaking portable (-DQB_NATIVE=OFF) builds on older CPUs.
#pragma once

#include "engine/int8/gemm.h"

#include <cstdint>

namespace qb::int8::detail {

struct GemmArgs {
  const void* A;  // std::uint8_t or std::int8_t, by a_signed
  bool a_signed;
  int lda;
  const PackedWeights* W;
  std::int32_t* C;
  int ldc;
};

// Computes rows [m0, m1) of C.
using RowsKernel = void (*)(const GemmArgs& args, int m0, int m1);

void rows_avx2(const GemmArgs& args, int m0, int m1);
void rows_avx2_narrow(const GemmArgs& args, int m0, int m1);  // PackedWeights::narrow()
void rows_avx2_acc16(const GemmArgs& args, int m0, int m1);   // u8 activations only
void rows_avxvnni(const GemmArgs& args, int m0, int m1);
void rows_avx512bw(const GemmArgs& args, int m0, int m1);
void rows_avx512bw_narrow(const GemmArgs& args, int m0, int m1);
void rows_avx512vnni(const GemmArgs& args, int m0, int m1);

}  // namespace qb::int8::detail
