// A plan-compile pass: each chain Conv -> Relu [-> MaxPool] or Gemm -> Relu whose inner values
// nobody reads becomes one node of the private domain retort.fused, run by the Conv (Gemm)
// kernel with the ReLU as a post-op and, for Conv, the pooling on oneDNN's blocked layout. The
// plan's plain buffers are then touched only at the chain's two ends. Why: on the benchmark CNN
// (conv 32, pool, conv 64, pool at batch 128) the reorders of conv outputs to plain layout and
// the plain-layout ReLU and pooling of the first block were about a third of a training step;
// for Gemm the fused ReLU saves one pass over the activations.
// Likewise the input normalisation Sub(x, mean) -> Div(std) [-> Flatten], with mean and std
// constants no gradient reaches, becomes one pass (oneDNN binary with a division post-op,
// written straight into the flattened output): three passes over the input batch were about
// 10% of the benchmark MLP student's step.
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
// injects) are never hidden inside a fused node. `frozen` names the initializers that get no
// gradient in this plan: only those may be the mean and std of a fused normalisation.
FusedChains fuse_chains(const std::vector<Node>& nodes, const std::set<std::string>& keep,
                        const std::set<std::string>& frozen);

// A fused node: a Conv or Gemm node (its attributes, inputs and name) of domain kFusedDomain
// with attribute "relu" = 1, and when a MaxPool was folded into a Conv, "pool" = 1, "pool.name"
// and the pooling node's attributes prefixed with "pool.".
bool is_fused_conv(const Node& node);
bool is_fused_gemm(const Node& node);
bool has_fused_pool(const Node& node);
// The MaxPool node folded into a fused node, rebuilt from its attributes (errors name it).
Node fused_pool_node(const Node& node);

// A fused normalisation: a Sub node (its name, inputs x and mean) of domain kFusedDomain with
// the Div's divisor appended as input 2, attribute "div.name", and when a Flatten was folded
// in, "flatten" = 1, "flatten.name" and the Flatten's attributes prefixed with "flatten.".
bool is_fused_normalize(const Node& node);
bool has_fused_flatten(const Node& node);
// The Div and Flatten nodes folded into a fused normalisation (errors name them).
Node fused_div_node(const Node& node);
Node fused_flatten_node(const Node& node);

}  // namespace retort::engine::fusion
