#include "engine/int8/reference.h"

#include "engine/check.h"

#include <algorithm>
#include <string>

namespace qb::int8 {

namespace {

void check_shape(int M, int N, int K, int lda, int ldw, int ldc) {
  QB_CHECK_GE(M, 0);
  QB_CHECK_GE(N, 0);
  QB_CHECK_GE(K, 0);
  QB_CHECK_LE(K, kMaxK);
  QB_CHECK_GE(lda, K);
  QB_CHECK_GE(ldw, K);
  QB_CHECK_GE(ldc, N);
}

template <class AT>
void gemm_ref_impl(int M, int N, int K, const AT* A, int lda, const std::int8_t* W, int ldw,
                   std::int32_t* C, int ldc) {
  check_shape(M, N, K, lda, ldw, ldc);
  for (int m = 0; m < M; ++m)
    for (int n = 0; n < N; ++n) {
      const AT* a = A + std::int64_t(m) * lda;
      const std::int8_t* w = W + std::int64_t(n) * ldw;
      std::int32_t acc = 0;
      for (int k = 0; k < K; ++k) acc += std::int32_t(a[k]) * std::int32_t(w[k]);
      C[std::int64_t(m) * ldc + n] = acc;
    }
}

std::int32_t sat16(std::int32_t v) { return std::clamp<std::int32_t>(v, -32768, 32767); }
std::int32_t wrap16(std::int32_t v) { return std::int32_t(std::int16_t(std::uint16_t(v))); }

template <class AT>
std::int32_t dot_model(Acc16 model, int K, const AT* a, const std::int8_t* w) {
  std::int32_t acc = 0;
  switch (model) {
    case Acc16::wrap:
      for (int k = 0; k < K; ++k) acc = wrap16(acc + std::int32_t(a[k]) * w[k]);
      break;
    case Acc16::saturate:
      for (int k = 0; k < K; ++k) acc = sat16(acc + std::int32_t(a[k]) * w[k]);
      break;
    case Acc16::pair_saturate:
      for (int k = 0; k < K; k += 2) {
        std::int32_t pair = std::int32_t(a[k]) * w[k];
        if (k + 1 < K) pair += std::int32_t(a[k + 1]) * w[k + 1];
        acc += sat16(pair);
      }
      break;
    case Acc16::pair_wrap:
      for (int k = 0; k < K; k += 2) {
        std::int32_t pair = std::int32_t(a[k]) * w[k];
        if (k + 1 < K) pair += std::int32_t(a[k + 1]) * w[k + 1];
        acc = wrap16(acc + sat16(pair));
      }
      break;
    case Acc16::lanes: {
      std::int32_t lane[8] = {};
      for (int k = 0; k < K; ++k) {
        std::int32_t& l = lane[(k % 16) / 2];
        l = wrap16(l + std::int32_t(a[k]) * w[k]);
      }
      for (std::int32_t l : lane) acc += l;
      break;
    }
  }
  return acc;
}

template <class AT>
std::int64_t gemm_acc16_impl(Acc16 model, int M, int N, int K, const AT* A, int lda,
                             const std::int8_t* W, int ldw, std::int32_t* C, int ldc, bool count) {
  check_shape(M, N, K, lda, ldw, ldc);
  std::int64_t differs = 0;
  for (int m = 0; m < M; ++m)
    for (int n = 0; n < N; ++n) {
      const AT* a = A + std::int64_t(m) * lda;
      const std::int8_t* w = W + std::int64_t(n) * ldw;
      const std::int32_t v = dot_model(model, K, a, w);
      C[std::int64_t(m) * ldc + n] = v;
      if (count) {
        std::int32_t exact = 0;
        for (int k = 0; k < K; ++k) exact += std::int32_t(a[k]) * w[k];
        differs += v != exact;
      }
    }
  return differs;
}

}  // namespace

void gemm_ref(int M, int N, int K, const std::uint8_t* A, int lda, const std::int8_t* W, int ldw,
              std::int32_t* C, int ldc) {
  gemm_ref_impl(M, N, K, A, lda, W, ldw, C, ldc);
}
void gemm_ref(int M, int N, int K, const std::int8_t* A, int lda, const std::int8_t* W, int ldw,
              std::int32_t* C, int ldc) {
  gemm_ref_impl(M, N, K, A, lda, W, ldw, C, ldc);
}

void check_gemm_s16_shape(int M, int N, int K, int lda, int ldb, int ldc) {
  QB_CHECK_GE(M, 0);
  QB_CHECK_GE(N, 0);
  QB_CHECK_GE(K, 0);
  QB_CHECK_GE(lda, K);
  QB_CHECK_GE(ldb, K);
  QB_CHECK_GE(ldc, N);
}

void gemm_s16_ref(int M, int N, int K, const std::int16_t* A, int lda, const std::int16_t* B,
                  int ldb, std::int64_t* C, int ldc) {
  check_gemm_s16_shape(M, N, K, lda, ldb, ldc);
  for (int m = 0; m < M; ++m)
    for (int n = 0; n < N; ++n) {
      const std::int16_t* a = A + std::int64_t(m) * lda;
      const std::int16_t* b = B + std::int64_t(n) * ldb;
      std::int64_t acc = 0;
      for (int k = 0; k < K; ++k) acc += std::int32_t(a[k]) * std::int32_t(b[k]);
      C[std::int64_t(m) * ldc + n] = acc;
    }
}

const char* acc16_name(Acc16 model) { return kAcc16Models.row_of(model).name.data(); }

Acc16 parse_acc16(std::string_view name) { return kAcc16Models.parse(name).value; }

std::int64_t gemm_acc16_ref(Acc16 model, int M, int N, int K, const std::uint8_t* A, int lda,
                            const std::int8_t* W, int ldw, std::int32_t* C, int ldc, bool count) {
  return gemm_acc16_impl(model, M, N, K, A, lda, W, ldw, C, ldc, count);
}
std::int64_t gemm_acc16_ref(Acc16 model, int M, int N, int K, const std::int8_t* A, int lda,
                            const std::int8_t* W, int ldw, std::int32_t* C, int ldc, bool count) {
  return gemm_acc16_impl(model, M, N, K, A, lda, W, ldw, C, ldc, count);
}

}  // namespace qb::int8
