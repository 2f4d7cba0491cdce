// The per-ISA kernels behind qb::int8::gemm (internal to engine/int8).
//
// Each kernels_<isa>.cpp compiles its functions with __attribute__((target(...))) (spelled
// QB_INT8_ISA, engine/int8/intrinsics.h, so the emulation build can drop it) rather than
// per-file -m flags: with -mavx512f on a whole file, inline functions and templates it
// instantiates (std::vector, ...) could be emitted with AVX-512 code and picked by the linker
// for every caller, breaking portable (-DQB_NATIVE=OFF) builds on older CPUs.
#pragma once

#include "engine/int8/gemm.h"
#include "engine/int8/im2col.h"

#include <cstdint>

namespace qb::int8::detail {

struct GemmArgs {
  const void* A;  // std::uint8_t or std::int8_t, by a_signed; unused with patches
  bool a_signed;
  int lda;
  const PackedWeights* W;
  std::int32_t* C;
  int ldc;
  // Instead of A: the patch matrix of a convolution, from row `first` on (im2col.h). The
  // kernel builds each register tile of rows from the input straight into its packed rows
  // (im2col of kMR rows, then its conversion, both in L1): the patches are never written out
  // as a matrix and read back. Not the scalar kernels.
  const Patches* patches = nullptr;
  std::int64_t first = 0;
};

// Whether a kernel that reads u8 activations in place (GemmKernel::u8_in_place) can take the
// patches of a conv of geometry g over C channels straight from its input, once the input's
// padding is written out (Conv2dInt8::forward_rows does): whole groups of `group` channels per
// tap, and at most kMaxInPlaceTaps taps.
inline constexpr int kMaxInPlaceTaps = 64;
inline bool patches_in_place(const ConvGeometry& g, int C, int group) {
  return C % group == 0 && g.kh * g.kw <= kMaxInPlaceTaps;
}

// Computes rows [m0, m1) of C.
using RowsKernel = void (*)(const GemmArgs& args, int m0, int m1);

// A kernel and the panel layout it reads the weights in. Both come from one Ops struct
// (microkernel.inc's gemm_kernel<Ops>()), so PackedWeights packs exactly what the kernel
// reads; gemm.cpp's kGemmConfigs says which kernel each ISA runs.
struct GemmKernel {
  RowsKernel rows;
  PanelLayout layout;
  // Reads u8 activations as they are: given patches of an input with its padding written out
  // and whole groups of channels per tap, it multiplies them in place (microkernel.inc's
  // micro_tile_direct) instead of building each tile's rows by im2col.
  bool u8_in_place = false;
};

extern const GemmKernel avx2_gemm;
extern const GemmKernel avx2_narrow_gemm;  // PackedWeights::narrow()
extern const GemmKernel avx2_acc16_gemm;   // gemm_acc16; u8 activations only
extern const GemmKernel avxvnni_gemm;
extern const GemmKernel avx512bw_gemm;
extern const GemmKernel avx512bw_narrow_gemm;
extern const GemmKernel avx512vnni_gemm;

// Rows [first, first + rows) of the product of p's patch matrix and W (packed for an ISA above
// scalar, K = kh·kw·C) into C (ldc; row first at C), on the calling thread: exact sums for
// Accumulator::int32, gemm_acc16's pair_wrap results for Accumulator::int16.
void gemm_patches(const Patches& p, std::int64_t first, int rows, const PackedWeights& W,
                  std::int32_t* C, int ldc);

}  // namespace qb::int8::detail
