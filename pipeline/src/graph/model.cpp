#include "retort/graph/model.h"

#include <fnmatch.h>

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

std::optional<int64_t> Graph::fixed_batch() const {
  for (const ValueInfo& in : inputs)
    if (in.dims.size() >= 2 && in.dims[0].is_fixed() && in.dims[0].value > 0)
      return in.dims[0].value;
  return std::nullopt;
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

bool is_operator_weight(const Node& node, size_t input) {
  if (!node.domain.empty() && node.domain != "ai.onnx") return false;
  const std::string& op = node.op_type;
  // Inputs 1 and 2: weight and bias, or scale and shift.
  static const std::set<std::string, std::less<>> kWeightAndBias = {"Conv",
                                                                    "ConvTranspose",
                                                                    "Gemm",
                                                                    "BatchNormalization",
                                                                    "LayerNormalization",
                                                                    "InstanceNormalization",
                                                                    "GroupNormalization"};
  if (kWeightAndBias.count(op)) return input == 1 || input == 2;
  if (op == "MatMul") return input <= 1;
  if (op == "Gather") return input == 0;  // an embedding table
  if (op == "PRelu") return input == 1;
  // The scale of a QDQ pair: learned by LSQ; otherwise listed constant by the quantizer.
  if (op == "QuantizeLinear" || op == "DequantizeLinear") return input == 1;
  return false;
}

bool is_parameter_input(const Node& node, size_t input) {
  if (is_operator_weight(node, input)) return true;
  if (!node.domain.empty() && node.domain != "ai.onnx") return false;
  const std::string& op = node.op_type;
  // An operand of an affine op: a MatMul's bias, a decomposed layer norm's scale and shift, a
  // position embedding, a class token.
  if (op == "Add" || op == "Mul" || op == "Concat" || op == "Gemm") return true;
  // Input 0 only: the data a data-movement op passes on (a class token through Expand).
  static const std::set<std::string, std::less<>> kMovedData = {"Expand",  "Reshape",   "Transpose",
                                                                "Slice",   "Unsqueeze", "Squeeze",
                                                                "Flatten", "Identity",  "Tile"};
  return kMovedData.count(op) != 0 && input == 0;
}

std::set<std::string> Model::listed(const char* key) const {
  std::set<std::string> names;
  auto it = metadata.find(key);
  if (it == metadata.end()) return names;
  auto list = nlohmann::json::parse(it->second, nullptr, /*allow_exceptions=*/false);
  if (list.is_array())
    for (const auto& n : list)
      if (n.is_string()) names.insert(n.get<std::string>());
  return names;
}

void Model::add_listed(const char* key, const std::vector<std::string>& names) {
  nlohmann::json list = nlohmann::json::array();
  if (auto it = metadata.find(key); it != metadata.end()) {
    list = nlohmann::json::parse(it->second, nullptr, /*allow_exceptions=*/false);
    if (!list.is_array()) list = nlohmann::json::array();
  }
  std::set<std::string> present;
  for (const auto& n : list)
    if (n.is_string()) present.insert(n.get<std::string>());
  for (const std::string& name : names)
    if (present.insert(name).second) list.push_back(name);
  metadata[key] = list.dump();
}

std::vector<std::string> Model::learnable_parameters() const {
  const std::set<std::string> constants = listed(kConstantsKey);
  const std::set<std::string> forced = listed(kTrainableKey);
  std::set<std::string> learnable;
  for (const Node& node : graph.nodes) {
    for (size_t i = 0; i < node.inputs.size(); ++i) {
      const std::string& in = node.inputs[i];
      if (in.empty() || constants.count(in)) continue;
      if (!is_parameter_input(node, i) && !forced.count(in)) continue;
      auto it = graph.initializers.find(in);
      if (it != graph.initializers.end() && it->second.dtype() == DType::kFloat32)
        learnable.insert(in);
    }
  }
  return {learnable.begin(), learnable.end()};
}

namespace {

void remove_listed(Model& model, const char* key, const std::set<std::string>& names) {
  const std::set<std::string> present = model.listed(key);
  std::vector<std::string> kept;
  for (const std::string& name : present)
    if (!names.count(name)) kept.push_back(name);
  if (kept.size() == present.size()) return;
  model.metadata.erase(key);
  model.add_listed(key, kept);
}

}  // namespace

Status override_trainable(Model& model, const std::vector<std::string>& trainable,
                          const std::vector<std::string>& frozen, const std::string& where) {
  std::vector<std::string> floats;
  for (const auto& [name, t] : model.graph.initializers)
    if (t.dtype() == DType::kFloat32) floats.push_back(name);
  auto matches = [&](const std::vector<std::string>& patterns,
                     const std::string& key) -> Expected<std::set<std::string>> {
    std::set<std::string> names;
    for (size_t i = 0; i < patterns.size(); ++i) {
      size_t found = 0;
      for (const std::string& name : floats)
        if (::fnmatch(patterns[i].c_str(), name.c_str(), 0) == 0) {
          names.insert(name);
          ++found;
        }
      if (found == 0) {
        std::string some;
        for (size_t k = 0; k < floats.size() && k < 8; ++k)
          some += (k ? ", '" : "'") + floats[k] + "'";
        if (floats.size() > 8) some += ", ...";
        return make_error(ErrorCode::kInvalidArgument, where, "/", key, "/", i, ": pattern '",
                          patterns[i], "' matches no float initializer of the model (",
                          floats.size(), " float initializers: ", some, "); * and ? are wildcards");
      }
    }
    return names;
  };
  RETORT_ASSIGN_OR_RETURN(std::set<std::string> train, matches(trainable, "trainable"));
  RETORT_ASSIGN_OR_RETURN(std::set<std::string> freeze, matches(frozen, "frozen"));
  for (const std::string& name : freeze) train.erase(name);
  remove_listed(model, kConstantsKey, train);
  remove_listed(model, kTrainableKey, freeze);
  if (!train.empty()) model.add_listed(kTrainableKey, {train.begin(), train.end()});
  if (!freeze.empty()) model.add_listed(kConstantsKey, {freeze.begin(), freeze.end()});
  return Status::Ok();
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
