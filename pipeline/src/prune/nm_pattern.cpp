#include "retort/prune/nm_pattern.h"

#include <cmath>

namespace retort::prune {

Status check_nm_pattern(const NmPattern& p, const std::string& where) {
  if (p.m < 2 || p.n < 1 || p.n >= p.m)
    return make_error(ErrorCode::kInvalidArgument, where, ": an N:M pattern needs 1 <= N < M, got ",
                      p.n, ":", p.m);
  return Status::Ok();
}

bool nm_fits(const PrunableLayer& layer, const NmPattern& p) {
  return p.m > 0 && layer.inputs % p.m == 0;
}

void compute_nm_mask(LayerMask& mask, const NmPattern& p) {
  const PrunableLayer& l = mask.layer;
  const int64_t groups = l.inputs / p.m;
  for (int64_t o = 0; o < l.outer; ++o)
    for (int64_t g = 0; g < groups; ++g)
      for (int64_t i = 0; i < l.inner; ++i) {
        auto at = [&](int64_t j) { return (o * l.inputs + g * p.m + j) * l.inner + i; };
        // Rank each member: how many others beat it (larger |w|, or equal and earlier).
        for (int64_t j = 0; j < p.m; ++j) {
          const float a = std::fabs(mask.weight[at(j)]);
          int64_t better = 0;
          for (int64_t q = 0; q < p.m; ++q) {
            if (q == j) continue;
            const float b = std::fabs(mask.weight[at(q)]);
            better += (b > a || (b == a && q < j)) ? 1 : 0;
          }
          mask.keep[static_cast<size_t>(at(j))] = better < p.n ? 1.0f : 0.0f;
        }
      }
}

bool satisfies_nm(const PrunableLayer& l, const float* values, const NmPattern& p) {
  if (l.inputs % p.m != 0) return false;
  const int64_t groups = l.inputs / p.m;
  for (int64_t o = 0; o < l.outer; ++o)
    for (int64_t g = 0; g < groups; ++g)
      for (int64_t i = 0; i < l.inner; ++i) {
        int64_t nonzero = 0;
        for (int64_t j = 0; j < p.m; ++j)
          nonzero += values[(o * l.inputs + g * p.m + j) * l.inner + i] != 0.0f ? 1 : 0;
        if (nonzero > p.n) return false;
      }
  return true;
}

}  // namespace retort::prune
