// Measured sparsity of a model: per prunable layer and overall, with the multiply-accumulates
// a sparse kernel would do (non-zero weights x output positions) next to the dense count.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "nlohmann/json.hpp"
#include "retort/core/status.h"
#include "retort/graph/model.h"

namespace retort::prune {

struct LayerSparsity {
  std::string node;
  std::string op;
  Shape shape;
  int64_t parameters = 0;  // weight elements
  int64_t nonzeros = 0;
  double sparsity = 0;
  int64_t macs = 0;          // per image, dense
  int64_t nonzero_macs = 0;  // per image, skipping zero weights
};

struct SparsityReport {
  std::vector<LayerSparsity> layers;
  int64_t prunable_parameters = 0;  // over the layers
  int64_t prunable_nonzeros = 0;
  double prunable_sparsity = 0;
  int64_t parameters = 0;  // every learnable parameter (biases, batch norm included)
  int64_t nonzero_parameters = 0;
  double sparsity = 0;
  int64_t macs = 0;  // Conv/Gemm/MatMul MACs per image (engine::count_compute)
  int64_t flops = 0;
  int64_t nonzero_macs = 0;   // macs minus those of zero weights
  int64_t nonzero_flops = 0;  // flops minus 2 x the skipped MACs
};

// Compiles a batch-1 plan for the output shapes.
Expected<SparsityReport> measure_sparsity(Model& model);

nlohmann::json to_json(const SparsityReport& report);

}  // namespace retort::prune
