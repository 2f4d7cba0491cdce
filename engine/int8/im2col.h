// im2col of an NHWC input: the patch matrix a convolution multiplies by its weights
// (engine/int8/conv.h). Shared by Conv2dInt8's scalar path, which writes blocks of patch rows,
// and the GEMM kernels, which write one register tile of rows at a time into their packed rows
// (microkernel.inc, run_rows), as u8 or already widened to int16: one definition of what a
// patch row holds.
#pragma once

#include "engine/int8/conv.h"

#include <algorithm>
#include <cstdint>
#include <cstring>

namespace qb::int8 {

// A convolution's patch matrix: row r is output pixel r = (n·Ho + oy)·Wo + ox's window,
// K = kh·kw·C values in (ky, kx, ci) order, padded taps holding z.
struct Patches {
  const std::uint8_t* x;  // [N][H][W][C]
  int H, W, C;
  std::uint8_t z;
  ConvGeometry g;
  int Ho, Wo;
};

// Valid taps [k0, k1) of a window starting at input position `start` (may be negative).
inline void valid_taps(int start, int k, int in, int& k0, int& k1) {
  k0 = std::clamp(-start, 0, k);
  k1 = std::clamp(in - start, k0, k);
}

// memcpy and memset for im2col's runs, which are short when C_in is (LeNet-5's first conv:
// 5 bytes) and then cost more as libc calls than as copies: up to 64 bytes, two overlapping
// fixed-size moves that the compiler inlines; longer runs go to libc.
inline void copy_run(std::uint8_t* dst, const std::uint8_t* src, std::size_t n) {
  auto two = [&](auto word) {  // the first and the last sizeof(word) bytes
    constexpr std::size_t w = sizeof(word);
    std::memcpy(&word, src, w);
    std::memcpy(dst, &word, w);
    std::memcpy(&word, src + n - w, w);
    std::memcpy(dst + n - w, &word, w);
  };
  struct Bytes16 {
    std::uint64_t lo, hi;
  };
  struct Bytes32 {
    Bytes16 lo, hi;
  };
  if (n > 64) {
    std::memcpy(dst, src, n);
  } else if (n >= 32) {  // a 3×3 window's row of 16 channels: 48 bytes
    two(Bytes32{});
  } else if (n >= 16) {
    two(Bytes16{});
  } else if (n >= 8) {
    two(std::uint64_t{});
  } else if (n >= 4) {
    two(std::uint32_t{});
  } else if (n > 0) {  // 1 to 3 bytes
    dst[0] = src[0];
    dst[n / 2] = src[n / 2];
    dst[n - 1] = src[n - 1];
  }
}

inline void fill_run(std::uint8_t* dst, std::uint8_t z, std::size_t n) {
  if (n == 0) return;
  if (n > 16) return void(std::memset(dst, z, n));
  const std::uint64_t word = 0x0101010101010101ull * z;
  if (n >= 8) {
    std::memcpy(dst, &word, 8);
    std::memcpy(dst + n - 8, &word, 8);
  } else if (n >= 4) {
    std::memcpy(dst, &word, 4);
    std::memcpy(dst + n - 4, &word, 4);
  } else {
    dst[0] = dst[n / 2] = dst[n - 1] = z;
  }
}

// The runs of one patch row in the destination's element type: bytes as they are (the
// fixed-size moves above), wider elements zero-extended — an int16 kernel's operands written
// once, in the form its GEMM reads, with no conversion pass over a u8 copy. Runs of 8 to 16
// take two overlapping fixed-size conversions of 8 elements, which the compiler turns into
// single vector moves, rather than a loop whose
// vector prologue and epilogue cost more than its elements; below 8, plain element moves.
template <class Out>
struct PatchRuns {
  template <int n>
  static void widen(Out* dst, const std::uint8_t* src) {
    for (int i = 0; i < n; ++i) dst[i] = Out(src[i]);
  }
  template <int n>
  static void splat(Out* dst, Out v) {
    for (int i = 0; i < n; ++i) dst[i] = v;
  }
  static void copy(Out* dst, const std::uint8_t* src, std::size_t n) {
    if (n > 16) {
      for (std::size_t i = 0; i < n; ++i) dst[i] = Out(src[i]);
    } else if (n >= 8) {
      widen<8>(dst, src);
      widen<8>(dst + n - 8, src + n - 8);
    } else {
      for (std::size_t i = 0; i < n; ++i) dst[i] = Out(src[i]);
    }
  }
  static void fill(Out* dst, std::uint8_t z, std::size_t n) {
    if (n > 16) {
      std::fill_n(dst, n, Out(z));
    } else if (n >= 8) {
      splat<8>(dst, Out(z));
      splat<8>(dst + n - 8, Out(z));
    } else if (n >= 4) {
      splat<4>(dst, Out(z));
      splat<4>(dst + n - 4, Out(z));
    } else {
      for (std::size_t i = 0; i < n; ++i) dst[i] = Out(z);
    }
  }
};
template <>
struct PatchRuns<std::uint8_t> {
  static void copy(std::uint8_t* dst, const std::uint8_t* src, std::size_t n) {
    copy_run(dst, src, n);
  }
  static void fill(std::uint8_t* dst, std::uint8_t z, std::size_t n) { fill_run(dst, z, n); }
};

// Rows [r0, r1) of p's patch matrix → out, row r at (r − r0)·ld (ld ≥ K = kh·kw·C), each
// code as an Out (u8, or zero-extended to int16).
template <class Out>
inline void im2col(const Patches& p, std::int64_t r0, std::int64_t r1, Out* out, std::size_t ld) {
  using Runs = PatchRuns<Out>;
  const std::uint8_t* x = p.x;
  const int H = p.H, W = p.W, C = p.C, Ho = p.Ho, Wo = p.Wo;
  const std::uint8_t z = p.z;
  const ConvGeometry& g = p.g;
  const std::size_t rowk = std::size_t(g.kw) * C;
  const std::int64_t plane = std::int64_t(Ho) * Wo;
  // Row r0's coordinates, then stepped: no division per row (and one 64-bit division per
  // call, which a kernel makes per register tile of rows).
  std::int64_t n = r0 / plane;
  const int in_plane = int(r0 - n * plane);
  int oy = in_plane / Wo, ox = in_plane - oy * Wo;
  const bool padded = g.padded();
  const std::size_t in_row = std::size_t(W) * C;
  for (std::int64_t r = r0; r < r1; ++r) {
    Out* dst = out + std::size_t(r - r0) * ld;
    const int iy0 = oy * g.stride_h - g.pad_top, ix0 = ox * g.stride_w - g.pad_left;
    if (!padded) {  // every tap inside: kh runs of kw·C codes, nothing to decide
      const std::uint8_t* src = x + ((n * H + iy0) * W + ix0) * std::int64_t(C);
      for (int ky = 0; ky < g.kh; ++ky, dst += rowk, src += in_row) Runs::copy(dst, src, rowk);
      if (++ox == Wo) {
        ox = 0;
        if (++oy == Ho) oy = 0, ++n;
      }
      continue;
    }
    int kx0, kx1;
    valid_taps(ix0, g.kw, W, kx0, kx1);
    for (int ky = 0; ky < g.kh; ++ky, dst += rowk) {
      const int iy = iy0 + ky;
      if (iy < 0 || iy >= H) {
        Runs::fill(dst, z, rowk);
        continue;
      }
      // Taps kx0..kx1 read input columns ix0 + kx0 .. ix0 + kx1 − 1: one contiguous run.
      Runs::fill(dst, z, std::size_t(kx0) * C);
      Runs::copy(dst + std::size_t(kx0) * C, x + ((n * H + iy) * W + ix0 + kx0) * std::int64_t(C),
                 std::size_t(kx1 - kx0) * C);
      Runs::fill(dst + std::size_t(kx1) * C, z, std::size_t(g.kw - kx1) * C);
    }
    if (++ox == Wo) {
      ox = 0;
      if (++oy == Ho) oy = 0, ++n;
    }
  }
}

}  // namespace qb::int8
