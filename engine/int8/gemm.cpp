#include "engine/int8/gemm.h"

#include "engine/check.h"
#include "engine/int8/kernels.h"
#include "engine/int8/reference.h"
#include "engine/parallel.h"

#include <omp.h>

#include <algorithm>
#include <cstring>
#include <type_traits>

namespace qb::int8 {

namespace {

// The scalar reference as a kernel (plain row-major W, K_padded = K), so that every ISA runs
// the same way: rows of C split over the threads, each share computed by its row's kernel.
void rows_scalar(const detail::GemmArgs& a, int m0, int m1) {
  const PackedWeights& W = *a.W;
  const auto* w = static_cast<const std::int8_t*>(W.data());
  std::int32_t* C = a.C + std::int64_t(m0) * a.ldc;
  if (a.a_signed)
    gemm_ref(m1 - m0, W.N(), W.K(), static_cast<const std::int8_t*>(a.A) + std::int64_t(m0) * a.lda,
             a.lda, w, W.K_padded(), C, a.ldc);
  else
    gemm_ref(m1 - m0, W.N(), W.K(),
             static_cast<const std::uint8_t*>(a.A) + std::int64_t(m0) * a.lda, a.lda, w,
             W.K_padded(), C, a.ldc);
}
void rows_scalar_acc16(const detail::GemmArgs& a, int m0, int m1) {
  const PackedWeights& W = *a.W;
  gemm_acc16_ref(Acc16::pair_wrap, m1 - m0, W.N(), W.K(),
                 static_cast<const std::uint8_t*>(a.A) + std::int64_t(m0) * a.lda, a.lda,
                 static_cast<const std::int8_t*>(W.data()), W.K_padded(),
                 a.C + std::int64_t(m0) * a.ldc, a.ldc, false);
}
constexpr detail::GemmKernel kScalar = {rows_scalar, {1, 1, 1}};
constexpr detail::GemmKernel kScalarAcc16 = {rows_scalar_acc16, {1, 1, 1}};

// One row per ISA, in kIsas' order (XNNPACK's gemm-config.c): the kernel gemm runs for any
// weights, the one for narrow weights (PackedWeights::narrow(): vpmaddubsw stays exact), and
// the 16-bit-accumulating one of gemm_acc16 — only AVX2 and the reference have one; weights
// packed for gemm_acc16 on a higher ISA are packed for AVX2's. Each kernel carries its layout.
struct GemmConfig {
  Isa isa;
  const detail::GemmKernel* wide;
  const detail::GemmKernel* narrow;
  const detail::GemmKernel* acc16;
};
constexpr GemmConfig kGemmConfigs[] = {
    {Isa::scalar, &kScalar, &kScalar, &kScalarAcc16},
    {Isa::avx2, &detail::avx2_gemm, &detail::avx2_narrow_gemm, &detail::avx2_acc16_gemm},
    {Isa::avxvnni, &detail::avxvnni_gemm, &detail::avxvnni_gemm, nullptr},
    {Isa::avx512bw, &detail::avx512bw_gemm, &detail::avx512bw_narrow_gemm, nullptr},
    {Isa::avx512vnni, &detail::avx512vnni_gemm, &detail::avx512vnni_gemm, nullptr},
};
static_assert(std::size(kGemmConfigs) == std::size(kAllIsas));

const GemmConfig& config_of(Isa isa) {
  const GemmConfig& c = kGemmConfigs[std::size_t(isa)];
  QB_CHECK(c.isa == isa);
  return c;
}

// The ISA whose kernel runs `acc` for weights packed on `isa`.
Isa packing_isa(Isa isa, Accumulator acc) {
  return acc == Accumulator::int16 && !config_of(isa).acc16 ? Isa::avx2 : isa;
}

}  // namespace

// Element (n, k) sits in panel n / nr, group k / G, at column n % nr and slot k % G: a panel
// holds Kp_ · nr elements, a group nr · G. Written group by group, without a division per
// element (APT packs a gradient per chunk of images: this loop was 9% of its ResNet-20 step).
template <class T>
void PackedWeights::pack_panels(const std::int8_t* W, int N, int K, int ldw, T* out) const {
  const int nr = layout_.nr, G = layout_.group;
  for (int n0 = 0; n0 < N; n0 += nr) {
    const int cols = std::min(nr, N - n0);
    for (int k0 = 0; k0 < K; k0 += G) {
      T* group = out + std::size_t(n0) * Kp_ + std::size_t(k0) * nr;
      const int slots = std::min(G, K - k0);
      for (int c = 0; c < cols; ++c) {
        const std::int8_t* w = W + std::int64_t(n0 + c) * ldw + k0;
        for (int g = 0; g < slots; ++g) group[c * G + g] = w[g];
      }
    }
  }
}

PackedWeights::PackedWeights(const std::int8_t* W, int N, int K, int ldw, Isa isa, Accumulator acc,
                             Activations act)
    : isa_(packing_isa(isa, acc)), acc_(acc), act_(act) {
  if (!cpu_has(isa_))
    throw error("int8 GEMM: this CPU cannot run the ", isa_name(isa_), " kernels");
  repack(W, N, K, ldw);
}

void PackedWeights::repack(const std::int8_t* W, int N, int K, int ldw) {
  QB_CHECK_GT(N, 0);
  QB_CHECK_GT(K, 0);
  QB_CHECK_LE(K, kMaxK);
  QB_CHECK_GE(ldw, K);
  N_ = N;
  K_ = K;
  narrow_ = true;
  for (int n = 0; n < N && narrow_ && act_ != Activations::u7; ++n) {
    // Each row's range, branch-free so that it vectorises (APT repacks a gradient per chunk).
    const std::int8_t* w = W + std::int64_t(n) * ldw;
    std::int8_t lo = 0, hi = 0;
    for (int k = 0; k < K; ++k) {
      lo = std::min(lo, w[k]);
      hi = std::max(hi, w[k]);
    }
    narrow_ = lo >= -64 && hi <= 63;
  }
  const GemmConfig& config = config_of(isa_);
  kernel_ = acc_ == Accumulator::int16 ? config.acc16 : narrow_ ? config.narrow : config.wide;
  layout_ = kernel_->layout;
  const int nr = layout_.nr, G = layout_.group;
  Kp_ = (K + G - 1) / G * G;
  Np_ = (N + nr - 1) / nr * nr;
  const std::size_t count = std::size_t(Kp_) * Np_;
  // Rounded up to whole cache lines: aligned_alloc wants a multiple of the alignment.
  const std::size_t bytes = (count * layout_.elem_bytes + 63) / 64 * 64;
  if (bytes > capacity_) {
    data_.reset(static_cast<std::byte*>(std::aligned_alloc(64, bytes)));
    QB_CHECK(data_ != nullptr);
    capacity_ = bytes;
  }
  std::memset(data_.get(), 0, bytes);
  if (layout_.elem_bytes == 2)
    pack_panels(W, N, K, ldw, reinterpret_cast<std::int16_t*>(data_.get()));
  else
    pack_panels(W, N, K, ldw, reinterpret_cast<std::int8_t*>(data_.get()));
  s8_bias_.assign(Np_, 0);
  for (int n = 0; n < N; ++n) {
    std::int32_t sum = 0;
    for (int k = 0; k < K; ++k) sum += W[std::int64_t(n) * ldw + k];
    s8_bias_[n] = -128 * sum;
  }
}

namespace {

// Splits the rows of C over OpenMP's threads and runs `rows` on each share.
void run_parallel(detail::RowsKernel rows, const detail::GemmArgs& args, int M) {
  // At least 32 rows a thread, so small M stays on one.
  const int T = std::min(omp_get_max_threads(), std::max(1, M / 32));
  parallel_split(M, T,
                 [&](int, std::int64_t m0, std::int64_t m1) { rows(args, int(m0), int(m1)); });
}

void check_args(int lda, int M, const PackedWeights& W, int ldc, Accumulator acc) {
  QB_CHECK_GE(M, 0);
  QB_CHECK_GE(lda, W.K());
  QB_CHECK_GE(ldc, W.N());
  QB_CHECK(W.data() != nullptr);  // a default-constructed PackedWeights
  if (W.accumulator() != acc)
    throw error("int8 GEMM: weights packed for ",
                W.accumulator() == Accumulator::int16 ? "gemm_acc16" : "gemm", ", not for ",
                acc == Accumulator::int16 ? "gemm_acc16" : "gemm");
}

template <class AT>
void gemm_impl(const AT* A, int lda, int M, const PackedWeights& W, std::int32_t* C, int ldc) {
  check_args(lda, M, W, ldc, Accumulator::int32);
  // The kernels run s8 activations as a + 128, which the u7 promise does not cover.
  if (std::is_signed_v<AT> && W.activations() == Activations::u7)
    throw error("int8 GEMM: weights packed for u7 activations take u8 activations, not s8");
  if (M == 0) return;
  run_parallel(W.kernel()->rows, {A, std::is_signed_v<AT>, lda, &W, C, ldc}, M);
}

}  // namespace

void gemm(const std::uint8_t* A, int lda, int M, const PackedWeights& W, std::int32_t* C, int ldc) {
  gemm_impl(A, lda, M, W, C, ldc);
}
void gemm(const std::int8_t* A, int lda, int M, const PackedWeights& W, std::int32_t* C, int ldc) {
  gemm_impl(A, lda, M, W, C, ldc);
}

void detail::gemm_patches(const Patches& p, std::int64_t first, int rows, const PackedWeights& W,
                          std::int32_t* C, int ldc) {
  check_args(W.K(), rows, W, ldc, W.accumulator());  // gemm's product or gemm_acc16's
  QB_CHECK(W.isa() != Isa::scalar);                  // the reference kernel reads a matrix
  QB_CHECK_EQ(std::int64_t(p.g.kh) * p.g.kw * p.C, W.K());
  if (rows == 0) return;
  detail::GemmArgs args{nullptr, false, W.K(), &W, C, ldc};
  args.patches = &p;
  args.first = first;
  W.kernel()->rows(args, 0, rows);
}

void gemm_acc16(const std::uint8_t* A, int lda, int M, const PackedWeights& W, std::int32_t* C,
                int ldc) {
  check_args(lda, M, W, ldc, Accumulator::int16);
  if (M == 0) return;
  run_parallel(W.kernel()->rows, {A, false, lda, &W, C, ldc}, M);
}

}  // namespace qb::int8
