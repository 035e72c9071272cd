// PlanOptions::fuse_chains (after ONNX Runtime's transformer tests): build a model, run it
// fused and unfused, compare outputs and gradients, then check what the pass did to the graph
// (which nodes remain, which values lost their buffer and what the error says).
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
using retort::testing::ScopedOmpThreads;
using retort::testing::values_of;

struct ChainConfig {
  std::string label{};
  Shape x{};  // N, C, spatial...
  int64_t maps = 4, group = 1;
  std::vector<int64_t> kernel{}, strides{}, pads{};
  bool bias = true;
  bool pool = true;  // Conv -> Relu -> MaxPool, else Conv -> Relu
  std::vector<int64_t> pool_kernel{}, pool_strides{}, pool_pads{};
  int64_t ceil_mode = 0;
};

void PrintTo(const ChainConfig& g, std::ostream* os) {
  *os << g.label;
}

// X -> Conv "conv1" (value c) -> Relu (value r) [-> MaxPool (value p)] -> Mul by 0.5 (value y,
// the graph output), so the chain's end feeds another node.
Model chain_model(const ChainConfig& g, uint64_t seed) {
  Model m;
  ValueInfo x{"X", DType::kFloat32, {}};
  for (int64_t d : g.x) x.dims.push_back(Dim::fixed(d));
  m.graph.inputs.push_back(x);
  Shape w{g.maps, g.x[1] / g.group};
  w.insert(w.end(), g.kernel.begin(), g.kernel.end());
  m.graph.initializers["W"] = random_tensor(w, seed, -0.5f, 0.5f);
  Node conv{"conv1", "Conv", "", {"X", "W"}, {"c"}, {}};
  if (g.bias) {
    m.graph.initializers["B"] = random_tensor({g.maps}, seed + 1, -0.2f, 0.2f);
    conv.inputs.push_back("B");
  }
  conv.attributes["group"] = Attribute::of_int(g.group);
  if (!g.strides.empty()) conv.attributes["strides"] = Attribute::of_ints(g.strides);
  if (!g.pads.empty()) conv.attributes["pads"] = Attribute::of_ints(g.pads);
  m.graph.nodes.push_back(conv);
  m.graph.nodes.push_back(Node{"conv1.relu", "Relu", "", {"c"}, {"r"}, {}});
  std::string last = "r";
  if (g.pool) {
    Node pool{"conv1.pool", "MaxPool", "", {"r"}, {"p"}, {}};
    pool.attributes["kernel_shape"] = Attribute::of_ints(g.pool_kernel);
    if (!g.pool_strides.empty()) pool.attributes["strides"] = Attribute::of_ints(g.pool_strides);
    if (!g.pool_pads.empty()) pool.attributes["pads"] = Attribute::of_ints(g.pool_pads);
    if (g.ceil_mode) pool.attributes["ceil_mode"] = Attribute::of_int(1);
    m.graph.nodes.push_back(pool);
    last = "p";
  }
  m.graph.initializers["half"] = Tensor::scalar(0.5f);
  m.graph.nodes.push_back(Node{"scale", "Mul", "", {last, "half"}, {"y"}, {}});
  m.graph.outputs.push_back(ValueInfo{"y", DType::kFloat32, {}});
  return m;
}

PlanOptions training_options(const ChainConfig& g, bool fuse) {
  PlanOptions o;
  o.batch = g.x[0];
  o.backward = true;
  o.input_grads = true;
  o.trainable = g.bias ? std::vector<std::string>{"W", "B"} : std::vector<std::string>{"W"};
  o.fuse_chains = fuse;
  o.profile = true;  // node_times() lists the kernels the plan runs
  return o;
}

// One forward and backward with a fixed input and output gradient; returns the output and the
// gradients of X, W (and B) in that order.
std::vector<std::vector<float>> run_once(Plan& plan, const ChainConfig& g) {
  const Tensor x = random_tensor(g.x, 7, -1.0f, 1.0f);
  std::memcpy(plan.input(0).data, x.raw(), x.nbytes());
  plan.forward(true);
  const View dy = plan.output_grad(0);
  for (int64_t i = 0; i < dy.numel(); ++i)
    dy.data[i] = static_cast<float>((i * 37) % 11) / 5.0f - 1.0f;
  plan.backward();
  std::vector<std::vector<float>> result{values_of(plan.output(0)), values_of(*plan.grad("X"))};
  for (const Parameter& p : plan.parameters()) result.push_back(values_of(p.grad));
  return result;
}

class ConvChain : public ::testing::TestWithParam<ChainConfig> {};

TEST_P(ConvChain, FusedGivesTheUnfusedOutputsAndGradientsAsOneKernel) {
  const ChainConfig& g = GetParam();
  Model unfused_model = chain_model(g, 3), fused_model = chain_model(g, 3);
  auto unfused = compile_or_fail(unfused_model, training_options(g, false));
  auto fused = compile_or_fail(fused_model, training_options(g, true));
  ASSERT_TRUE(unfused && fused);

  // The graph: the chain is one kernel named after the Conv, followed by the Mul.
  const size_t chain_nodes = g.pool ? 3 : 2;
  ASSERT_EQ(unfused->node_times().size(), chain_nodes + 1);
  ASSERT_EQ(fused->node_times().size(), 2u);
  EXPECT_EQ(fused->node_times()[0].node, "node 'conv1' (Conv)");
  EXPECT_EQ(fused->node_times()[1].node, "node 'scale' (Mul)");

  const auto want = run_once(*unfused, g), got = run_once(*fused, g);
  ASSERT_EQ(want.size(), got.size());
  const char* names[] = {"output", "dX", "dW", "dB"};
  for (size_t k = 0; k < want.size(); ++k) {
    SCOPED_TRACE(names[k]);
    ASSERT_EQ(want[k].size(), got[k].size());
    float worst = 0.0f;
    for (size_t i = 0; i < want[k].size(); ++i)
      worst = std::max(worst, std::abs(want[k][i] - got[k][i]) / (1.0f + std::abs(want[k][i])));
    EXPECT_LE(worst, 1e-5f);
  }
  // The gradient must not be trivially zero: the comparison above would then prove nothing.
  float dx_norm = 0.0f;
  for (float v : got[1]) dx_norm += v * v;
  EXPECT_GT(dx_norm, 1e-3f);
}

INSTANTIATE_TEST_SUITE_P(Shapes, ConvChain,
                         ::testing::Values(ChainConfig{.label = "pool2x2",
                                                       .x = {2, 3, 9, 9},
                                                       .maps = 8,
                                                       .kernel = {3, 3},
                                                       .pads = {1, 1, 1, 1},
                                                       .pool_kernel = {2, 2},
                                                       .pool_strides = {2, 2}},
                                           ChainConfig{.label = "grouped_strided_ceil",
                                                       .x = {3, 4, 11, 10},
                                                       .maps = 6,
                                                       .group = 2,
                                                       .kernel = {3, 2},
                                                       .strides = {2, 1},
                                                       .bias = false,
                                                       .pool_kernel = {3, 3},
                                                       .pool_strides = {2, 2},
                                                       .pool_pads = {1, 1, 1, 1},
                                                       .ceil_mode = 1},
                                           ChainConfig{.label = "odd_channels_no_pool",
                                                       .x = {2, 5, 7, 6},
                                                       .maps = 17,
                                                       .kernel = {3, 3},
                                                       .pool = false},
                                           ChainConfig{.label = "conv1d",
                                                       .x = {2, 3, 15},
                                                       .maps = 16,
                                                       .kernel = {5},
                                                       .pads = {2, 2},
                                                       .pool_kernel = {3},
                                                       .pool_strides = {3}},
                                           ChainConfig{.label = "benchmark_first_block",
                                                       .x = {8, 1, 28, 28},
                                                       .maps = 32,
                                                       .kernel = {3, 3},
                                                       .pool_kernel = {2, 2},
                                                       .pool_strides = {2, 2}}),
                         [](const auto& info) { return info.param.label; });

ChainConfig default_chain() {
  return ChainConfig{
      .x = {2, 3, 8, 8}, .kernel = {3, 3}, .pool_kernel = {2, 2}, .pool_strides = {2, 2}};
}

TEST(ConvFusion, HiddenValuesHaveNoBufferAndTheErrorSaysHowToKeepThem) {
  const ChainConfig g = default_chain();
  Model m = chain_model(g, 1);
  auto plan = compile_or_fail(m, training_options(g, true));
  ASSERT_TRUE(plan);
  for (const char* hidden : {"c", "r"}) {
    auto v = plan->value(hidden);
    ASSERT_FALSE(v.ok()) << hidden;
    EXPECT_EQ(v.status().code(), ErrorCode::kNotFound);
    const std::string msg = v.status().message();
    EXPECT_NE(msg.find(std::string("value '") + hidden + "'"), std::string::npos) << msg;
    EXPECT_NE(msg.find("inside node 'conv1'"), std::string::npos) << msg;
    EXPECT_NE(msg.find("PlanOptions::keep_values"), std::string::npos) << msg;
    EXPECT_FALSE(plan->grad(hidden).ok());
  }
  EXPECT_TRUE(plan->value("p").ok());  // the chain's output keeps its buffer
  // A name the model never had keeps the plain message.
  EXPECT_NE(plan->value("nope").status().message().find("has no float32 value named 'nope'"),
            std::string::npos);
}

TEST(ConvFusion, KeptReluOutputStopsTheChainBeforeThePooling) {
  const ChainConfig g = default_chain();
  Model fused_model = chain_model(g, 1), unfused_model = chain_model(g, 1);
  PlanOptions keep = training_options(g, true);
  keep.keep_values = {"r"};
  auto fused = compile_or_fail(fused_model, keep);
  auto unfused = compile_or_fail(unfused_model, training_options(g, false));
  ASSERT_TRUE(fused && unfused);
  ASSERT_EQ(fused->node_times().size(), 3u);  // conv1 (+relu), pool, scale
  EXPECT_EQ(fused->node_times()[1].node, "node 'conv1.pool' (MaxPool)");
  EXPECT_FALSE(fused->value("c").ok());
  run_once(*fused, g);
  run_once(*unfused, g);
  EXPECT_EQ(values_of(*fused->value("r")), values_of(*unfused->value("r")));
}

TEST(ConvFusion, GradientValuesInferencePlansAndSharedOutputsAreNotFused) {
  const ChainConfig g = default_chain();
  {  // A gradient the caller reads at the conv output.
    Model m = chain_model(g, 1);
    PlanOptions o = training_options(g, true);
    o.grad_values = {"c"};
    auto plan = compile_or_fail(m, o);
    ASSERT_TRUE(plan);
    EXPECT_EQ(plan->node_times().size(), 4u);
    EXPECT_TRUE(plan->grad("c").ok());
  }
  {  // Inference plans keep every value readable (calibration and feature readers need them).
    Model m = chain_model(g, 1);
    PlanOptions o;
    o.batch = g.x[0];
    o.profile = true;
    auto plan = compile_or_fail(m, o);
    ASSERT_TRUE(plan);
    EXPECT_EQ(plan->node_times().size(), 4u);
    EXPECT_TRUE(plan->value("c").ok());
  }
  {  // The conv output also feeds a second node: it must exist, nothing is fused.
    Model m = chain_model(g, 1);
    m.graph.nodes.push_back(Node{"side", "Relu", "", {"c"}, {"side_out"}, {}});
    m.graph.outputs.push_back(ValueInfo{"side_out", DType::kFloat32, {}});
    auto plan = compile_or_fail(m, training_options(g, true));
    ASSERT_TRUE(plan);
    EXPECT_EQ(plan->node_times().size(), 5u);
    EXPECT_TRUE(plan->value("c").ok());
  }
}

TEST(ConvFusion, KeepValuesNamingAnUnknownValueIsAnError) {
  const ChainConfig g = default_chain();
  Model m = chain_model(g, 1);
  PlanOptions o = training_options(g, true);
  o.keep_values = {"conv_1"};
  auto plan = Plan::compile(m, o);
  ASSERT_FALSE(plan.ok());
  EXPECT_NE(plan.status().message().find("keep_values names 'conv_1', which the model does not"),
            std::string::npos)
      << plan.status().message();
}

TEST(ConvFusion, BadPoolingAttributesNameThePoolingNode) {
  ChainConfig g = default_chain();
  g.pool_kernel = {2};  // a 2-D input needs two values
  Model m = chain_model(g, 1);
  auto plan = Plan::compile(m, training_options(g, true));
  ASSERT_FALSE(plan.ok());
  EXPECT_NE(plan.status().message().find("node 'conv1.pool' (MaxPool): kernel_shape [2] must have "
                                         "2 values"),
            std::string::npos)
      << plan.status().message();
}

// X [6, 29] -> Gemm "fc" (value g) -> Relu (value r) -> Mul by 0.5 (value y, the output).
struct GemmConfig {
  std::string label{};
  int64_t columns = 23;  // of g; from 256 per thread the forward splits over columns (gemm.cpp)
  int threads = 0;       // OpenMP threads while the test runs; 0 leaves them as they are
  int trans_b = 1;
  bool has_c = true;
  float alpha = 1.0f, beta = 1.0f;
  bool fused = true;  // whether the pass may fuse this form
};

void PrintTo(const GemmConfig& g, std::ostream* os) {
  *os << g.label;
}

Model gemm_model(const GemmConfig& g) {
  Model m;
  m.graph.inputs.push_back(ValueInfo{"X", DType::kFloat32, {Dim::fixed(6), Dim::fixed(29)}});
  const int64_t n = g.columns;
  m.graph.initializers["W"] = random_tensor(g.trans_b ? Shape{n, 29} : Shape{29, n}, 2);
  Node gemm{"fc", "Gemm", "", {"X", "W"}, {"g"}, {}};
  if (g.has_c) {
    m.graph.initializers["C"] = random_tensor({n}, 3, -0.5f, 0.5f);
    gemm.inputs.push_back("C");
  }
  gemm.attributes["transB"] = Attribute::of_int(g.trans_b);
  gemm.attributes["alpha"] = Attribute::of_float(g.alpha);
  gemm.attributes["beta"] = Attribute::of_float(g.beta);
  m.graph.nodes.push_back(gemm);
  m.graph.nodes.push_back(Node{"fc.relu", "Relu", "", {"g"}, {"r"}, {}});
  m.graph.initializers["half"] = Tensor::scalar(0.5f);
  m.graph.nodes.push_back(Node{"scale", "Mul", "", {"r", "half"}, {"y"}, {}});
  m.graph.outputs.push_back(ValueInfo{"y", DType::kFloat32, {}});
  return m;
}

class GemmChain : public ::testing::TestWithParam<GemmConfig> {};

TEST_P(GemmChain, FusedGivesTheUnfusedOutputsAndGradients) {
  const GemmConfig& g = GetParam();
  const ScopedOmpThreads threads(g.threads);
  const ChainConfig shape{.x = {6, 29}, .bias = g.has_c};
  PlanOptions fused_options = training_options(shape, true);
  fused_options.trainable =
      g.has_c ? std::vector<std::string>{"W", "C"} : std::vector<std::string>{"W"};
  PlanOptions unfused_options = fused_options;
  unfused_options.fuse_chains = false;
  Model a = gemm_model(g), b = gemm_model(g);
  auto unfused = compile_or_fail(a, unfused_options);
  auto fused = compile_or_fail(b, fused_options);
  ASSERT_TRUE(unfused && fused);
  ASSERT_EQ(unfused->node_times().size(), 3u);
  ASSERT_EQ(fused->node_times().size(), g.fused ? 2u : 3u);
  EXPECT_EQ(fused->value("g").ok(), !g.fused);

  const auto want = run_once(*unfused, shape), got = run_once(*fused, shape);
  ASSERT_EQ(want.size(), got.size());
  for (size_t k = 0; k < want.size(); ++k) {
    SCOPED_TRACE(k);
    ASSERT_EQ(want[k].size(), got[k].size());
    for (size_t i = 0; i < want[k].size(); ++i)
      ASSERT_NEAR(got[k][i], want[k][i], 1e-5f * (1.0f + std::abs(want[k][i]))) << i;
  }
}

INSTANTIATE_TEST_SUITE_P(
    Forms, GemmChain,
    ::testing::Values(
        GemmConfig{.label = "bias_transposed_weights"},
        GemmConfig{.label = "split_over_columns", .columns = 530, .threads = 2},
        GemmConfig{
            .label = "split_no_c", .columns = 800, .threads = 3, .has_c = false, .alpha = 2.0f},
        // 6 x 6000: the bias gradient (reduce_sum_to) splits its columns over the threads.
        GemmConfig{.label = "bias_wide_two_threads", .columns = 6000, .threads = 2},
        GemmConfig{.label = "bias_wide_three_threads", .columns = 6001, .threads = 3},
        GemmConfig{.label = "bias_plain_weights", .trans_b = 0},
        GemmConfig{.label = "no_c_scaled", .has_c = false, .alpha = 2.0f},
        GemmConfig{.label = "c_ignored", .alpha = 0.5f, .beta = 0.0f},
        // C scaled after the product: a post-op ReLU would come too early.
        GemmConfig{.label = "c_scaled_not_fused", .beta = 0.5f, .fused = false}),
    [](const auto& info) { return info.param.label; });

// A frozen teacher (inference, constant weights) is fused too, except for what the caller keeps.
TEST(GemmFusion, ConstantWeightsInferencePlansFuseAndKeepWhatIsAsked) {
  const GemmConfig g{.label = "teacher"};
  auto run = [&](bool constant, std::vector<std::string> keep, size_t kernels) {
    Model m = gemm_model(g);
    PlanOptions o;
    o.batch = 6;
    o.constant_weights = constant;
    o.keep_values = std::move(keep);
    o.profile = true;
    auto plan = compile_or_fail(m, o);
    EXPECT_EQ(plan->node_times().size(), kernels);
    const Tensor x = random_tensor({6, 29}, 9);
    std::memcpy(plan->input(0).data, x.raw(), x.nbytes());
    plan->forward(false);
    return values_of(plan->output(0));
  };
  const std::vector<float> plain = run(false, {}, 3u);
  const std::vector<float> fused = run(true, {}, 2u);
  const std::vector<float> kept = run(true, {"g"}, 3u);
  ASSERT_EQ(plain.size(), fused.size());
  for (size_t i = 0; i < plain.size(); ++i) {
    ASSERT_NEAR(fused[i], plain[i], 1e-5f * (1.0f + std::abs(plain[i])));
    ASSERT_NEAR(kept[i], plain[i], 1e-5f * (1.0f + std::abs(plain[i])));
  }
}

}  // namespace
}  // namespace retort::engine
