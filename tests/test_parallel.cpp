// parallel_split and the row-split fp32 GEMM built on it, alone and from inside a parallel
// region (where a nested region gets one thread and must still cover every row).
#include "engine/gemm.h"
#include "engine/parallel.h"
#include "engine/rng.h"

#include <omp.h>
#include <catch2/catch.hpp>

#include <cmath>
#include <vector>

using namespace qb;

namespace {

struct ThreadsGuard {
  int saved = omp_get_max_threads();
  ~ThreadsGuard() { omp_set_num_threads(saved); }
};

// How many times parallel_split(n, threads) hands each index to a body, and which shares.
std::vector<int> coverage(std::int64_t n, int threads, std::vector<std::int64_t>* begins) {
  std::vector<int> hits(std::size_t(n), 0);
  std::vector<std::int64_t> starts(std::size_t(threads), -1);
  parallel_split(n, threads, [&](int t, std::int64_t b, std::int64_t e) {
    starts[std::size_t(t)] = b;
    for (std::int64_t i = b; i < e; ++i) ++hits[std::size_t(i)];
  });
  if (begins) *begins = starts;
  return hits;
}

// OpenBLAS may block a share of rows differently from the whole, so equal up to rounding.
bool close(const std::vector<float>& a, const std::vector<float>& b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (std::abs(a[i] - b[i]) > 1e-5f) return false;
  return true;
}

}  // namespace

TEST_CASE("parallel_split covers every index once in fixed contiguous shares", "[parallel]") {
  ThreadsGuard guard;
  omp_set_num_threads(2);
  for (std::int64_t n : {0, 1, 2, 7, 100}) {
    INFO("n " << n);
    std::vector<std::int64_t> begins;
    CHECK(coverage(n, 1, nullptr) == std::vector<int>(std::size_t(n), 1));
    CHECK(coverage(n, 2, &begins) == std::vector<int>(std::size_t(n), 1));
    // Thread t starts at n·t/team whatever the team size: the shares depend on nothing else.
    if (omp_get_max_threads() > 1 && n >= 2) CHECK(begins[1] == n / 2);
  }
}

TEST_CASE("parallel_split inside a parallel region runs the whole range on the caller",
          "[parallel]") {
  ThreadsGuard guard;
  omp_set_num_threads(2);
  std::vector<std::vector<int>> hits(2);
  std::vector<int> calls(2, 0);
#pragma omp parallel num_threads(2)
  {
    const int me = omp_get_thread_num();
    hits[std::size_t(me)].assign(50, 0);
    parallel_split(50, 2, [&](int t, std::int64_t b, std::int64_t e) {
      ++calls[std::size_t(me)];
      CHECK(t == 0);
      for (std::int64_t i = b; i < e; ++i) ++hits[std::size_t(me)][std::size_t(i)];
    });
  }
  CHECK(calls[0] == 1);
  CHECK(hits[0] == std::vector<int>(50, 1));
  if (omp_get_max_threads() > 1) {
    CHECK(calls[1] == 1);
    CHECK(hits[1] == std::vector<int>(50, 1));
  }
}

TEST_CASE("sgemm_parallel_rows equals one sgemm, also from inside a parallel region",
          "[parallel]") {
  ThreadsGuard guard;
  omp_set_num_threads(2);
  Rng rng(3);
  const int M = 70, N = 9, K = 13;
  std::vector<float> A(std::size_t(M) * K), B(std::size_t(K) * N);
  for (auto& x : A) x = rng.uniform() - 0.5f;
  for (auto& x : B) x = rng.uniform() - 0.5f;
  std::vector<float> want(std::size_t(M) * N);
  sgemm(false, false, M, N, K, 1.0f, A.data(), K, B.data(), N, 0.0f, want.data(), N);
  std::vector<float> got(want.size(), -1.0f);
  sgemm_parallel_rows(false, false, M, N, K, 1.0f, A.data(), K, B.data(), N, 0.0f, got.data(), N);
  CHECK(close(got, want));
  std::vector<std::vector<float>> nested(2, std::vector<float>(want.size(), -1.0f));
#pragma omp parallel num_threads(2)
  sgemm_parallel_rows(false, false, M, N, K, 1.0f, A.data(), K, B.data(), N, 0.0f,
                      nested[std::size_t(omp_get_thread_num())].data(), N);
  CHECK(close(nested[0], want));
  if (omp_get_max_threads() > 1) CHECK(close(nested[1], want));
}
