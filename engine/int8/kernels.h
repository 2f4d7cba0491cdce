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

// A kernel and the panel layout it reads the weights in. Both come from one Ops struct
// (microkernel.inc's gemm_kernel<Ops>()), so PackedWeights packs exactly what the kernel
// reads; gemm.cpp's kGemmConfigs says which kernel each ISA runs.
struct GemmKernel {
  RowsKernel rows;
  PanelLayout layout;
};

extern const GemmKernel avx2_gemm;
extern const GemmKernel avx2_narrow_gemm;  // PackedWeights::narrow()
extern const GemmKernel avx2_acc16_gemm;   // gemm_acc16; u8 activations only
extern const GemmKernel avxvnni_gemm;
extern const GemmKernel avx512bw_gemm;
extern const GemmKernel avx512bw_narrow_gemm;
extern const GemmKernel avx512vnni_gemm;

}  // namespace qb::int8::detail
