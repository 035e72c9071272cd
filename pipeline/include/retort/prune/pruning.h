// Unstructured and N:M pruning with fine-tuning: masks computed by the method, enforced after
// every optimizer step (TrainOptions::after_step multiplies each weight by its mask), grown by
// the schedule. Fine-tuning is engine::train_classifier, or distill::distill when teachers are
// given. The model is left with the zeros baked in.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "retort/core/status.h"
#include "retort/data/dataset.h"
#include "retort/distill/distiller.h"
#include "retort/graph/model.h"
#include "retort/prune/masks.h"
#include "retort/prune/prune_config.h"

namespace retort::prune {

struct FineTune {
  distill::DistillOptions options;  // train loop (+ loss terms when teachers are given)
  std::vector<Model*> teachers;     // empty: cross-entropy on the labels
};

struct PruneRound {
  double target = 0;    // the sparsity pruned to (the quality with Han's rule)
  double sparsity = 0;  // measured over the pruned layers after the round's fine-tuning
  float train_loss = 0;
  float train_accuracy = 0;
};

struct PruneSummary {
  std::vector<PrunableLayer> layers;  // the pruned layers
  std::vector<std::string> skipped;   // N:M: layers whose input dim is not a multiple of M
  std::vector<PruneRound> rounds;     // one per prune-and-train round (gradual: one)
  int64_t steps = 0;                  // optimizer steps in total
  int64_t mask_updates = 0;           // times the masks were recomputed
  double train_seconds = 0;
  CubicSchedule cubic;  // the resolved gradual schedule
};

// Steps of one fine-tuning run over `train` with `options` (batches per epoch x epochs, the
// trainer dropping the last partial batch).
int64_t fine_tune_steps(const data::Dataset& train, const engine::TrainOptions& options);

// Trains `model` in place; `after_step` (may be empty) runs after every optimizer step. With
// `masks`, the gradients of pruned weights are zeroed before every step (masks.apply() in
// after_step keeps the weights themselves at zero).
Expected<engine::TrainSummary> fine_tune(Model& model, const data::Dataset& train,
                                         const FineTune& ft,
                                         std::function<void(int64_t)> after_step,
                                         const MaskSet* masks = nullptr);

// Magnitude or N:M pruning of `model` (config.method must not be kStructured) with the
// schedule, fine-tuning in between. `where` is the params' JSON path for messages.
Expected<PruneSummary> prune_and_fine_tune(Model& model, PruneConfig config,
                                           const data::Dataset& train, const FineTune& ft,
                                           const std::string& where = "/params");

}  // namespace retort::prune
