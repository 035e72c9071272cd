// PlanOptions::profile: per-node call counts and times, without changing any result.
#include <gtest/gtest.h>

#include <cstring>

#include "arch/arch_test_util.h"
#include "retort/engine/plan.h"

namespace retort::engine {
namespace {

using nlohmann::json;

std::unique_ptr<Plan> compile_mlp(Model& model, bool profile) {
  PlanOptions options;
  options.batch = 4;
  options.backward = true;
  options.profile = profile;
  options.fuse_chains = false;  // one kernel per graph node, so times line up with the nodes
  auto plan = Plan::compile(model, options);
  EXPECT_TRUE(plan.ok()) << plan.status().message();
  return std::move(plan).value();
}

void fill_input(const View& input) {
  for (size_t i = 0; i < input.span().size(); ++i)
    input.data[i] = static_cast<float>(i % 89) / 88.0f;
}

TEST(PlanProfile, OffByDefaultAndEmpty) {
  Model model = arch::testing::build_or_fail({{"arch", "mlp"}, {"hidden", {8}}}, 1);
  auto plan = compile_mlp(model, false);
  fill_input(plan->input(0));
  plan->forward(true);
  EXPECT_TRUE(plan->node_times().empty());
}

TEST(PlanProfile, CountsEveryKernelCallPerNodeInExecutionOrder) {
  Model model = arch::testing::build_or_fail({{"arch", "mlp"}, {"hidden", {8}}}, 1);
  auto plan = compile_mlp(model, true);
  fill_input(plan->input(0));
  for (int i = 0; i < 3; ++i) plan->forward(true);
  for (int i = 0; i < 2; ++i) plan->backward();

  const std::vector<NodeTime>& times = plan->node_times();
  const std::vector<Node>& nodes = model.graph.nodes;  // compile() sorted them
  ASSERT_EQ(times.size(), nodes.size());
  int gemms = 0, normalisation = 0;
  for (size_t n = 0; n < nodes.size(); ++n) {
    SCOPED_TRACE(times[n].node);
    EXPECT_EQ(times[n].node, nodes[n].describe());
    EXPECT_EQ(times[n].forward_calls, 3);
    if (nodes[n].op_type == "Gemm") {
      ++gemms;
      EXPECT_EQ(times[n].backward_calls, 2);  // parameters below: it always runs backward
      EXPECT_GT(times[n].forward_seconds, 0.0);
      EXPECT_GT(times[n].backward_seconds, 0.0);
    }
    // The input normalisation sees no gradient: no parameter feeds it.
    if (nodes[n].op_type == "Sub" || nodes[n].op_type == "Div") {
      ++normalisation;
      EXPECT_EQ(times[n].backward_calls, 0);
      EXPECT_EQ(times[n].backward_seconds, 0.0);
    }
  }
  EXPECT_EQ(gemms, 2);
  EXPECT_EQ(normalisation, 2);
}

TEST(PlanProfile, GivesBitIdenticalOutputsAndGradients) {
  Model plain = arch::testing::build_or_fail({{"arch", "mlp"}, {"hidden", {8}}}, 1);
  Model profiled = arch::testing::build_or_fail({{"arch", "mlp"}, {"hidden", {8}}}, 1);
  auto a = compile_mlp(plain, false);
  auto b = compile_mlp(profiled, true);
  for (Plan* plan : {a.get(), b.get()}) {
    fill_input(plan->input(0));
    plan->forward(true);
    const View g = plan->output_grad(0);
    for (size_t i = 0; i < g.span().size(); ++i) g.data[i] = static_cast<float>(i % 7) - 3.0f;
    plan->backward();
  }
  const View la = a->output(0), lb = b->output(0);
  ASSERT_EQ(la.shape, lb.shape);
  EXPECT_EQ(std::memcmp(la.data, lb.data, la.span().size_bytes()), 0);
  ASSERT_EQ(a->parameters().size(), b->parameters().size());
  for (size_t p = 0; p < a->parameters().size(); ++p) {
    const View ga = a->parameters()[p].grad, gb = b->parameters()[p].grad;
    EXPECT_EQ(std::memcmp(ga.data, gb.data, ga.span().size_bytes()), 0) << a->parameters()[p].name;
  }
}

}  // namespace
}  // namespace retort::engine
