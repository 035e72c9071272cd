// Unstructured magnitude pruning: the weights with the smallest |w| are masked.
//
//   layer scope   each layer loses round(s_l * n_l) of its weights, s_l its own target
//                 (`layer_sparsity[node]`, else `sparsity`).
//   global scope  one threshold over all selected layers: round(s * sum n_l) weights with the
//                 smallest |w| across the layers are masked (layers end at different
//                 sparsities).
//   Han's rule    Han et al. 2015: each layer masks |w| < quality * std(w), std over the
//                 layer's weights when the pruner was created (the dense weights); per-layer
//                 qualities in `layer_quality`.
//
// Ties are broken by layer and element index, so exactly round(s * n) weights are masked.
// Masks are recomputed from the current weights (already-masked weights are zero, so they stay
// masked as the target grows). update() does not allocate: gradual schedules call it inside
// the training step loop.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "retort/core/status.h"
#include "retort/prune/masks.h"

namespace retort::prune {

struct MagnitudeOptions {
  enum class Scope { kLayer, kGlobal };
  Scope scope = Scope::kLayer;
  float sparsity = 0.5f;                        // in [0, 1)
  std::map<std::string, float> layer_sparsity;  // node -> sparsity (layer scope only)
  bool han_rule = false;                        // threshold = quality * std instead
  float quality = 1.0f;                         // Han's quality parameter (>= 0)
  std::map<std::string, float> layer_quality;   // node -> quality
};

class MagnitudePruner {
 public:
  // Binds to `masks` (which must outlive the pruner) and preallocates all scratch buffers.
  // Errors: a sparsity outside [0, 1), a quality < 0, a per-layer key that is not a layer of
  // `masks` (listing them), per-layer sparsities with global scope.
  static Expected<MagnitudePruner> create(MaskSet& masks, const MagnitudeOptions& options,
                                          const std::string& where = "/params/method");

  // The final target of layer i: its sparsity, or its quality with Han's rule (global scope:
  // the global sparsity for every layer).
  double final_target(size_t layer) const { return targets_[layer]; }
  size_t layer_count() const { return targets_.size(); }
  bool han_rule() const { return options_.han_rule; }

  // Recomputes every mask; `target_now(final)` maps a final target to the one to apply now
  // (a schedule: identity for one-shot). Does not allocate. Masks only; call masks.apply().
  template <typename F>
  void update(F&& target_now) {
    if (options_.scope == MagnitudeOptions::Scope::kGlobal && !options_.han_rule) {
      prune_global(target_now(static_cast<double>(options_.sparsity)));
      return;
    }
    for (size_t i = 0; i < targets_.size(); ++i) prune_layer(i, target_now(targets_[i]));
  }
  void update_final() {
    update([](double f) { return f; });
  }

  double layer_std(size_t layer) const { return stds_[layer]; }

 private:
  struct Entry {
    float magnitude;
    uint32_t layer;
    uint32_t index;
  };
  void prune_layer(size_t layer, double target);  // sparsity, or quality with Han's rule
  void prune_global(double sparsity);

  MaskSet* masks_ = nullptr;
  MagnitudeOptions options_;
  std::vector<double> targets_;
  std::vector<double> stds_;
  std::vector<Entry> scratch_;  // max layer size (layer scope) or total size (global)
};

// Checks a sparsity value: in [0, 1), else an error "<where>: sparsity must be in [0, 1), got
// <value>".
Status check_sparsity(double sparsity, const std::string& where);

}  // namespace retort::prune
