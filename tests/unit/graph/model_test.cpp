#include "retort/graph/model.h"

#include <gtest/gtest.h>

#include <string>

namespace retort {
namespace {

// "v12": appended, not "v" + ...: GCC 12 warns falsely (-Wrestrict) on that.
std::string numbered(const char* prefix, int i) {
  std::string name = prefix;
  name += std::to_string(i);
  return name;
}

// A chain of Relu nodes, listed last to first: sorting has to follow it all the way down.
Graph reversed_chain(int length) {
  Graph g;
  g.inputs = {ValueInfo{"v0", DType::kFloat32, {Dim::fixed(1)}}};
  for (int i = length; i >= 1; --i)
    g.nodes.push_back(
        Node{numbered("relu", i), "Relu", "", {numbered("v", i - 1)}, {numbered("v", i)}, {}});
  g.outputs = {ValueInfo{numbered("v", length), DType::kFloat32, {Dim::fixed(1)}}};
  return g;
}

TEST(GraphSort, AChainDeeperThanTheCallStackSorts) {
  // A file can hold this many nodes in a few MB. Sorting recursed once per node and overflowed
  // the stack (a crash) long before this depth.
  constexpr int kLength = 200000;
  Graph g = reversed_chain(kLength);
  Status s = g.sort_topologically();
  ASSERT_TRUE(s.ok()) << s.message();
  ASSERT_EQ(g.nodes.size(), static_cast<size_t>(kLength));
  for (int i = 0; i < kLength; ++i)
    ASSERT_EQ(g.nodes[i].name, numbered("relu", i + 1)) << "position " << i;
}

TEST(GraphSort, CyclesAndUndefinedValuesAreNamed) {
  Graph g = reversed_chain(3);
  g.nodes[2].inputs = {"v3"};  // relu1 reads relu3's output: relu1 -> relu3 -> relu2 -> relu1
  Status s = g.sort_topologically();
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("graph has a cycle through node 'relu"), std::string::npos)
      << s.message();

  g = reversed_chain(3);
  g.nodes[0].inputs = {"nowhere"};
  s = g.sort_topologically();
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("node 'relu3' (Relu) reads value 'nowhere'"), std::string::npos)
      << s.message();
}

}  // namespace
}  // namespace retort
