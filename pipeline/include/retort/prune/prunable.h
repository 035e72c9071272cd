// Which initializers are prunable weights: the weight input of Conv (input 1), Gemm (input 1,
// B) and MatMul (input 1) when it is a float32 initializer. Biases, batch-norm parameters and
// the baked-in normalisation are never pruned. Users name layers by node name ("fc1",
// "conv2"); the weight's initializer name is an implementation detail.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "retort/core/status.h"
#include "retort/graph/model.h"

namespace retort::prune {

struct PrunableLayer {
  std::string node;    // node name, what users write
  std::string op;      // "Conv", "Gemm" or "MatMul"
  std::string weight;  // initializer name
  Shape shape;         // the weight's shape
  // The weight viewed as [outer, inputs, inner] with the input dimension in the middle: an
  // element's index is (o * inputs + a) * inner + i.
  //   Gemm transB=1 [N, K]: outer N, inputs K, inner 1.   Gemm transB=0 / MatMul [K, N]:
  //   outer 1, inputs K, inner N.   Conv [O, C/g, kh, kw]: outer O, inputs C/g, inner kh*kw.
  int64_t outer = 0;
  int64_t inputs = 0;
  int64_t inner = 0;
  int64_t numel() const { return outer * inputs * inner; }
};

// Every prunable layer of the model, in graph order. A weight shared by several nodes is
// listed once (under its first node).
std::vector<PrunableLayer> find_prunable_layers(const Model& model);

// The layers named in `names` (all of them when `names` is empty). An unknown name is a
// kInvalidArgument error at `where` that lists the prunable layers that exist.
Expected<std::vector<PrunableLayer>> select_layers(const Model& model,
                                                   const std::vector<std::string>& names,
                                                   const std::string& where);

// "fc1, fc2, fc3" (for messages).
std::string layer_names(const std::vector<PrunableLayer>& layers);

}  // namespace retort::prune
