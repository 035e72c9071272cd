// Folds each BatchNormalization that directly follows a Conv into the conv's weights and bias
// (W' = W * gamma / sqrt(var + eps) per output channel, b' = (b - mean) * gamma / sqrt(var +
// eps) + beta), so quantization sees the weights inference really uses. Exact in float32 for
// inference; batch statistics are no longer used afterwards (the running statistics are
// frozen into the weights).
#pragma once

#include <string>
#include <vector>

#include "retort/core/status.h"
#include "retort/graph/model.h"

namespace retort::quant {

struct BatchNormFolding {
  std::vector<std::string> folded;  // "bn1 into conv1"
  std::vector<std::string> kept;    // "bn3: its input comes from 'Add', not a Conv"
};

// Folds in place (new weight tensors: the model's old ones are not modified, since tensors
// share storage with copies of the model).
Expected<BatchNormFolding> fold_batch_norms(Model& model);

}  // namespace retort::quant
