// Accuracy of an ensemble: the mean of its members' softmax probabilities (used to evaluate
// the generations of born-again networks together).
#pragma once

#include <span>

#include "retort/core/status.h"
#include "retort/data/dataset.h"
#include "retort/engine/trainer.h"
#include "retort/graph/model.h"

namespace retort::distill {

// `loss` is the cross-entropy of the averaged probabilities.
Expected<engine::EvalResult> evaluate_ensemble(std::span<Model* const> members,
                                               const data::Dataset& test, int64_t batch = 256);

}  // namespace retort::distill
