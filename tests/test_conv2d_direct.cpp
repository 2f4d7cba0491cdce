// The direct fp32 convolution kernels (engine/layers/conv2d_direct.h) beyond agreement with the
// reference convolution (tests/test_conv2d_kernels.cpp runs them on every shape there): the
// AVX2 tiles equal the scalar ones bit for bit, and results do not depend on the thread count.
#include "engine/layers/conv2d_direct.h"
#include "engine/layers/conv2d_kernels.h"
#include "engine/layers/conv2d_tile.h"
#include "engine/parallel.h"
#include "engine/rng.h"
#include "tests/support.h"

#include <catch2/catch.hpp>

#include <cstdlib>
#include <cstring>
#include <vector>

using namespace qb;

namespace {

using test::normal_floats;

bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

}  // namespace

TEST_CASE("the AVX2 convolution tile equals the scalar tile bit for bit", "[layers][conv]") {
  if (!__builtin_cpu_supports("avx2") || !__builtin_cpu_supports("fma")) {
    WARN("no AVX2+FMA here: only the scalar tile runs");
    return;
  }
  for (std::size_t kc : {1u, 2u, 7u, 144u, 577u}) {
    INFO("kc " << kc);
    const auto A = normal_floats(kc * kTileRows, kc);
    const auto B = normal_floats(kc * kTileCols, kc + 1);
    const std::size_t ldc = kTileCols + 5;  // rows apart by more than a tile
    for (bool accumulate : {false, true}) {
      auto scalar = normal_floats(kTileRows * ldc, 9), avx2 = scalar;
      tile_kernel_scalar(kc, A.data(), B.data(), scalar.data(), ldc, accumulate);
      tile_kernel_avx2(kc, A.data(), B.data(), avx2.data(), ldc, accumulate);
      REQUIRE(same_bits(scalar, avx2));
      // The sum is real work: a tile left as it was would pass the comparison above.
      REQUIRE(!same_bits(scalar, normal_floats(kTileRows * ldc, 9)));
    }
  }
}

TEST_CASE("the AVX2 weight-gradient tile equals the scalar tile bit for bit", "[layers][conv]") {
  if (!__builtin_cpu_supports("avx2") || !__builtin_cpu_supports("fma")) {
    WARN("no AVX2+FMA here: only the scalar tile runs");
    return;
  }
  for (std::size_t n8 : {1u, 3u, 32u}) {
    INFO("n8 " << n8);
    const std::size_t ldd = n8 * kGradLanes + 8, ldc = n8 * kGradLanes + 16, ldp = 40;
    const auto dy = normal_floats(kGradTileRows * ldd, n8);
    const auto col = normal_floats(kGradTileCols * ldc, n8 + 1);
    const auto start = normal_floats(kGradTileRows * ldp, 9);
    auto scalar = start, avx2 = start;
    grad_tile_kernel_scalar(n8, dy.data(), ldd, col.data(), ldc, scalar.data(), ldp);
    grad_tile_kernel_avx2(n8, dy.data(), ldd, col.data(), ldc, avx2.data(), ldp);
    REQUIRE(same_bits(scalar, avx2));
    REQUIRE(!same_bits(scalar, start));
  }
}

TEST_CASE("direct convolution kernels give the same bits on 1 and 2 threads", "[layers][conv]") {
  // 7x7 maps (ResNet-20's stage 3 on 28x28 inputs) and a stride-2 layer: panels cross images
  // and threads split them unevenly.
  const Conv2dGeometry shapes[] = {conv2d_geometry(5, 16, 7, 7, 12, 3, 1, 1, 1),
                                   conv2d_geometry(3, 8, 14, 14, 16, 3, 2, 1, 1)};
  for (const Conv2dGeometry& q : shapes) {
    const auto x = normal_floats(q.N * q.C * q.H * q.W, 1);
    const auto w = normal_floats(q.O * q.K, 2);
    const auto dy = normal_floats(q.N * q.O * q.HWo, 3);
    std::vector<float> y[2], dw[2];
    for (int threads : {1, 2}) {
      set_threads(threads);
      Conv2dDirectScratch scratch;
      auto& yt = y[threads - 1];
      auto& dwt = dw[threads - 1];
      yt.assign(q.N * q.O * q.HWo, 0.0f);
      dwt.assign(w.size(), 0.25f);
      conv2d_forward_direct(yt.data(), x.data(), w.data(), q, scratch);
      conv2d_weight_grad_direct(dwt.data(), dy.data(), x.data(), q, scratch);
    }
    set_threads(1);
    REQUIRE(same_bits(y[0], y[1]));
    REQUIRE(same_bits(dw[0], dw[1]));
  }
}

TEST_CASE("QB_CONV_PATH refuses an unknown path by name", "[layers][conv]") {
  ::setenv("QB_CONV_PATH", "direkt", 1);
  REQUIRE_THROWS_WITH(conv_path_setting(), Catch::Contains("did you mean 'direct'"));
  ::unsetenv("QB_CONV_PATH");
  REQUIRE(conv_path_setting() == ConvPath::automatic);
}
