// The x86 intrinsics of the int8 kernels, and QB_INT8_ISA(features), the attribute that
// compiles one kernel function for its instruction set.
//
// Normally these are the compiler's <immintrin.h> and __attribute__((target(features))).
// The emulation build (QB_INT8_EMULATE: the test executable qbench_int8_emulated_tests) swaps
// in SIMDe's portable implementations of the same intrinsics (Debian: libsimde-dev) and drops
// the attributes, so the AVX-512BW, AVX-VNNI and AVX-512 VNNI kernels — their tiles, packing,
// tails and s8 bias — are checked bit for bit against the references on a CPU without those
// instructions. That proves our code, given SIMDe's model of each instruction; the silicon is
// proved only by the ordinary build's tests on a CPU that has it.
#pragma once

#ifndef QB_INT8_EMULATE

#include <immintrin.h>
#define QB_INT8_ISA(features) __attribute__((target(features)))

#else

#define SIMDE_ENABLE_NATIVE_ALIASES
#include <simde/x86/avx512.h>

#include <cstdint>
#include <cstring>

#define QB_INT8_ISA(features)

// SIMDe 0.7.4's alias takes four arguments (a copy of the masked form's); the function is right.
#undef _mm512_madd_epi16
#define _mm512_madd_epi16(a, b) simde_mm512_madd_epi16(a, b)

// AVX-VNNI's vpdpbusd is AVX-512 VNNI's 256-bit form in a VEX encoding, lane for lane.
#define _mm256_dpbusd_avx_epi32(acc, a, b) simde_mm256_dpbusd_epi32(acc, a, b)

// The intrinsics SIMDe 0.7 lacks, written from Intel's definitions lane by lane. (Where the
// build machine has AVX-512 the compiler's own would compile in their place, so only a build
// on a CPU without it shows one missing here.)
namespace qb::int8::emulated {

template <class T, int N>
struct Lanes {
  T v[N];
};
template <class T, int N = int(64 / sizeof(T))>
inline Lanes<T, N> lanes(simde__m512i x) {
  Lanes<T, N> out;
  std::memcpy(out.v, &x, 64);
  return out;
}
template <class T, int N>
inline simde__m512i vec(const Lanes<T, N>& l) {
  simde__m512i x;
  std::memcpy(&x, l.v, 64);
  return x;
}

inline simde__m512i maskz_loadu_epi32(simde__mmask16 k, const void* p) {
  Lanes<std::int32_t, 16> l{};
  for (int i = 0; i < 16; ++i)
    if (k >> i & 1) std::memcpy(&l.v[i], static_cast<const char*>(p) + 4 * i, 4);
  return vec(l);
}
inline simde__m512i maskz_loadu_epi64(simde__mmask8 k, const void* p) {
  Lanes<std::int64_t, 8> l{};
  for (int i = 0; i < 8; ++i)
    if (k >> i & 1) std::memcpy(&l.v[i], static_cast<const char*>(p) + 8 * i, 8);
  return vec(l);
}
// vpmovsxdq: eight int32 lanes sign-extended to int64.
inline simde__m512i cvtepi32_epi64(simde__m256i x) {
  std::int32_t in[8];
  std::memcpy(in, &x, 32);
  Lanes<std::int64_t, 8> l;
  for (int i = 0; i < 8; ++i) l.v[i] = in[i];
  return vec(l);
}
inline void mask_storeu_epi64(void* p, simde__mmask8 k, simde__m512i x) {
  const auto l = lanes<std::int64_t>(x);
  for (int i = 0; i < 8; ++i)
    if (k >> i & 1) std::memcpy(static_cast<char*>(p) + 8 * i, &l.v[i], 8);
}
// vpmovdb with a write mask: each selected int32 truncated to its low byte.
inline void mask_cvtepi32_storeu_epi8(void* p, simde__mmask16 k, simde__m512i x) {
  const auto l = lanes<std::int32_t>(x);
  for (int i = 0; i < 16; ++i)
    if (k >> i & 1) static_cast<std::int8_t*>(p)[i] = std::int8_t(std::uint32_t(l.v[i]) & 0xff);
}
inline simde__mmask16 cmplt_epi32_mask(simde__m512i a, simde__m512i b) {
  const auto x = lanes<std::int32_t>(a), y = lanes<std::int32_t>(b);
  simde__mmask16 k = 0;
  for (int i = 0; i < 16; ++i)
    if (x.v[i] < y.v[i]) k = simde__mmask16(k | 1u << i);
  return k;
}
// Arithmetic shifts; counts past the width fill with the sign, as the instructions do.
inline simde__m512i srav_epi64(simde__m512i a, simde__m512i count) {
  auto x = lanes<std::int64_t>(a);
  const auto c = lanes<std::uint64_t>(count);
  for (int i = 0; i < 8; ++i) {
    // The count gets a name of its own: GCC 12 with -fsanitize=shift,bounds miscompiles
    // `x >> (c.v[i] > 63 ? 63 : c.v[i])`, using a lane's value as the index (every lane then
    // shifted by the first count), which broke the emulated tests under UBSan only.
    const unsigned s = c.v[i] > 63 ? 63u : unsigned(c.v[i]);
    x.v[i] >>= s;
  }
  return vec(x);
}
inline simde__m512i srai_epi32(simde__m512i a, unsigned count) {
  auto x = lanes<std::int32_t>(a);
  for (int i = 0; i < 16; ++i) x.v[i] = x.v[i] >> (count > 31 ? 31 : count);
  return vec(x);
}
inline simde__m512i sra_epi32(simde__m512i a, simde__m128i count) {
  std::uint64_t c;
  std::memcpy(&c, &count, 8);
  auto x = lanes<std::int32_t>(a);
  for (int i = 0; i < 16; ++i) x.v[i] = x.v[i] >> (c > 31 ? 31 : c);
  return vec(x);
}

}  // namespace qb::int8::emulated

#define _mm512_maskz_loadu_epi32 ::qb::int8::emulated::maskz_loadu_epi32
#define _mm512_maskz_loadu_epi64 ::qb::int8::emulated::maskz_loadu_epi64
#define _mm512_cvtepi32_epi64 ::qb::int8::emulated::cvtepi32_epi64
#define _mm512_mask_storeu_epi64 ::qb::int8::emulated::mask_storeu_epi64
#define _mm512_mask_cvtepi32_storeu_epi8 ::qb::int8::emulated::mask_cvtepi32_storeu_epi8
#define _mm512_cmplt_epi32_mask ::qb::int8::emulated::cmplt_epi32_mask
#define _mm512_srav_epi64 ::qb::int8::emulated::srav_epi64
#define _mm512_sra_epi32 ::qb::int8::emulated::sra_epi32
#define _mm512_srai_epi32 ::qb::int8::emulated::srai_epi32

#endif
