#include "retort/graph/model.h"

#include <set>
#include <unordered_map>
#include <unordered_set>

#include "nlohmann/json.hpp"

namespace retort {

Shape ValueInfo::concrete_shape(int64_t batch) const {
  Shape shape;
  shape.reserve(dims.size());
  for (const Dim& d : dims) shape.push_back(d.is_fixed() ? d.value : batch);
  return shape;
}

Attribute Attribute::of_int(int64_t v) {
  Attribute a;
  a.kind = Kind::kInt;
  a.i = v;
  return a;
}
Attribute Attribute::of_float(float v) {
  Attribute a;
  a.kind = Kind::kFloat;
  a.f = v;
  return a;
}
Attribute Attribute::of_string(std::string v) {
  Attribute a;
  a.kind = Kind::kString;
  a.s = std::move(v);
  return a;
}
Attribute Attribute::of_ints(std::vector<int64_t> v) {
  Attribute a;
  a.kind = Kind::kInts;
  a.ints = std::move(v);
  return a;
}
Attribute Attribute::of_floats(std::vector<float> v) {
  Attribute a;
  a.kind = Kind::kFloats;
  a.floats = std::move(v);
  return a;
}
Attribute Attribute::of_tensor(Tensor v) {
  Attribute a;
  a.kind = Kind::kTensor;
  a.t = std::move(v);
  return a;
}

int64_t Node::attr_int(const std::string& key, int64_t fallback) const {
  auto it = attributes.find(key);
  return it == attributes.end() ? fallback : it->second.i;
}
float Node::attr_float(const std::string& key, float fallback) const {
  auto it = attributes.find(key);
  return it == attributes.end() ? fallback : it->second.f;
}
std::string Node::attr_string(const std::string& key, const std::string& fallback) const {
  auto it = attributes.find(key);
  return it == attributes.end() ? fallback : it->second.s;
}
std::vector<int64_t> Node::attr_ints(const std::string& key, std::vector<int64_t> fallback) const {
  auto it = attributes.find(key);
  return it == attributes.end() ? fallback : it->second.ints;
}
size_t Node::input_count() const {
  size_t n = 0;
  for (const auto& in : inputs) n += in.empty() ? 0 : 1;
  return n;
}
std::string Node::describe() const {
  return "node '" + (name.empty() ? (outputs.empty() ? std::string("?") : outputs[0]) : name) +
         "' (" + op_type + ")";
}

const Node* Graph::producer_of(const std::string& value) const {
  for (const Node& n : nodes)
    for (const auto& out : n.outputs)
      if (out == value) return &n;
  return nullptr;
}

Status Graph::sort_topologically() {
  std::unordered_map<std::string, size_t> producer;
  for (size_t i = 0; i < nodes.size(); ++i)
    for (const auto& out : nodes[i].outputs)
      if (!out.empty()) producer[out] = i;
  std::unordered_set<std::string> available;
  for (const auto& in : inputs) available.insert(in.name);
  for (const auto& [name, _] : initializers) available.insert(name);

  // Depth-first, each node after the producers of its inputs in input order (as a recursive
  // visit would place them), with an explicit stack: a chain of 100,000 nodes must not overflow
  // the call stack.
  std::vector<int> state(nodes.size(), 0);  // 0 new, 1 visiting, 2 done
  std::vector<size_t> order;                // the nodes stay where they are until it succeeds
  order.reserve(nodes.size());
  struct Frame {
    size_t node;
    size_t next_input;
  };
  std::vector<Frame> stack;
  for (size_t root = 0; root < nodes.size(); ++root) {
    if (state[root] != 0) continue;
    state[root] = 1;
    stack.push_back({root, 0});
    while (!stack.empty()) {
      Frame& top = stack.back();
      const Node& node = nodes[top.node];
      if (top.next_input == node.inputs.size()) {
        state[top.node] = 2;
        order.push_back(top.node);
        stack.pop_back();
        continue;
      }
      const std::string& in = node.inputs[top.next_input++];
      if (in.empty() || available.count(in)) continue;
      auto it = producer.find(in);
      if (it == producer.end())
        return make_error(ErrorCode::kInvalidArgument, node.describe(), " reads value '", in,
                          "' that no node, graph input or initializer defines");
      if (state[it->second] == 2) continue;
      if (state[it->second] == 1)
        return make_error(ErrorCode::kInvalidArgument, "graph has a cycle through ",
                          nodes[it->second].describe());
      state[it->second] = 1;
      stack.push_back({it->second, 0});  // `top` and `node` are not used after this
    }
  }
  std::vector<Node> sorted;
  sorted.reserve(nodes.size());
  for (size_t i : order) sorted.push_back(std::move(nodes[i]));
  nodes = std::move(sorted);
  return Status::Ok();
}

std::string Graph::unique_name(const std::string& prefix) const {
  std::set<std::string> used;
  for (const auto& n : nodes) {
    used.insert(n.name);
    for (const auto& o : n.outputs) used.insert(o);
  }
  for (const auto& in : inputs) used.insert(in.name);
  for (const auto& [k, _] : initializers) used.insert(k);
  if (!used.count(prefix)) return prefix;
  for (int i = 1;; ++i) {
    std::string candidate = prefix + "_" + std::to_string(i);
    if (!used.count(candidate)) return candidate;
  }
}

std::vector<std::string> Model::learnable_parameters() const {
  std::set<std::string> constants;
  auto listed = metadata.find(kConstantsKey);
  if (listed != metadata.end()) {
    auto names = nlohmann::json::parse(listed->second, nullptr, /*allow_exceptions=*/false);
    if (names.is_array())
      for (const auto& n : names)
        if (n.is_string()) constants.insert(n.get<std::string>());
  }
  std::set<std::string> learnable;
  for (const Node& node : graph.nodes) {
    for (size_t i = 0; i < node.inputs.size(); ++i) {
      const std::string& in = node.inputs[i];
      const bool constant_by_op = (node.op_type == "BatchNormalization" && (i == 3 || i == 4)) ||
                                  (node.op_type == "Dropout" && i >= 1);
      if (in.empty() || constant_by_op || constants.count(in)) continue;
      auto it = graph.initializers.find(in);
      if (it != graph.initializers.end() && it->second.dtype() == DType::kFloat32)
        learnable.insert(in);
    }
  }
  return {learnable.begin(), learnable.end()};
}

namespace {

// The integer weight codes of a quantized model (a DequantizeLinear's stored input): they are
// parameters too, though training no longer updates them.
std::vector<const Tensor*> quantized_weights(const Graph& g) {
  std::vector<const Tensor*> out;
  std::set<std::string> seen;
  for (const Node& n : g.nodes) {
    if (n.op_type != "DequantizeLinear" || !n.has_input(0) || seen.count(n.inputs[0])) continue;
    auto it = g.initializers.find(n.inputs[0]);
    if (it == g.initializers.end() || it->second.dtype() == DType::kFloat32) continue;
    seen.insert(n.inputs[0]);
    out.push_back(&it->second);
  }
  return out;
}

}  // namespace

int64_t Model::parameter_count() const {
  int64_t n = 0;
  for (const std::string& name : learnable_parameters()) n += graph.initializers.at(name).numel();
  for (const Tensor* t : quantized_weights(graph)) n += t->numel();
  return n;
}

int64_t Model::nonzero_parameters() const {
  int64_t n = 0;
  for (const std::string& name : learnable_parameters())
    for (float v : graph.initializers.at(name).span<float>()) n += v != 0.0f ? 1 : 0;
  for (const Tensor* t : quantized_weights(graph))
    for (int64_t v : t->to_int64_vector()) n += v != 0 ? 1 : 0;
  return n;
}

}  // namespace retort
