#include "retort/engine/init.h"

#include <cassert>
#include <cmath>
#include <numbers>

namespace retort::engine {

double InitRng::uniform() {
  // The top 53 bits make every double in [0, 1) with spacing 2^-53 equally likely.
  return static_cast<double>(engine_() >> 11) * 0x1.0p-53;
}

double InitRng::normal() {
  if (has_spare_) {
    has_spare_ = false;
    return spare_;
  }
  // u1 in (0, 1] so that log(u1) is finite.
  const double u1 = 1.0 - uniform();
  const double u2 = uniform();
  const double radius = std::sqrt(-2.0 * std::log(u1));
  const double angle = 2.0 * std::numbers::pi * u2;
  spare_ = radius * std::sin(angle);
  has_spare_ = true;
  return radius * std::cos(angle);
}

uint64_t derive_seed(uint64_t seed, std::string_view name) {
  uint64_t h = 0xcbf29ce484222325ULL;  // FNV-1a offset basis
  for (char c : name) {
    h ^= static_cast<unsigned char>(c);
    h *= 0x100000001b3ULL;  // FNV-1a prime
  }
  // SplitMix64 finaliser over the combination, so that nearby seeds give unrelated streams.
  uint64_t z = seed + 0x9e3779b97f4a7c15ULL * (h | 1);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

namespace {

struct KindName {
  const char* name;
  InitKind kind;
};
constexpr KindName kKindNames[] = {
    {"kaiming", InitKind::kKaimingNormal},          {"kaiming_normal", InitKind::kKaimingNormal},
    {"kaiming_uniform", InitKind::kKaimingUniform}, {"xavier", InitKind::kXavierUniform},
    {"xavier_uniform", InitKind::kXavierUniform},   {"xavier_normal", InitKind::kXavierNormal},
};

void fill_normal(Tensor& weight, InitRng& rng, double stddev) {
  assert(weight.dtype() == DType::kFloat32);
  for (float& v : weight.span<float>()) v = static_cast<float>(stddev * rng.normal());
}

void fill_uniform(Tensor& weight, InitRng& rng, double bound) {
  assert(weight.dtype() == DType::kFloat32);
  for (float& v : weight.span<float>()) v = static_cast<float>(rng.uniform(-bound, bound));
}

}  // namespace

Expected<InitKind> parse_init_kind(std::string_view name) {
  for (const KindName& k : kKindNames)
    if (name == k.name) return k.kind;
  std::string known;
  for (const KindName& k : kKindNames) known += (known.empty() ? "" : ", ") + std::string(k.name);
  return make_error(ErrorCode::kInvalidArgument, "unknown initializer '", name,
                    "'; use one of: ", known);
}

const char* init_kind_name(InitKind kind) {
  switch (kind) {
    case InitKind::kKaimingNormal:
      return "kaiming_normal";
    case InitKind::kKaimingUniform:
      return "kaiming_uniform";
    case InitKind::kXavierUniform:
      return "xavier_uniform";
    case InitKind::kXavierNormal:
      return "xavier_normal";
  }
  return "?";
}

std::vector<std::string> init_kind_names() {
  std::vector<std::string> names;
  for (const KindName& k : kKindNames) names.emplace_back(k.name);
  return names;
}

Fans compute_fans(const Shape& shape) {
  if (shape.empty()) return {1, 1};
  if (shape.size() == 1) return {shape[0], shape[0]};
  int64_t receptive = 1;
  for (size_t i = 2; i < shape.size(); ++i) receptive *= shape[i];
  return {shape[1] * receptive, shape[0] * receptive};
}

void kaiming_normal(Tensor& weight, InitRng& rng, double gain) {
  const Fans fans = compute_fans(weight.shape());
  fill_normal(weight, rng, gain / std::sqrt(static_cast<double>(fans.in)));
}

void kaiming_uniform(Tensor& weight, InitRng& rng, double gain) {
  const Fans fans = compute_fans(weight.shape());
  fill_uniform(weight, rng, gain * std::sqrt(3.0 / static_cast<double>(fans.in)));
}

void xavier_uniform(Tensor& weight, InitRng& rng, double gain) {
  const Fans fans = compute_fans(weight.shape());
  fill_uniform(weight, rng, gain * std::sqrt(6.0 / static_cast<double>(fans.in + fans.out)));
}

void xavier_normal(Tensor& weight, InitRng& rng, double gain) {
  const Fans fans = compute_fans(weight.shape());
  fill_normal(weight, rng, gain * std::sqrt(2.0 / static_cast<double>(fans.in + fans.out)));
}

void initialize_weight(Tensor& weight, InitKind kind, InitRng& rng) {
  switch (kind) {
    case InitKind::kKaimingNormal:
      return kaiming_normal(weight, rng);
    case InitKind::kKaimingUniform:
      return kaiming_uniform(weight, rng);
    case InitKind::kXavierUniform:
      return xavier_uniform(weight, rng);
    case InitKind::kXavierNormal:
      return xavier_normal(weight, rng);
  }
}

void initialize_weight(Tensor& weight, InitKind kind, uint64_t seed, std::string_view name) {
  InitRng rng(derive_seed(seed, name));
  initialize_weight(weight, kind, rng);
}

void fill(Tensor& tensor, float value) {
  assert(tensor.dtype() == DType::kFloat32);
  for (float& v : tensor.span<float>()) v = value;
}

}  // namespace retort::engine
