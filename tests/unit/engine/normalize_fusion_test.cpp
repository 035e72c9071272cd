// The input-normalisation fusion of PlanOptions::fuse_chains (Sub -> Div [-> Flatten] by frozen
// constants, engine/chain_fusion.h), tested like ONNX Runtime's transformers: build a model, run
// it fused and unfused, compare outputs and gradients, then check what the pass did to the
// graph (which kernels run, which values lost their buffer, which forms are left alone).
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <ostream>
#include <string>
#include <vector>

#include "engine/op_check.h"
#include "retort/engine/plan.h"

namespace retort::engine {
namespace {

using retort::testing::compile_or_fail;
using retort::testing::random_tensor;
using retort::testing::values_of;

struct NormalizeConfig {
  std::string label{};
  Shape x{}, mean{}, std{};
  int64_t flatten_axis = -1;  // no Flatten when negative
  Shape scale{};              // the trainable Mul after the chain
};

void PrintTo(const NormalizeConfig& g, std::ostream* os) {
  *os << g.label;
}

// X -> Sub "normalize.sub" (value s) -> Div "normalize.div" (value d) [-> Flatten "flatten"
// (value f)] -> Mul by the trainable S (value y, the graph output).
Model normalize_model(const NormalizeConfig& g) {
  Model m;
  ValueInfo x{"X", DType::kFloat32, {}};
  for (int64_t d : g.x) x.dims.push_back(Dim::fixed(d));
  m.graph.inputs.push_back(x);
  m.graph.initializers["mean"] = random_tensor(g.mean, 11, -0.5f, 0.5f);
  m.graph.initializers["std"] = random_tensor(g.std, 12, 0.5f, 2.0f);
  m.graph.initializers["S"] = random_tensor(g.scale, 13, -1.0f, 1.0f);
  m.graph.nodes.push_back(Node{"normalize.sub", "Sub", "", {"X", "mean"}, {"s"}, {}});
  m.graph.nodes.push_back(Node{"normalize.div", "Div", "", {"s", "std"}, {"d"}, {}});
  std::string last = "d";
  if (g.flatten_axis >= 0) {
    Node flatten{"flatten", "Flatten", "", {"d"}, {"f"}, {}};
    flatten.attributes["axis"] = Attribute::of_int(g.flatten_axis);
    m.graph.nodes.push_back(flatten);
    last = "f";
  }
  m.graph.nodes.push_back(Node{"scale", "Mul", "", {last, "S"}, {"y"}, {}});
  m.graph.outputs.push_back(ValueInfo{"y", DType::kFloat32, {}});
  return m;
}

PlanOptions training_options(const NormalizeConfig& g, bool fuse) {
  PlanOptions o;
  o.batch = g.x[0];
  o.backward = true;
  o.input_grads = true;
  o.trainable = {"S"};
  o.fuse_chains = fuse;
  o.profile = true;  // node_times() lists the kernels the plan runs
  return o;
}

// One forward and backward with a fixed input and output gradient: {y, dX, dS}.
std::vector<std::vector<float>> forward_backward(Plan& plan, const NormalizeConfig& g) {
  const Tensor x = random_tensor(g.x, 7, 0.0f, 1.0f);
  std::memcpy(plan.input(0).data, x.raw(), x.nbytes());
  plan.forward(true);
  const View dy = plan.output_grad(0);
  for (int64_t i = 0; i < dy.numel(); ++i)
    dy.data[i] = static_cast<float>((i * 29) % 13) / 6.0f - 1.0f;
  plan.backward();
  return {values_of(plan.output(0)), values_of(*plan.grad("X")), values_of(*plan.grad("S"))};
}

class NormalizeChain : public ::testing::TestWithParam<NormalizeConfig> {};

TEST_P(NormalizeChain, FusedGivesTheUnfusedOutputsAndGradientsInOneKernel) {
  const NormalizeConfig& g = GetParam();
  Model unfused_model = normalize_model(g), fused_model = normalize_model(g);
  auto unfused = compile_or_fail(unfused_model, training_options(g, false));
  auto fused = compile_or_fail(fused_model, training_options(g, true));
  ASSERT_TRUE(unfused && fused);

  ASSERT_EQ(unfused->node_times().size(), g.flatten_axis >= 0 ? 4u : 3u);
  ASSERT_EQ(fused->node_times().size(), 2u);
  EXPECT_EQ(fused->node_times()[0].node, "node 'normalize.sub' (Sub)");
  EXPECT_EQ(fused->node_times()[1].node, "node 'scale' (Mul)");
  EXPECT_EQ(fused->output(0).shape, unfused->output(0).shape);

  const auto want = forward_backward(*unfused, g), got = forward_backward(*fused, g);
  const char* names[] = {"y", "dX", "dS"};
  for (size_t k = 0; k < want.size(); ++k) {
    SCOPED_TRACE(names[k]);
    ASSERT_EQ(want[k].size(), got[k].size());
    for (size_t i = 0; i < want[k].size(); ++i)
      ASSERT_NEAR(got[k][i], want[k][i], 1e-6f * (1.0f + std::abs(want[k][i]))) << i;
  }
  // Every forward form is the unfused Sub then Div, one float operation each: the same bits.
  EXPECT_EQ(got[0], want[0]);
  // dX = dy * S / std must not be trivially zero: the comparison would then prove nothing.
  float dx_norm = 0.0f;
  for (float v : got[1]) dx_norm += v * v;
  EXPECT_GT(dx_norm, 1e-3f);
}

INSTANTIATE_TEST_SUITE_P(
    Forms, NormalizeChain,
    ::testing::Values(
        // The arch builders' form: [N,C,H,W] input, [1,C,1,1] constants, Flatten to [N, CHW].
        NormalizeConfig{.label = "scalar_channel_flatten",
                        .x = {4, 1, 6, 5},
                        .mean = {1, 1, 1, 1},
                        .std = {1, 1, 1, 1},
                        .flatten_axis = 1,
                        .scale = {30}},
        NormalizeConfig{.label = "per_channel_flatten",
                        .x = {3, 3, 4, 4},
                        .mean = {1, 3, 1, 1},
                        .std = {1, 3, 1, 1},
                        .flatten_axis = 1,
                        .scale = {48}},
        NormalizeConfig{.label = "per_channel_no_flatten",
                        .x = {2, 3, 5, 5},
                        .mean = {1, 3, 1, 1},
                        .std = {1, 3, 1, 1},
                        .scale = {5}},
        NormalizeConfig{.label = "rank0_mean_flatten_axis2",
                        .x = {2, 3, 4, 5},
                        .mean = {},
                        .std = {3, 1, 1},
                        .flatten_axis = 2,
                        .scale = {20}},
        NormalizeConfig{
            .label = "last_dim_std", .x = {3, 2, 7}, .mean = {2, 1}, .std = {7}, .scale = {2, 7}},
        // The constants are bigger than X: the output is broadcast, dX a sum over it.
        NormalizeConfig{.label = "input_broadcast",
                        .x = {2, 1, 1, 5},
                        .mean = {1, 1, 4, 5},
                        .std = {1},
                        .flatten_axis = 1,
                        .scale = {20}}),
    [](const auto& info) { return info.param.label; });

NormalizeConfig default_config() {
  return NormalizeConfig{.x = {2, 1, 3, 3},
                         .mean = {1, 1, 1, 1},
                         .std = {1, 1, 1, 1},
                         .flatten_axis = 1,
                         .scale = {9}};
}

TEST(NormalizeFusion, HiddenValuesNameTheFusedNode) {
  const NormalizeConfig g = default_config();
  Model m = normalize_model(g);
  auto plan = compile_or_fail(m, training_options(g, true));
  ASSERT_TRUE(plan);
  for (const char* hidden : {"s", "d"}) {
    auto v = plan->value(hidden);
    ASSERT_FALSE(v.ok()) << hidden;
    const std::string msg = v.status().message();
    EXPECT_NE(msg.find(std::string("value '") + hidden +
                       "' has no buffer: it is inside node "
                       "'normalize.sub'"),
              std::string::npos)
        << msg;
    EXPECT_NE(msg.find("Sub -> Div [-> Flatten]"), std::string::npos) << msg;
  }
  EXPECT_TRUE(plan->value("f").ok());
}

// Each case: what changes in the model or the options, and how many kernels the plan then runs
// (the unfused chain is 4: Sub, Div, Flatten, Mul).
TEST(NormalizeFusion, TrainedConstantsKeptValuesAndOtherReadersStopTheFusion) {
  const NormalizeConfig g = default_config();
  auto kernels = [&](auto change_model, auto change_options) {
    Model m = normalize_model(g);
    change_model(m);
    PlanOptions o = training_options(g, true);
    change_options(o);
    auto plan = compile_or_fail(m, o);
    return plan ? plan->node_times().size() : 0u;
  };
  const auto same_model = [](Model&) {};
  const auto same_options = [](PlanOptions&) {};
  EXPECT_EQ(kernels(same_model, same_options), 2u);
  // A trained mean or std changes every step: its gradient needs the unfused nodes.
  EXPECT_EQ(kernels(same_model, [](PlanOptions& o) { o.trainable = {"S", "mean"}; }), 4u);
  EXPECT_EQ(kernels(same_model, [](PlanOptions& o) { o.trainable = {"S", "std"}; }), 4u);
  // Frozen plans train nothing, so the constants are fused even when listed.
  EXPECT_EQ(kernels(same_model,
                    [](PlanOptions& o) {
                      o.trainable = {"S", "mean"};
                      o.frozen = true;
                    }),
            2u);
  // Values the caller reads keep their buffers; the chain stops before them.
  EXPECT_EQ(kernels(same_model, [](PlanOptions& o) { o.keep_values = {"s"}; }), 4u);
  EXPECT_EQ(kernels(same_model, [](PlanOptions& o) { o.keep_values = {"d"}; }), 3u);
  // Dividing by a runtime value, or a Sub output read twice, is not a normalisation.
  EXPECT_EQ(kernels(
                [](Model& m) {
                  m.graph.inputs.push_back(ValueInfo{"D", DType::kFloat32, {Dim::fixed(1)}});
                  m.graph.nodes[1].inputs[1] = "D";
                },
                same_options),
            4u);
  EXPECT_EQ(kernels(
                [](Model& m) {
                  m.graph.nodes.push_back(Node{"side", "Relu", "", {"s"}, {"side_out"}, {}});
                  m.graph.outputs.push_back(ValueInfo{"side_out", DType::kFloat32, {}});
                },
                same_options),
            5u);
}

TEST(NormalizeFusion, FrozenTeacherPlansFuseToTheSameOutput) {
  const NormalizeConfig g = default_config();
  auto run = [&](bool constant_weights, size_t want_kernels) {
    Model m = normalize_model(g);
    PlanOptions o;
    o.batch = g.x[0];
    o.constant_weights = constant_weights;
    o.profile = true;
    auto plan = compile_or_fail(m, o);
    EXPECT_EQ(plan->node_times().size(), want_kernels);
    const Tensor x = random_tensor(g.x, 5, 0.0f, 1.0f);
    std::memcpy(plan->input(0).data, x.raw(), x.nbytes());
    plan->forward(false);
    return values_of(plan->output(0));
  };
  const std::vector<float> plain = run(false, 4u), fused = run(true, 2u);
  ASSERT_EQ(plain.size(), fused.size());
  for (size_t i = 0; i < plain.size(); ++i)
    ASSERT_NEAR(fused[i], plain[i], 1e-6f * (1.0f + std::abs(plain[i]))) << i;
}

TEST(NormalizeFusion, ErrorsNameTheNodeTheyComeFrom) {
  auto error = [](const NormalizeConfig& g) {
    Model m = normalize_model(g);
    auto plan = Plan::compile(m, training_options(g, true));
    return plan.ok() ? std::string("compiled") : plan.status().message();
  };
  NormalizeConfig bad_axis = default_config();
  bad_axis.flatten_axis = 7;
  EXPECT_NE(error(bad_axis).find("node 'flatten' (Flatten): axis 7 is out of range"),
            std::string::npos)
      << error(bad_axis);
  NormalizeConfig bad_std = default_config();
  bad_std.std = {1, 1, 1, 2};
  EXPECT_NE(error(bad_std).find("node 'normalize.div' (Div): input shapes [2, 1, 3, 3] and "
                                "[1, 1, 1, 2] are not broadcastable"),
            std::string::npos)
      << error(bad_std);
}

}  // namespace
}  // namespace retort::engine
