// Shared by the pruning tests: data slices, small models, hand-built weights.
#pragma once

#include <gtest/gtest.h>

#include <random>
#include <string>

#include "support/test_support.h"

namespace retort::prune::testing {

using test_support::build;
using test_support::contains;
using test_support::fashion;

// A graph with one weight node (not runnable: only what the pruning library reads).
inline Model single_layer(const std::string& op, Shape weight_shape, int64_t trans_b,
                          uint64_t seed = 1) {
  Model m;
  Node n;
  n.name = "layer";
  n.op_type = op;
  n.inputs = {"x", "layer.weight"};
  n.outputs = {"y"};
  if (op == "Gemm") n.attributes["transB"] = Attribute::of_int(trans_b);
  m.graph.nodes.push_back(n);
  Tensor w(DType::kFloat32, std::move(weight_shape));
  std::mt19937 rng(static_cast<uint32_t>(seed));
  std::normal_distribution<float> dist(0.0f, 1.0f);
  for (float& v : w.span<float>()) v = dist(rng);
  m.graph.initializers["layer.weight"] = w;
  return m;
}

}  // namespace retort::prune::testing
