// Random numbers with a written-down algorithm, so every platform and standard library draws
// the same sequence from the same seed (std:: distributions are implementation-defined).
//
//   splitmix64      — seeds and derives independent streams: derive(seed, a, b, ...)
//   Rng             — xoshiro256** (Blackman & Vigna 2018), 256-bit state
//   uniform_int(n)  — Lemire's multiply-shift with rejection: unbiased in [0, n)
//   uniform()       — 24 high bits -> float in [0, 1)
//   normal()        — Box–Muller on two uniforms (double precision inside)
#pragma once

#include <array>
#include <cmath>
#include <cstdint>
#include <initializer_list>
#include <string>

namespace qb {

inline std::uint64_t splitmix64(std::uint64_t& state) {
  std::uint64_t z = (state += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

// A seed for an independent stream identified by (seed, tags...): e.g. derive(seed, epoch).
inline std::uint64_t derive_seed(std::uint64_t seed, std::initializer_list<std::uint64_t> tags) {
  std::uint64_t s = seed;
  std::uint64_t out = splitmix64(s);
  for (auto t : tags) {
    s ^= t + 0x632BE59BD9B4E019ull + (out << 6) + (out >> 2);
    out = splitmix64(s);
  }
  return out;
}

__extension__ typedef unsigned __int128 uint128;  // __extension__: silences -Wpedantic

class Rng {
 public:
  explicit Rng(std::uint64_t seed = 0) { reseed(seed); }

  void reseed(std::uint64_t seed) {
    std::uint64_t sm = seed;
    for (auto& w : s_) w = splitmix64(sm);
  }

  std::uint64_t next() {
    const std::uint64_t result = rotl(s_[1] * 5, 7) * 9;
    const std::uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = rotl(s_[3], 45);
    return result;
  }

  // Unbiased integer in [0, n), n > 0.
  std::uint64_t uniform_int(std::uint64_t n) {
    uint128 m = uint128(next()) * n;
    std::uint64_t low = std::uint64_t(m);
    if (low < n) {
      const std::uint64_t threshold = (0 - n) % n;
      while (low < threshold) {
        m = uint128(next()) * n;
        low = std::uint64_t(m);
      }
    }
    return std::uint64_t(m >> 64);
  }

  float uniform() { return float(next() >> 40) * 0x1.0p-24f; }

  double normal() {
    // u1 in (0, 1] so the log is finite.
    const double u1 = (double(next() >> 11) + 1.0) * 0x1.0p-53;
    const double u2 = double(next() >> 11) * 0x1.0p-53;
    return std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2);
  }

  // The state as text, for checkpoints.
  std::string state() const {
    std::string out;
    for (auto w : s_) out += std::to_string(w) + " ";
    return out;
  }

 private:
  static std::uint64_t rotl(std::uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  std::array<std::uint64_t, 4> s_{};
};

}  // namespace qb
