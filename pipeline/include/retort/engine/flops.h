// Compute cost of a model per image, from the shapes of a batch-1 plan.
#pragma once

#include <cstdint>

#include "retort/core/status.h"
#include "retort/graph/model.h"

namespace retort::engine {

struct ComputeCost {
  int64_t macs = 0;   // multiply-accumulates of Conv, Gemm and MatMul
  int64_t flops = 0;  // 2 * macs plus one per output element of every other op
};

Expected<ComputeCost> count_compute(Model& model);

}  // namespace retort::engine
