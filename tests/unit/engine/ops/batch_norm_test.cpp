// BatchNormalization: inference and training forward against a per-channel loop, the in-place
// running-statistics update (unbiased variance, as PyTorch), backward against finite
// differences in training mode and against the closed form in inference mode, errors.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <string>

#include "engine/op_check.h"
#include "retort/engine/plan.h"

namespace retort::testing {
namespace {

constexpr float kEps = 1e-5f;

Node bn_node(float momentum = 0.9f, int64_t training_mode = 0) {
  Node n;
  n.name = "bn1";
  n.op_type = "BatchNormalization";
  n.inputs = {"X", "scale", "B", "mean", "var"};
  n.outputs = {"Y"};
  n.attributes["epsilon"] = Attribute::of_float(kEps);
  n.attributes["momentum"] = Attribute::of_float(momentum);
  if (training_mode) n.attributes["training_mode"] = Attribute::of_int(training_mode);
  return n;
}

OpCase make_case(const Shape& x, uint64_t seed, float momentum = 0.9f, int64_t training_mode = 0) {
  const Shape c{x[1]};
  return OpCase{bn_node(momentum, training_mode),
                {random_tensor(x, seed, -2.0f, 3.0f), random_tensor(c, seed + 1, 0.5f, 1.5f),
                 random_tensor(c, seed + 2), random_tensor(c, seed + 3),
                 random_tensor(c, seed + 4, 0.5f, 2.0f)}};
}

struct Stats {
  std::vector<double> mean, var;  // biased variance
};

Stats batch_stats(const Tensor& x) {
  const int64_t n = x.dim(0), c = x.dim(1), inner = x.numel() / (n * c);
  Stats s{std::vector<double>(c, 0.0), std::vector<double>(c, 0.0)};
  for (int64_t ch = 0; ch < c; ++ch) {
    double sum = 0, sq = 0;
    for (int64_t b = 0; b < n; ++b)
      for (int64_t i = 0; i < inner; ++i) {
        const double v = x.data<float>()[(b * c + ch) * inner + i];
        sum += v;
        sq += v * v;
      }
    const double count = static_cast<double>(n * inner);
    s.mean[ch] = sum / count;
    s.var[ch] = sq / count - s.mean[ch] * s.mean[ch];
  }
  return s;
}

Tensor reference_bn(const Tensor& x, const Tensor& scale, const Tensor& bias,
                    const std::vector<double>& mean, const std::vector<double>& var) {
  const int64_t n = x.dim(0), c = x.dim(1), inner = x.numel() / (n * c);
  Tensor y(DType::kFloat32, x.shape());
  for (int64_t b = 0; b < n; ++b)
    for (int64_t ch = 0; ch < c; ++ch)
      for (int64_t i = 0; i < inner; ++i) {
        const int64_t k = (b * c + ch) * inner + i;
        const double norm = (x.data<float>()[k] - mean[ch]) / std::sqrt(var[ch] + kEps);
        y.data<float>()[k] =
            static_cast<float>(norm * scale.data<float>()[ch] + bias.data<float>()[ch]);
      }
  return y;
}

std::vector<double> as_double(const Tensor& t) {
  return std::vector<double>(t.span<float>().begin(), t.span<float>().end());
}

const Shape kShapes[] = {{4, 3, 5, 6}, {8, 5}, {2, 3, 7}, {3, 2, 3, 4, 2}, {1, 4, 3, 3}};

class BatchNormShapes : public ::testing::TestWithParam<size_t> {};

TEST_P(BatchNormShapes, InferenceUsesRunningStats) {
  OpCase c = make_case(kShapes[GetParam()], 10 + GetParam());
  Tensor expected = reference_bn(c.inputs[0], c.inputs[1], c.inputs[2], as_double(c.inputs[3]),
                                 as_double(c.inputs[4]));
  expect_near(run_op(c, false)[0], expected, 1e-4f);
}

TEST_P(BatchNormShapes, TrainingUsesBatchStats) {
  OpCase c = make_case(kShapes[GetParam()], 20 + GetParam());
  Stats s = batch_stats(c.inputs[0]);
  Tensor expected = reference_bn(c.inputs[0], c.inputs[1], c.inputs[2], s.mean, s.var);
  expect_near(run_op(c, true)[0], expected, 1e-4f);
  // training_mode=1 asks for batch statistics even in an inference forward.
  OpCase attr = make_case(kShapes[GetParam()], 20 + GetParam(), 0.9f, 1);
  expect_near(run_op(attr, false)[0], expected, 1e-4f);
}

TEST_P(BatchNormShapes, TrainingBackwardMatchesFiniteDifferences) {
  // The training forward is deterministic, so central differences through the batch
  // statistics work. The running mean/var inputs get no gradient (0 both ways).
  expect_gradients_match_fd(make_case(kShapes[GetParam()], 30 + GetParam()), 1e-3, 2e-2, true);
}

INSTANTIATE_TEST_SUITE_P(Shapes, BatchNormShapes, ::testing::Range<size_t>(0, std::size(kShapes)));

// The realistic setup: running statistics and affine parameters are initializers, updated in
// place by a training forward.
struct BnPlan {
  Model model;
  std::unique_ptr<engine::Plan> plan;
};

BnPlan compile_with_initializers(const OpCase& c, bool backward) {
  BnPlan p;
  p.model = make_single_op_model(c);
  p.model.graph.inputs.resize(1);  // X stays a runtime input
  const char* names[] = {"scale", "B", "mean", "var"};
  for (size_t i = 0; i < 4; ++i) p.model.graph.initializers[names[i]] = c.inputs[i + 1].clone();
  engine::PlanOptions options;
  options.backward = backward;
  options.input_grads = backward;
  auto plan = engine::Plan::compile(p.model, options);
  EXPECT_TRUE(plan.ok()) << plan.status().message();
  if (plan.ok()) {
    p.plan = std::move(plan).value();
    std::copy(c.inputs[0].span<float>().begin(), c.inputs[0].span<float>().end(),
              p.plan->input(0).data);
  }
  return p;
}

TEST(BatchNorm, TrainingForwardUpdatesRunningStatsInPlace) {
  const float momentum = 0.8f;
  OpCase c = make_case({6, 3, 4, 5}, 41, momentum);
  BnPlan p = compile_with_initializers(c, false);
  ASSERT_TRUE(p.plan);
  p.plan->forward(true);
  Stats s = batch_stats(c.inputs[0]);
  const double n = 6 * 4 * 5;
  const Tensor& mean = p.model.graph.initializers["mean"];
  const Tensor& var = p.model.graph.initializers["var"];
  for (int64_t ch = 0; ch < 3; ++ch) {
    const double old_mean = c.inputs[3].data<float>()[ch], old_var = c.inputs[4].data<float>()[ch];
    EXPECT_NEAR(mean.data<float>()[ch], old_mean * momentum + s.mean[ch] * (1 - momentum), 1e-5);
    EXPECT_NEAR(var.data<float>()[ch],
                old_var * momentum + s.var[ch] * n / (n - 1) * (1 - momentum), 1e-5);
  }
  // An inference forward leaves them alone and uses them.
  std::vector<float> mean_after(mean.span<float>().begin(), mean.span<float>().end());
  p.plan->forward(false);
  for (int64_t ch = 0; ch < 3; ++ch) EXPECT_EQ(mean.data<float>()[ch], mean_after[ch]);
  Tensor y(DType::kFloat32, c.inputs[0].shape());
  std::copy(p.plan->output(0).span().begin(), p.plan->output(0).span().end(), y.data<float>());
  expect_near(y,
              reference_bn(c.inputs[0], c.inputs[1], c.inputs[2], as_double(mean), as_double(var)),
              1e-4f);
}

TEST(BatchNorm, RunningStatsAreNotParameters) {
  OpCase c = make_case({4, 3, 2, 2}, 43);
  BnPlan p = compile_with_initializers(c, true);
  ASSERT_TRUE(p.plan);
  std::vector<std::string> names;
  for (const engine::Parameter& param : p.plan->parameters()) names.push_back(param.name);
  std::sort(names.begin(), names.end());
  EXPECT_EQ(names, (std::vector<std::string>{"B", "scale"}));
}

// After an inference forward the statistics are constants: dX = dY * scale / sqrt(var + eps),
// dscale = sum(dY * x_hat), dB = sum(dY) (a frozen BN during fine-tuning).
TEST(BatchNorm, InferenceBackwardIsClosedForm) {
  OpCase c = make_case({3, 4, 3, 2}, 47);
  BnPlan p = compile_with_initializers(c, true);
  ASSERT_TRUE(p.plan);
  p.plan->forward(false);
  Tensor dy = random_tensor(c.inputs[0].shape(), 48);
  std::copy(dy.span<float>().begin(), dy.span<float>().end(), p.plan->output_grad(0).data);
  p.plan->backward();
  auto dx = p.plan->grad("X");
  ASSERT_TRUE(dx.ok()) << dx.status().message();
  const int64_t inner = 3 * 2;
  std::vector<double> dscale(4, 0.0), dbias(4, 0.0);
  for (int64_t b = 0; b < 3; ++b)
    for (int64_t ch = 0; ch < 4; ++ch)
      for (int64_t i = 0; i < inner; ++i) {
        const int64_t k = (b * 4 + ch) * inner + i;
        const double inv = 1.0 / std::sqrt(c.inputs[4].data<float>()[ch] + kEps);
        const double g = dy.data<float>()[k];
        EXPECT_NEAR(dx->data[k], g * c.inputs[1].data<float>()[ch] * inv, 1e-4);
        dscale[ch] += g * (c.inputs[0].data<float>()[k] - c.inputs[3].data<float>()[ch]) * inv;
        dbias[ch] += g;
      }
  for (const engine::Parameter& param : p.plan->parameters())
    for (int64_t ch = 0; ch < 4; ++ch)
      EXPECT_NEAR(param.grad.data[ch], param.name == "scale" ? dscale[ch] : dbias[ch], 1e-4)
          << param.name;
}

Status compile_status(const OpCase& c) {
  Model model = make_single_op_model(c);
  return engine::Plan::compile(model, engine::PlanOptions{}).status();
}

TEST(BatchNorm, RejectsRunningStatOutputs) {
  OpCase c = make_case({2, 3, 4, 4}, 1, 0.9f, 1);
  c.node.outputs = {"Y", "running_mean", "running_var"};
  Status s = compile_status(c);
  EXPECT_EQ(s.code(), ErrorCode::kUnsupported);
  EXPECT_NE(s.message().find("node 'bn1' (BatchNormalization)"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("running_mean"), std::string::npos) << s.message();
}

TEST(BatchNorm, RejectsBadShapes) {
  OpCase c = make_case({2, 3, 4, 4}, 1);
  c.inputs[1] = random_tensor({4}, 2);
  Status s = compile_status(c);
  EXPECT_EQ(s.code(), ErrorCode::kInvalidArgument);
  EXPECT_NE(s.message().find("scale [4] must be [3]"), std::string::npos) << s.message();
  OpCase missing = make_case({2, 3}, 1);
  missing.node.inputs.resize(3);
  missing.inputs.resize(3);
  s = compile_status(missing);
  EXPECT_NE(s.message().find("needs 5 inputs"), std::string::npos) << s.message();
}

}  // namespace
}  // namespace retort::testing
