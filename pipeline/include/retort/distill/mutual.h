// Deep Mutual Learning (Zhang et al. 2018): two or more students trained together from
// scratch, each on cross-entropy plus the mean KL divergence from the other students'
// current predictions (which are targets only: no gradient flows into them).
#pragma once

#include <span>
#include <vector>

#include "retort/core/status.h"
#include "retort/data/dataset.h"
#include "retort/engine/trainer.h"
#include "retort/graph/model.h"

namespace retort::distill {

struct MutualOptions {
  engine::TrainOptions train;  // shared by all students; seed, epochs, optimizer, ...
  float temperature = 1.0f;    // DML uses T = 1
  float kl_weight = 1.0f;
};

struct MutualSummary {
  std::vector<engine::TrainSummary> students;  // one per student
  double seconds = 0;
};

// Trains every student in place on the same batches. Students must have the same number of
// classes.
Expected<MutualSummary> train_mutual(std::span<Model* const> students, const data::Dataset& train,
                                     const MutualOptions& options);

}  // namespace retort::distill
