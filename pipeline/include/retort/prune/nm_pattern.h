// N:M semi-structured sparsity (e.g. 2:4 as NVIDIA's sparse tensor cores run it): in every
// group of M consecutive weights along the input dimension, only the N largest |w| are kept.
// The input dimension is K of a Gemm (axis 1 with transB=1, axis 0 without) or MatMul weight,
// and the input channels of a Conv weight: groups of M consecutive input channels at each
// (output channel, kh, kw). See PrunableLayer for the [outer, inputs, inner] view.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "retort/core/status.h"
#include "retort/prune/masks.h"

namespace retort::prune {

struct NmPattern {
  int64_t n = 2;
  int64_t m = 4;
};

// Checks 1 <= n < m and m >= 2; `where` prefixes the message.
Status check_nm_pattern(const NmPattern& pattern, const std::string& where);

// Whether the layer's input dimension divides into groups of M.
bool nm_fits(const PrunableLayer& layer, const NmPattern& pattern);

// Sets `mask.keep` from the weights it is bound to: the N largest |w| of each group (ties: the
// lower input index wins). The layer's input dimension must be a multiple of M.
void compute_nm_mask(LayerMask& mask, const NmPattern& pattern);

// Whether `values` (laid out as `layer`'s weight) has at most N non-zeros in every group.
bool satisfies_nm(const PrunableLayer& layer, const float* values, const NmPattern& pattern);

}  // namespace retort::prune
