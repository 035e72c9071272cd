// Weight initializers (Kaiming/He, Xavier/Glorot) with a seeded, platform-independent
// random stream.
//
// Determinism: the bit generator is std::mt19937_64, whose output sequence the C++ standard
// fixes. The distributions are our own (std::normal_distribution and friends are
// implementation-defined): uniforms take the top 53 bits of a draw, normals use Box-Muller
// in double precision. The same seed gives the same weights with any standard library; the
// only platform dependence left is std::log/std::cos/std::sin in the last ulp of a double,
// which practically never survives the rounding to float.
//
// Each tensor gets its own stream, seeded by derive_seed(seed, tensor name), so adding or
// reordering layers does not change the weights of the others.
#pragma once

#include <cstdint>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "retort/core/status.h"
#include "retort/core/tensor.h"

namespace retort::engine {

// A deterministic random stream for initializers (and anything else that must reproduce).
class InitRng {
 public:
  explicit InitRng(uint64_t seed) : engine_(seed) {}

  uint64_t next_u64() { return engine_(); }
  // Uniform in [0, 1), 53 random bits.
  double uniform();
  // Uniform in [low, high).
  double uniform(double low, double high) { return low + (high - low) * uniform(); }
  // Standard normal N(0, 1) (Box-Muller; the second value of each pair is kept for the next
  // call).
  double normal();

 private:
  std::mt19937_64 engine_;
  bool has_spare_ = false;
  double spare_ = 0.0;
};

// Mixes a base seed with a name (FNV-1a of the name, then a SplitMix64 finaliser) into an
// independent 64-bit seed: derive_seed(seed, "fc1.weight").
uint64_t derive_seed(uint64_t seed, std::string_view name);

enum class InitKind {
  kKaimingNormal,   // N(0, gain^2 / fan_in)
  kKaimingUniform,  // U(-b, b), b = gain * sqrt(3 / fan_in)
  kXavierUniform,   // U(-b, b), b = gain * sqrt(6 / (fan_in + fan_out))
  kXavierNormal,    // N(0, gain^2 * 2 / (fan_in + fan_out))
};

// Spec names: "kaiming" (= "kaiming_normal"), "kaiming_uniform", "xavier" (= "xavier_uniform"),
// "xavier_normal". The error lists the accepted names.
Expected<InitKind> parse_init_kind(std::string_view name);
const char* init_kind_name(InitKind kind);   // canonical name, e.g. "kaiming_normal"
std::vector<std::string> init_kind_names();  // every accepted spelling

// Gain for ReLU layers, sqrt(2) (He et al. 2015). Xavier uses 1.
inline constexpr double kReluGain = 1.4142135623730951;

struct Fans {
  int64_t in = 0;
  int64_t out = 0;
};
// Fans of a weight laid out as [out, in, k1, k2, ...]: a Gemm weight with transB=1 ([out, in])
// or a Conv weight ([M, C/group, kH, kW]); fan_in = in * prod(k), fan_out = out * prod(k).
// A 1-D tensor has fan_in = fan_out = its length.
Fans compute_fans(const Shape& shape);

void kaiming_normal(Tensor& weight, InitRng& rng, double gain = kReluGain);
void kaiming_uniform(Tensor& weight, InitRng& rng, double gain = kReluGain);
void xavier_uniform(Tensor& weight, InitRng& rng, double gain = 1.0);
void xavier_normal(Tensor& weight, InitRng& rng, double gain = 1.0);

// The initializer of `kind` with its conventional gain (ReLU gain for Kaiming, 1 for Xavier).
void initialize_weight(Tensor& weight, InitKind kind, InitRng& rng);
// Same, seeded with derive_seed(seed, name): the way model builders initialise a named weight.
void initialize_weight(Tensor& weight, InitKind kind, uint64_t seed, std::string_view name);

// Sets every element of a float tensor (biases: 0; batch-norm scale and variance: 1).
void fill(Tensor& tensor, float value);

}  // namespace retort::engine
