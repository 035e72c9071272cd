// Pruning masks on initializers. A mask holds 1 (keep) or 0 (pruned) per weight element;
// apply() zeroes each weight whose mask is 0 (a +0.0, never -0.0), which is how masks are enforced
// after every optimizer step (momentum and weight decay would otherwise move pruned weights off
// zero). apply() does not allocate: it runs inside the training step loop.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "retort/core/status.h"
#include "retort/engine/plan.h"
#include "retort/graph/model.h"
#include "retort/prune/prunable.h"

namespace retort::prune {

struct LayerMask {
  PrunableLayer layer;
  std::vector<float> keep;  // 1 or 0, one per weight element (row-major like the weight)
  float* weight = nullptr;  // the model's initializer data (bound by MaskSet::bind)

  int64_t pruned() const;  // number of zeros in `keep`
};

class MaskSet {
 public:
  MaskSet() = default;
  // One all-ones mask per layer, bound to `model`'s initializers. The model must outlive the
  // set and keep its initializer tensors (as during training).
  static Expected<MaskSet> create(Model& model, const std::vector<PrunableLayer>& layers);

  std::vector<LayerMask>& layers() { return layers_; }
  const std::vector<LayerMask>& layers() const { return layers_; }
  LayerMask* find(const std::string& node);

  // weight *= mask for every layer. No allocation.
  void apply() const;
  // gradient *= mask for every layer whose weight is among `parameters` (matched by the
  // weight's address), before an optimizer step: pruned weights then get no update and no
  // momentum. No allocation.
  void mask_gradients(std::span<const engine::Parameter> parameters) const;
  // Total pruned elements / total elements over the set's layers.
  double sparsity() const;

 private:
  std::vector<LayerMask> layers_;
};

}  // namespace retort::prune
