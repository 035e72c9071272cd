// Deep graphs: sorting a chain of 100,000 nodes does not recurse once per node. No timing is
// asserted.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <string>

#include "retort/graph/fold_constants.h"
#include "retort/graph/model.h"
#include "support/test_support.h"

namespace retort::engine {
namespace {

constexpr int64_t kWidth = 16;

// x [N, 16] -> Relu -> ... -> Relu (n of them) -> y [N, 16]. With `reversed` the nodes are
// listed last to first, the order that made the recursive sort recurse once per node.
Model relu_chain(int n, bool reversed = false) {
  Model m;
  Graph& g = m.graph;
  g.inputs = {ValueInfo{"x", DType::kFloat32, {Dim::symbolic("N"), Dim::fixed(kWidth)}}};
  g.outputs = {ValueInfo{"y", DType::kFloat32, {Dim::symbolic("N"), Dim::fixed(kWidth)}}};
  g.nodes.reserve(static_cast<size_t>(n));
  std::string prev = "x";
  for (int i = 0; i < n; ++i) {
    Node node;
    node.name = "relu" + std::to_string(i);
    node.op_type = "Relu";
    node.inputs = {prev};
    node.outputs = {i + 1 == n ? std::string("y") : "r" + std::to_string(i)};
    prev = node.outputs[0];
    g.nodes.push_back(std::move(node));
  }
  if (reversed) std::reverse(g.nodes.begin(), g.nodes.end());
  return m;
}

TEST(DeepGraph, AHundredThousandNodeChainSortsAndFoldsWithoutDeepRecursion) {
  constexpr int kLong = 100000;
  Model model = relu_chain(kLong, /*reversed=*/true);
  ASSERT_TRUE(model.graph.sort_topologically().ok());
  ASSERT_EQ(model.graph.nodes.size(), static_cast<size_t>(kLong));
  for (int i = 0; i < kLong; ++i) {
    ASSERT_EQ(model.graph.nodes[i].name, "relu" + std::to_string(i));
  }
  ASSERT_TRUE(fold_constants(model).ok());
  EXPECT_EQ(model.graph.nodes.size(), static_cast<size_t>(kLong));

  // A cycle deep in a long chain is still found and named.
  Model cyclic = relu_chain(kLong);
  cyclic.graph.nodes[10].inputs = {cyclic.graph.nodes[kLong - 2].outputs[0]};
  Status s = cyclic.graph.sort_topologically();
  ASSERT_FALSE(s.ok());
  EXPECT_TRUE(test_support::contains(s.message(), "graph has a cycle through node 'relu"));
  EXPECT_EQ(cyclic.graph.nodes.size(), static_cast<size_t>(kLong)) << "the graph was changed";
  EXPECT_EQ(cyclic.graph.nodes[10].name, "relu10");
}

}  // namespace
}  // namespace retort::engine
