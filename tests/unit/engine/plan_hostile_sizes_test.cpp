// Models whose shapes claim buffers no machine has: a graph input, a padded output or a
// broadcast far beyond memory. Compiling used to abort with std::bad_alloc (retort eval and
// run on such a file); now it is an error naming the value.
#include <gtest/gtest.h>

#include <limits>
#include <string>

#include "retort/engine/plan.h"

namespace retort::engine {
namespace {

constexpr int64_t kTwoTo20 = int64_t{1} << 20;
constexpr int64_t kTwoTo40 = int64_t{1} << 40;

::testing::AssertionResult contains(const std::string& text, const std::string& part) {
  if (text.find(part) != std::string::npos) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure()
         << "\"" << text << "\"\n  does not contain \"" << part << "\"";
}

Expected<std::unique_ptr<Plan>> compile_at_batch_1(Model& model) {
  PlanOptions options;
  options.batch = 1;
  return Plan::compile(model, options);
}

TEST(PlanHostileSizes, GraphInputOfTwoTo40Elements) {
  Model m;
  m.graph.inputs = {ValueInfo{"x", DType::kFloat32, {Dim::symbolic("N"), Dim::fixed(kTwoTo40)}}};
  m.graph.outputs = {ValueInfo{"y", DType::kFloat32, {Dim::symbolic("N"), Dim::fixed(kTwoTo40)}}};
  m.graph.nodes = {Node{"relu", "Relu", "", {"x"}, {"y"}, {}}};
  auto plan = compile_at_batch_1(m);
  ASSERT_FALSE(plan.ok());
  const std::string& msg = plan.status().message();
  EXPECT_TRUE(contains(msg, "graph input 'x'"));
  EXPECT_TRUE(contains(msg, "float32 [1, 1099511627776] needs 4.0 TiB"));
  EXPECT_TRUE(contains(msg, "of memory this machine has"));
  EXPECT_TRUE(contains(msg, "at batch 1"));
}

TEST(PlanHostileSizes, PadsThatMakeAnOutputOfTwoTo40Elements) {
  Model m;
  m.graph.inputs = {ValueInfo{"x", DType::kFloat32, {Dim::symbolic("N"), Dim::fixed(4)}}};
  m.graph.outputs = {ValueInfo{"y", DType::kFloat32, {Dim::symbolic("N"), Dim{}}}};
  m.graph.initializers["pads"] = Tensor::from_vector<int64_t>({4}, {0, 0, 0, kTwoTo40});
  m.graph.nodes = {Node{"pad", "Pad", "", {"x", "pads"}, {"y"}, {}}};
  auto plan = compile_at_batch_1(m);
  ASSERT_FALSE(plan.ok());
  const std::string& msg = plan.status().message();
  EXPECT_TRUE(contains(msg, "node 'pad' (Pad)"));
  EXPECT_TRUE(contains(msg, "[1, 1099511627780] needs 4.0 TiB"));
  EXPECT_TRUE(contains(msg, "pads [0, 0, 0, 1099511627776] are wrong"));

  // Pads whose sum overflows int64 are wrong too (the sum was undefined behaviour).
  m.graph.initializers["pads"] =
      Tensor::from_vector<int64_t>({4}, {0, 0, 0, std::numeric_limits<int64_t>::max()});
  plan = compile_at_batch_1(m);
  ASSERT_FALSE(plan.ok());
  EXPECT_TRUE(contains(plan.status().message(), "node 'pad' (Pad)"));
  EXPECT_TRUE(contains(plan.status().message(), "overflow axis 1"));
}

TEST(PlanHostileSizes, BroadcastToAnOutputOfTwoTo40Elements) {
  // [N, 2^20, 1] + [1, 1, 2^20]: both inputs 4 MiB, the sum 4 TiB.
  Model m;
  m.graph.inputs = {
      ValueInfo{"x", DType::kFloat32, {Dim::symbolic("N"), Dim::fixed(kTwoTo20), Dim::fixed(1)}}};
  m.graph.outputs = {ValueInfo{"y", DType::kFloat32, {}}};
  m.graph.initializers["row"] = Tensor(DType::kFloat32, {1, 1, kTwoTo20});
  m.graph.nodes = {Node{"add", "Add", "", {"x", "row"}, {"y"}, {}}};
  auto plan = compile_at_batch_1(m);
  ASSERT_FALSE(plan.ok());
  const std::string& msg = plan.status().message();
  EXPECT_TRUE(contains(msg, "node 'add' (Add): output 'y'"));
  EXPECT_TRUE(contains(msg, "float32 [1, 1048576, 1048576] needs 4.0 TiB"));
}

}  // namespace
}  // namespace retort::engine
