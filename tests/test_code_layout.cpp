// engine/layers/code_layout.h: the blocked transposes equal their one-element formulas, on
// shapes with and without whole 16 × 16 (bytes) and 4 × 4 (floats) blocks, and the planes'
// scaling equals the double formula whether the step is a normal float (the float path) or not
// (subnormal results, a step beyond float's range: the double path).
#include "engine/layers/code_layout.h"

#include <catch2/catch.hpp>

#include <cmath>
#include <cstdint>
#include <random>
#include <utility>
#include <vector>

using namespace qb;

TEST_CASE("codes_to_nhwc_u8 equals code + 128 in pixel-major order", "[layout]") {
  std::mt19937 rng{3};
  std::uniform_int_distribution<int> code(-128, 127);
  const std::pair<std::size_t, std::size_t> shapes[] = {{16, 16}, {17, 33}, {32, 81}, {3, 5},
                                                        {48, 1},  {64, 64}, {1, 1024}};
  for (const int shift : {-5, 0, 3})
    for (const auto& [C, HW] : shapes) {
      INFO("C " << C << " HW " << HW << " shift " << shift);
      std::vector<float> x(C * HW);
      std::vector<int> codes(x.size());
      for (std::size_t i = 0; i < x.size(); ++i) {
        codes[i] = code(rng);
        x[i] = std::ldexp(float(codes[i]), shift);
      }
      std::vector<std::uint8_t> out(x.size(), 7);
      codes_to_nhwc_u8(x.data(), C, HW, shift, out.data());
      std::size_t bad = 0;
      for (std::size_t c = 0; c < C; ++c)
        for (std::size_t i = 0; i < HW; ++i) bad += out[i * C + c] != codes[c * HW + i] + 128;
      CHECK(bad == 0);
    }
}

TEST_CASE("store_planes_i32 rounds each exact sum once, in float or in double", "[layout]") {
  std::mt19937 rng{5};
  std::uniform_int_distribution<std::int32_t> value(-(1 << 29), 1 << 29);
  const std::pair<std::size_t, std::size_t> shapes[] = {{4, 4}, {1024, 16}, {81, 6},
                                                        {7, 3}, {64, 64},   {9, 33}};
  // 2^−20: float path; 2^−140: results below float's normal range; 2^70: beyond the float
  // path's bound (its results still fit a float).
  for (const double step : {std::ldexp(1.0, -20), std::ldexp(1.0, -140), std::ldexp(1.0, 70)})
    for (const auto& [pixels, channels] : shapes) {
      INFO("pixels " << pixels << " channels " << channels << " step " << step);
      std::vector<std::int32_t> sums(pixels * channels), bias(channels);
      for (auto& v : sums) v = value(rng);
      for (auto& v : bias) v = value(rng);
      sums[0] = 16777217 - bias[0];  // 2^24 + 1: a sum the float rounds
      std::vector<float> out(sums.size(), -1.0f);
      store_planes_i32(sums.data(), bias.data(), pixels, channels, step, out.data());
      std::size_t bad = 0;
      for (std::size_t ch = 0; ch < channels; ++ch)
        for (std::size_t pix = 0; pix < pixels; ++pix) {
          const double exact = (double(sums[pix * channels + ch]) + bias[ch]) * step;
          bad += out[ch * pixels + pix] != float(exact);
        }
      CHECK(bad == 0);
    }
}
