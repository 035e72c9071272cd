#include "chain_fusion.h"

#include <unordered_map>

namespace retort::engine::fusion {
namespace {

constexpr const char* kPoolPrefix = "pool.";

// The single node reading `value` as its input 0, or -1 when there are none, several, or the
// reader uses it in another position.
int sole_consumer(const std::unordered_map<std::string, std::vector<int>>& readers,
                  const std::vector<Node>& nodes, const std::string& value) {
  auto it = readers.find(value);
  if (it == readers.end() || it->second.size() != 1) return -1;
  const int n = it->second[0];
  const Node& node = nodes[n];
  return node.inputs.size() >= 1 && node.inputs[0] == value && node.input_count() == 1 ? n : -1;
}

// A Gemm whose ReLU can be a post-op: nothing is added after the matmul's bias (C is absent,
// ignored, or a plain bias).
bool is_fusable_gemm(const Node& node) {
  if (node.op_type != "Gemm" || !node.domain.empty() || node.outputs.size() != 1) return false;
  const float alpha = node.attr_float("alpha", 1.0f), beta = node.attr_float("beta", 1.0f);
  return !node.has_input(2) || beta == 0.0f || (alpha == 1.0f && beta == 1.0f);
}

bool is_plain_relu(const Node& node) {
  return node.op_type == "Relu" && node.domain.empty() && node.outputs.size() == 1;
}

// Only the forms the standalone MaxPool kernel accepts: no Indices output, row-major.
bool is_fusable_max_pool(const Node& node) {
  const bool indices = node.outputs.size() > 1 && !node.outputs[1].empty();
  return node.op_type == "MaxPool" && node.domain.empty() && !indices &&
         node.attr_int("storage_order", 0) == 0;
}

}  // namespace

FusedChains fuse_chains(const std::vector<Node>& nodes, const std::set<std::string>& keep) {
  std::unordered_map<std::string, std::vector<int>> readers;
  for (int n = 0; n < static_cast<int>(nodes.size()); ++n)
    for (const std::string& in : nodes[n].inputs)
      if (!in.empty()) readers[in].push_back(n);

  FusedChains result;
  std::vector<bool> absorbed(nodes.size(), false);
  std::vector<Node> fused(nodes.size());
  std::vector<bool> replaced(nodes.size(), false);
  for (int n = 0; n < static_cast<int>(nodes.size()); ++n) {
    const Node& conv = nodes[n];  // or the Gemm
    const bool is_conv = conv.op_type == "Conv" && conv.domain.empty() && conv.outputs.size() == 1;
    if ((!is_conv && !is_fusable_gemm(conv)) || keep.count(conv.outputs[0])) continue;
    const int relu = sole_consumer(readers, nodes, conv.outputs[0]);
    if (relu < 0 || !is_plain_relu(nodes[relu])) continue;

    Node f = conv;
    f.domain = kFusedDomain;
    f.attributes["relu"] = Attribute::of_int(1);
    f.outputs = nodes[relu].outputs;
    result.hidden_values[conv.outputs[0]] = conv.name;
    absorbed[relu] = true;

    const std::string& relu_out = nodes[relu].outputs[0];
    const int pool =
        !is_conv || keep.count(relu_out) ? -1 : sole_consumer(readers, nodes, relu_out);
    if (pool >= 0 && is_fusable_max_pool(nodes[pool])) {
      const Node& p = nodes[pool];
      f.attributes["pool"] = Attribute::of_int(1);
      f.attributes["pool.name"] = Attribute::of_string(p.name);
      for (const auto& [key, value] : p.attributes) f.attributes[kPoolPrefix + key] = value;
      f.outputs = {p.outputs[0]};
      result.hidden_values[relu_out] = conv.name;
      absorbed[pool] = true;
    }
    fused[n] = std::move(f);
    replaced[n] = true;
    ++result.chains;
  }
  // A chain's nodes are consecutive in data flow, so the fused node can take the Conv's place.
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
  Node pool;
  pool.name = node.attr_string("pool.name", node.name + ".pool");
  pool.op_type = "MaxPool";
  const std::string prefix = kPoolPrefix;
  for (const auto& [key, value] : node.attributes)
    if (key.rfind(prefix, 0) == 0 && key != "pool.name")
      pool.attributes[key.substr(prefix.size())] = value;
  return pool;
}

}  // namespace retort::engine::fusion
