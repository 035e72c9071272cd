// A plan-compile pass: each chain Conv -> Relu [-> MaxPool] or Gemm -> Relu whose inner values
// nobody reads becomes one node of the private domain retort.fused, run by the Conv (Gemm)
// kernel with the ReLU as a post-op and, for Conv, the pooling on oneDNN's blocked layout. The
// plan's plain buffers are then touched only at the chain's two ends. Why: on the benchmark CNN
// (conv 32, pool, conv 64, pool at batch 128) the reorders of conv outputs to plain layout and
// the plain-layout ReLU and pooling of the first block were about a third of a training step;
// for Gemm the fused ReLU saves one pass over the activations.
#pragma once

#include <map>
#include <set>
#include <string>
#include <vector>

#include "retort/graph/model.h"

namespace retort::engine::fusion {

inline constexpr const char* kFusedDomain = "retort.fused";

struct FusedChains {
  std::vector<Node> nodes;  // the input nodes with every fused chain replaced by its first node
  // Each value that no longer exists in the plan -> the fused node that computes it internally.
  std::map<std::string, std::string> hidden_values;
  int chains = 0;
};

// `nodes` topologically sorted. Values in `keep` (graph outputs, gradients the caller reads or
// injects) are never hidden inside a fused node.
FusedChains fuse_chains(const std::vector<Node>& nodes, const std::set<std::string>& keep);

// A fused node: a Conv or Gemm node (its attributes, inputs and name) of domain kFusedDomain
// with attribute "relu" = 1, and when a MaxPool was folded into a Conv, "pool" = 1, "pool.name"
// and the pooling node's attributes prefixed with "pool.".
bool is_fused_conv(const Node& node);
bool is_fused_gemm(const Node& node);
bool has_fused_pool(const Node& node);
// The MaxPool node folded into a fused node, rebuilt from its attributes (errors name it).
Node fused_pool_node(const Node& node);

}  // namespace retort::engine::fusion
