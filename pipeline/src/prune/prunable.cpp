#include "retort/prune/prunable.h"

#include <set>

namespace retort::prune {

std::vector<PrunableLayer> find_prunable_layers(const Model& model) {
  std::vector<PrunableLayer> layers;
  std::set<std::string> seen;
  for (const Node& node : model.graph.nodes) {
    if (node.op_type != "Conv" && node.op_type != "Gemm" && node.op_type != "MatMul") continue;
    if (!node.has_input(1)) continue;
    auto it = model.graph.initializers.find(node.inputs[1]);
    if (it == model.graph.initializers.end() || it->second.dtype() != DType::kFloat32) continue;
    if (!seen.insert(node.inputs[1]).second) continue;
    const Shape& s = it->second.shape();
    PrunableLayer l{node.name, node.op_type, node.inputs[1], s, 0, 0, 0};
    if (node.op_type == "Conv") {
      if (s.size() < 3) continue;
      l.outer = s[0];
      l.inputs = s[1];
      l.inner = 1;
      for (size_t i = 2; i < s.size(); ++i) l.inner *= s[i];
    } else if (node.op_type == "Gemm") {
      if (s.size() != 2) continue;
      if (node.attr_int("transB", 0) != 0) {
        l.outer = s[0], l.inputs = s[1], l.inner = 1;
      } else {
        l.outer = 1, l.inputs = s[0], l.inner = s[1];
      }
    } else {  // MatMul with a 2-D weight [K, N]
      if (s.size() != 2) continue;
      l.outer = 1, l.inputs = s[0], l.inner = s[1];
    }
    layers.push_back(std::move(l));
  }
  return layers;
}

std::string layer_names(const std::vector<PrunableLayer>& layers) {
  std::string out;
  for (const PrunableLayer& l : layers) out += (out.empty() ? "" : ", ") + l.node;
  return out;
}

Expected<std::vector<PrunableLayer>> select_layers(const Model& model,
                                                   const std::vector<std::string>& names,
                                                   const std::string& where) {
  std::vector<PrunableLayer> all = find_prunable_layers(model);
  if (all.empty())
    return make_error(ErrorCode::kInvalidArgument, where,
                      ": the model has no prunable layer (Conv, Gemm or MatMul with a float32 "
                      "initializer weight)");
  if (names.empty()) return all;
  std::vector<PrunableLayer> out;
  for (const std::string& name : names) {
    bool found = false;
    for (const PrunableLayer& l : all)
      if (l.node == name) {
        out.push_back(l);
        found = true;
      }
    if (!found)
      return make_error(ErrorCode::kInvalidArgument, where, ": no prunable layer named '", name,
                        "'; the prunable layers are: ", layer_names(all));
  }
  return out;
}

}  // namespace retort::prune
