#include "chain_fusion.h"

#include <unordered_map>

namespace retort::engine::fusion {
namespace {

constexpr const char* kPoolPrefix = "pool.";
constexpr const char* kDivPrefix = "div.";
constexpr const char* kFlattenPrefix = "flatten.";

using Readers = std::unordered_map<std::string, std::vector<int>>;

// The single node reading `value`, as its input 0 and nowhere else, or -1.
int sole_reader(const Readers& readers, const std::vector<Node>& nodes, const std::string& value) {
  auto it = readers.find(value);
  if (it == readers.end() || it->second.size() != 1) return -1;
  const int n = it->second[0];
  return !nodes[n].inputs.empty() && nodes[n].inputs[0] == value ? n : -1;
}

// The single node reading `value` when that node has no other input, or -1.
int sole_consumer(const Readers& readers, const std::vector<Node>& nodes,
                  const std::string& value) {
  const int n = sole_reader(readers, nodes, value);
  return n >= 0 && nodes[n].input_count() == 1 ? n : -1;
}

bool is_standard(const Node& node, const char* op_type) {
  return node.op_type == op_type && node.domain.empty() && node.outputs.size() == 1;
}

// Sub(x, a) or Div(x, b) with a or b a constant no gradient reaches.
bool is_constant_operand_op(const Node& node, const char* op_type,
                            const std::set<std::string>& frozen) {
  return is_standard(node, op_type) && node.inputs.size() == 2 && node.has_input(0) &&
         frozen.count(node.inputs[1]) && node.inputs[1] != node.inputs[0];
}

// Copies `node`'s attributes into `into` under `prefix`, with its name as prefix + "name".
void fold_into(Node& into, const Node& node, const std::string& prefix) {
  into.attributes[prefix + "name"] = Attribute::of_string(node.name);
  for (const auto& [key, value] : node.attributes) into.attributes[prefix + key] = value;
}

// The node of type `op_type` that fold_into() stored under `prefix`.
Node unfold(const Node& node, const std::string& prefix, const char* op_type) {
  Node folded;
  folded.name = node.attr_string(prefix + "name", node.name + "." + op_type);
  folded.op_type = op_type;
  for (const auto& [key, value] : node.attributes)
    if (key.rfind(prefix, 0) == 0 && key != prefix + "name")
      folded.attributes[key.substr(prefix.size())] = value;
  return folded;
}

// Sub(x, mean) -> Div(std) [-> Flatten] as one fused Sub node (see chain_fusion.h), or false.
bool fuse_normalization(const std::vector<Node>& nodes, const Readers& readers, int n,
                        const std::set<std::string>& keep, const std::set<std::string>& frozen,
                        FusedChains& result, std::vector<bool>& absorbed, Node* fused) {
  const Node& sub = nodes[n];
  if (!is_constant_operand_op(sub, "Sub", frozen) || keep.count(sub.outputs[0])) return false;
  const int div = sole_reader(readers, nodes, sub.outputs[0]);
  if (div < 0 || !is_constant_operand_op(nodes[div], "Div", frozen)) return false;
  Node f = sub;
  f.domain = kFusedDomain;
  f.inputs.push_back(nodes[div].inputs[1]);
  fold_into(f, nodes[div], kDivPrefix);
  f.outputs = nodes[div].outputs;
  result.hidden_values[sub.outputs[0]] = sub.name;
  absorbed[div] = true;
  const std::string& div_out = nodes[div].outputs[0];
  const int flatten = keep.count(div_out) ? -1 : sole_consumer(readers, nodes, div_out);
  if (flatten >= 0 && is_standard(nodes[flatten], "Flatten")) {
    f.attributes["flatten"] = Attribute::of_int(1);
    fold_into(f, nodes[flatten], kFlattenPrefix);
    f.outputs = nodes[flatten].outputs;
    result.hidden_values[div_out] = sub.name;
    absorbed[flatten] = true;
  }
  *fused = std::move(f);
  return true;
}

// A Gemm whose ReLU can be a post-op: nothing is added after the matmul's bias (C is absent,
// ignored, or a plain bias).
bool is_fusable_gemm(const Node& node) {
  if (!is_standard(node, "Gemm")) return false;
  const float alpha = node.attr_float("alpha", 1.0f), beta = node.attr_float("beta", 1.0f);
  return !node.has_input(2) || beta == 0.0f || (alpha == 1.0f && beta == 1.0f);
}

// Only the forms the standalone MaxPool kernel accepts: no Indices output, row-major.
bool is_fusable_max_pool(const Node& node) {
  const bool indices = node.outputs.size() > 1 && !node.outputs[1].empty();
  return node.op_type == "MaxPool" && node.domain.empty() && !indices &&
         node.attr_int("storage_order", 0) == 0;
}

// Conv -> Relu [-> MaxPool] or Gemm -> Relu as one fused node (see chain_fusion.h), or false.
bool fuse_relu_chain(const std::vector<Node>& nodes, const Readers& readers, int n,
                     const std::set<std::string>& keep, FusedChains& result,
                     std::vector<bool>& absorbed, Node* fused) {
  const Node& conv = nodes[n];  // or the Gemm
  const bool is_conv = is_standard(conv, "Conv");
  if ((!is_conv && !is_fusable_gemm(conv)) || keep.count(conv.outputs[0])) return false;
  const int relu = sole_consumer(readers, nodes, conv.outputs[0]);
  if (relu < 0 || !is_standard(nodes[relu], "Relu")) return false;

  Node f = conv;
  f.domain = kFusedDomain;
  f.attributes["relu"] = Attribute::of_int(1);
  f.outputs = nodes[relu].outputs;
  result.hidden_values[conv.outputs[0]] = conv.name;
  absorbed[relu] = true;

  const std::string& relu_out = nodes[relu].outputs[0];
  const int pool = !is_conv || keep.count(relu_out) ? -1 : sole_consumer(readers, nodes, relu_out);
  if (pool >= 0 && is_fusable_max_pool(nodes[pool])) {
    const Node& p = nodes[pool];
    f.attributes["pool"] = Attribute::of_int(1);
    fold_into(f, p, kPoolPrefix);
    f.outputs = {p.outputs[0]};
    result.hidden_values[relu_out] = conv.name;
    absorbed[pool] = true;
  }
  *fused = std::move(f);
  return true;
}

}  // namespace

FusedChains fuse_chains(const std::vector<Node>& nodes, const std::set<std::string>& keep,
                        const std::set<std::string>& frozen) {
  Readers readers;
  for (int n = 0; n < static_cast<int>(nodes.size()); ++n)
    for (const std::string& in : nodes[n].inputs)
      if (!in.empty()) readers[in].push_back(n);

  FusedChains result;
  std::vector<bool> absorbed(nodes.size(), false);
  std::vector<Node> fused(nodes.size());
  std::vector<bool> replaced(nodes.size(), false);
  for (int n = 0; n < static_cast<int>(nodes.size()); ++n) {
    if (absorbed[n]) continue;
    if (fuse_normalization(nodes, readers, n, keep, frozen, result, absorbed, &fused[n]) ||
        fuse_relu_chain(nodes, readers, n, keep, result, absorbed, &fused[n])) {
      replaced[n] = true;
      ++result.chains;
    }
  }
  // A chain's nodes are consecutive in data flow, so the fused node can take its first node's
  // place.
  for (size_t n = 0; n < nodes.size(); ++n) {
    if (absorbed[n]) continue;
    if (replaced[n])
      result.nodes.push_back(std::move(fused[n]));
    else
      result.nodes.push_back(nodes[n]);
  }
  return result;
}

bool is_fused_conv(const Node& node) {
  return node.domain == kFusedDomain && node.op_type == "Conv";
}

bool is_fused_gemm(const Node& node) {
  return node.domain == kFusedDomain && node.op_type == "Gemm";
}

bool has_fused_pool(const Node& node) {
  return is_fused_conv(node) && node.attr_int("pool", 0) == 1;
}

Node fused_pool_node(const Node& node) {
  return unfold(node, kPoolPrefix, "MaxPool");
}

bool is_fused_normalize(const Node& node) {
  return node.domain == kFusedDomain && node.op_type == "Sub";
}

bool has_fused_flatten(const Node& node) {
  return is_fused_normalize(node) && node.attr_int("flatten", 0) == 1;
}

Node fused_div_node(const Node& node) {
  return unfold(node, kDivPrefix, "Div");
}

Node fused_flatten_node(const Node& node) {
  return unfold(node, kFlattenPrefix, "Flatten");
}

}  // namespace retort::engine::fusion
