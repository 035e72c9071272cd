// Small, portable, seedable random numbers for data order and augmentation.
// std::shuffle and the std distributions differ between standard libraries, so a recipe's
// seed would not give the same batches everywhere; these helpers are fully specified here.
#pragma once

#include <cstdint>

namespace retort::data {

// SplitMix64's finaliser: a bijective 64-bit mix with good avalanche.
constexpr uint64_t mix64(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

// Derives an independent stream seed from a base seed and a list of coordinates
// (epoch, sample index, purpose tag...). Order matters: derive(s, a, b) != derive(s, b, a).
template <typename... Keys>
constexpr uint64_t derive_seed(uint64_t seed, Keys... keys) {
  uint64_t h = mix64(seed);
  ((h = mix64(h ^ static_cast<uint64_t>(keys))), ...);
  return h;
}

// SplitMix64 generator: one 64-bit word of state, so it is cheap to create per sample.
class SeededRandom {
 public:
  explicit constexpr SeededRandom(uint64_t seed) : state_(seed) {}

  constexpr uint64_t next() {
    state_ += 0x9E3779B97F4A7C15ull;
    uint64_t z = state_;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }

  // Uniform in [0, n) for n >= 1 (multiply-shift; the bias is below 2^-32 for n < 2^32).
  constexpr uint64_t below(uint64_t n) {
    return static_cast<uint64_t>((static_cast<unsigned __int128>(next()) * n) >> 64);
  }

  // True with probability 1/2.
  constexpr bool coin() { return (next() >> 63) != 0; }

 private:
  uint64_t state_;
};

}  // namespace retort::data
