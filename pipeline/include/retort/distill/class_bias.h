// Per-class bias correction after distilling with classes left out of the transfer set
// (Hinton et al. 2015, sec. 3: the student never saw a "3", so its bias for 3 is too low;
// raising it recovers most of that class).
#pragma once

#include <vector>

#include "retort/core/status.h"
#include "retort/data/dataset.h"
#include "retort/graph/model.h"

namespace retort::distill {

// Appends y = logits + bias (a constant [C], never trained) after the model's output.
Status add_class_bias(Model& model, const std::vector<float>& bias);

// The bias of each class in `classes` (others stay 0) that maximises top-1 accuracy on
// `data`: each class's exact optimum given the others (a sweep over the margins at which
// samples switch to it), by coordinate ascent over the listed classes.
Expected<std::vector<float>> fit_class_bias(Model& model, const data::Dataset& data,
                                            const std::vector<int>& classes);

}  // namespace retort::distill
