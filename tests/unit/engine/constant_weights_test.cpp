// PlanOptions::constant_weights: weights packed once at compile time give the outputs of a plan
// that reads them every forward, for every Gemm form and for Conv; training plans refuse it.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "arch/arch_test_util.h"
#include "engine/op_check.h"
#include "retort/engine/plan.h"

namespace retort::engine {
namespace {

using nlohmann::json;
using retort::testing::random_tensor;

std::vector<float> run_inference(Model& model, bool constant_weights, int64_t batch) {
  PlanOptions o;
  o.batch = batch;
  o.constant_weights = constant_weights;
  auto plan = Plan::compile(model, o);
  EXPECT_TRUE(plan.ok()) << plan.status().message();
  if (!plan.ok()) return {};
  const View in = (*plan)->input(0);
  const Tensor x = random_tensor(in.shape, 11);
  std::memcpy(in.data, x.raw(), x.nbytes());
  (*plan)->forward(false);
  const View out = (*plan)->output(0);
  return std::vector<float>(out.data, out.data + out.numel());
}

void expect_close(const std::vector<float>& got, const std::vector<float>& want) {
  ASSERT_EQ(got.size(), want.size());
  ASSERT_FALSE(want.empty());
  for (size_t i = 0; i < want.size(); ++i)
    ASSERT_NEAR(got[i], want[i], 1e-5f * (1.0f + std::abs(want[i]))) << "element " << i;
}

TEST(ConstantWeights, ArchitecturesGiveTheSameOutputs) {
  const json specs[] = {
      {{"arch", "mlp"}, {"hidden", {300, 100}}},
      {{"arch", "cnn"},
       {"blocks", {{{"conv", 8}, {"pool", 2}}, {{"conv", 16}, {"pool", 2}, {"bn", true}}}},
       {"fc", {32}}},
  };
  for (const json& spec : specs) {
    SCOPED_TRACE(spec.dump());
    Model a = arch::testing::build_or_fail(spec, 4), b = arch::testing::build_or_fail(spec, 4);
    expect_close(run_inference(b, true, 5), run_inference(a, false, 5));
  }
}

// Every Gemm form: B stored [K, N] or [N, K], A transposed or not, C as bias or scaled.
TEST(ConstantWeights, EveryGemmFormGivesTheSameOutputs) {
  for (int trans_a : {0, 1})
    for (int trans_b : {0, 1})
      for (float beta : {1.0f, 0.5f}) {
        SCOPED_TRACE("transA " + std::to_string(trans_a) + " transB " + std::to_string(trans_b) +
                     " beta " + std::to_string(beta));
        auto make = [&] {
          Model m;
          const int64_t batch = 6, k = 37, n = 45;
          ValueInfo x{"X", DType::kFloat32,
                      trans_a ? std::vector<Dim>{Dim::fixed(k), Dim::fixed(batch)}
                              : std::vector<Dim>{Dim::fixed(batch), Dim::fixed(k)}};
          m.graph.inputs.push_back(x);
          m.graph.initializers["B"] =
              random_tensor(trans_b ? Shape{n, k} : Shape{k, n}, 3, -0.5f, 0.5f);
          m.graph.initializers["C"] = random_tensor({n}, 5);
          Node g{"fc", "Gemm", "", {"X", "B", "C"}, {"Y"}, {}};
          g.attributes["transA"] = Attribute::of_int(trans_a);
          g.attributes["transB"] = Attribute::of_int(trans_b);
          g.attributes["beta"] = Attribute::of_float(beta);
          g.attributes["alpha"] = Attribute::of_float(beta == 1.0f ? 1.0f : 1.5f);
          m.graph.nodes.push_back(g);
          m.graph.outputs.push_back(ValueInfo{"Y", DType::kFloat32, {}});
          return m;
        };
        Model a = make(), b = make();
        expect_close(run_inference(b, true, 6), run_inference(a, false, 6));
      }
}

TEST(ConstantWeights, TrainingPlansRefuseIt) {
  Model m = arch::testing::build_or_fail({{"arch", "mlp"}, {"hidden", {8}}}, 1);
  PlanOptions o;
  o.batch = 2;
  o.backward = true;
  o.constant_weights = true;
  auto plan = Plan::compile(m, o);
  ASSERT_FALSE(plan.ok());
  EXPECT_EQ(plan.status().code(), ErrorCode::kInvalidArgument);
  EXPECT_NE(plan.status().message().find("constant_weights is for inference plans only"),
            std::string::npos)
      << plan.status().message();
}

}  // namespace
}  // namespace retort::engine
