// Small read-only questions the quantization passes ask of a graph.
#pragma once

#include <map>
#include <string>

#include "retort/graph/model.h"

namespace retort::quant {

// How many node inputs (and graph outputs) read each value.
inline std::map<std::string, int> consumer_counts(const Graph& g) {
  std::map<std::string, int> counts;
  for (const Node& n : g.nodes)
    for (const std::string& in : n.inputs)
      if (!in.empty()) ++counts[in];
  for (const ValueInfo& out : g.outputs) ++counts[out.name];
  return counts;
}

// The float32 initializer named `name`, or nullptr.
inline const Tensor* float_initializer(const Graph& g, const std::string& name) {
  auto it = g.initializers.find(name);
  return it != g.initializers.end() && it->second.dtype() == DType::kFloat32 ? &it->second
                                                                             : nullptr;
}

}  // namespace retort::quant
