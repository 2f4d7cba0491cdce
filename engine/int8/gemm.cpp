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

// The layout of the kernel gemm/gemm_acc16 will run for these weights (kernels.h).
PanelLayout panel_layout(Isa isa, Accumulator acc, bool narrow) {
  if (isa == Isa::scalar) return {1, 1, 1};  // plain row-major W, K_padded = K
  // vpmaddubsw / vpdpbusd on a broadcast u8 quad: 4 k of each column per int32 lane.
  if (acc == Accumulator::int16) return {8, 4, 1};
  switch (isa) {
    case Isa::avx2: return narrow ? PanelLayout{8, 4, 1} : PanelLayout{8, 2, 2};
    case Isa::avxvnni: return {8, 4, 1};
    case Isa::avx512bw: return narrow ? PanelLayout{16, 4, 1} : PanelLayout{16, 2, 2};
    case Isa::avx512vnni: return {16, 4, 1};
    case Isa::scalar: break;
  }
  QB_CHECK(false);
}

}  // namespace

PackedWeights::PackedWeights(const std::int8_t* W, int N, int K, int ldw, Isa isa,
                             Accumulator acc, Activations act)
    : isa_(acc == Accumulator::int16 && isa > Isa::avx2 ? Isa::avx2 : isa),
      acc_(acc),
      act_(act),
      N_(N),
      K_(K) {
  if (!cpu_has(isa_))
    throw error("int8 GEMM: this CPU cannot run the ", isa_name(isa_), " kernels");
  QB_CHECK_GT(N, 0);
  QB_CHECK_GT(K, 0);
  QB_CHECK_LE(K, kMaxK);
  QB_CHECK_GE(ldw, K);
  narrow_ = true;
  for (int n = 0; n < N && narrow_ && act != Activations::u7; ++n)
    for (int k = 0; k < K; ++k)
      if (W[std::int64_t(n) * ldw + k] < -64 || W[std::int64_t(n) * ldw + k] > 63) {
        narrow_ = false;
        break;
      }
  layout_ = panel_layout(isa_, acc_, narrow_);
  const int nr = layout_.nr, G = layout_.group;
  Kp_ = (K + G - 1) / G * G;
  Np_ = (N + nr - 1) / nr * nr;
  const std::size_t count = std::size_t(Kp_) * Np_;
  // Rounded up to whole cache lines: aligned_alloc wants a multiple of the alignment.
  const std::size_t bytes = (count * layout_.elem_bytes + 63) / 64 * 64;
  data_.reset(static_cast<std::byte*>(std::aligned_alloc(64, bytes)));
  QB_CHECK(data_ != nullptr);
  std::memset(data_.get(), 0, bytes);
  auto* w8 = reinterpret_cast<std::int8_t*>(data_.get());
  auto* w16 = reinterpret_cast<std::int16_t*>(data_.get());
  // Element (n, k) sits in panel n / nr, group k / G, at column n % nr and slot k % G.
  for (int n = 0; n < N; ++n)
    for (int k = 0; k < K; ++k) {
      const std::size_t at = std::size_t(n / nr) * Kp_ * nr + std::size_t(k / G) * nr * G +
                             std::size_t(n % nr) * G + k % G;
      const std::int8_t v = W[std::int64_t(n) * ldw + k];
      if (layout_.elem_bytes == 2)
        w16[at] = v;
      else
        w8[at] = v;
    }
  s8_bias_.assign(Np_, 0);
  for (int n = 0; n < N; ++n) {
    std::int32_t sum = 0;
    for (int k = 0; k < K; ++k) sum += W[std::int64_t(n) * ldw + k];
    s8_bias_[n] = -128 * sum;
  }
}

namespace {

detail::RowsKernel rows_kernel(Isa isa, bool narrow) {
  switch (isa) {
    case Isa::scalar: return nullptr;
    case Isa::avx2: return narrow ? detail::rows_avx2_narrow : detail::rows_avx2;
    case Isa::avxvnni: return detail::rows_avxvnni;
    case Isa::avx512bw: return narrow ? detail::rows_avx512bw_narrow : detail::rows_avx512bw;
    case Isa::avx512vnni: return detail::rows_avx512vnni;
  }
  QB_CHECK(false);
}

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
  if (W.isa() == Isa::scalar) {
    gemm_ref(M, W.N(), W.K(), A, lda, static_cast<const std::int8_t*>(W.data()), W.K_padded(),
             C, ldc);
    return;
  }
  run_parallel(rows_kernel(W.isa(), W.narrow()), {A, std::is_signed_v<AT>, lda, &W, C, ldc}, M);
}

}  // namespace

void gemm(const std::uint8_t* A, int lda, int M, const PackedWeights& W, std::int32_t* C,
          int ldc) {
  gemm_impl(A, lda, M, W, C, ldc);
}
void gemm(const std::int8_t* A, int lda, int M, const PackedWeights& W, std::int32_t* C,
          int ldc) {
  gemm_impl(A, lda, M, W, C, ldc);
}

void gemm_acc16(const std::uint8_t* A, int lda, int M, const PackedWeights& W, std::int32_t* C,
                int ldc) {
  check_args(lda, M, W, ldc, Accumulator::int16);
  if (M == 0) return;
  if (W.isa() == Isa::scalar) {
    gemm_acc16_ref(Acc16::pair_wrap, M, W.N(), W.K(), A, lda,
                   static_cast<const std::int8_t*>(W.data()), W.K_padded(), C, ldc, false);
    return;
  }
  run_parallel(detail::rows_avx2_acc16, {A, false, lda, &W, C, ldc}, M);
}

}  // namespace qb::int8
