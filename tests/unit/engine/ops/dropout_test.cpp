#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>

#include "engine/op_check.h"
#include "retort/engine/plan.h"

namespace retort::testing {
namespace {

Node dropout_node(bool ratio_input, bool mask_output) {
  Node n;
  n.name = "drop";
  n.op_type = "Dropout";
  n.inputs = {"X"};
  if (ratio_input) n.inputs.push_back("ratio");
  n.outputs = {"Y"};
  if (mask_output) n.outputs.push_back("mask");
  return n;
}

// A Dropout model whose ratio (and optional training_mode) are initializers, the way exporters
// write them.
Model dropout_model(const Shape& shape, float ratio, bool mask_output = false,
                    int training_mode = -1) {
  Node n = dropout_node(true, mask_output);
  if (training_mode >= 0) n.inputs.push_back("training_mode");
  OpCase c{n, {random_tensor(shape, 1)}};
  Model model = make_single_op_model(c);
  model.graph.initializers["ratio"] = Tensor::scalar(ratio);
  if (training_mode >= 0)
    model.graph.initializers["training_mode"] = Tensor::from_vector<bool>({}, {training_mode != 0});
  return model;
}

std::unique_ptr<engine::Plan> compile(Model& model, bool backward, uint64_t seed = 0) {
  engine::PlanOptions options;
  options.backward = backward;
  options.input_grads = backward;
  options.seed = seed;
  auto plan = engine::Plan::compile(model, options);
  EXPECT_TRUE(plan.ok()) << plan.status().message();
  return plan.ok() ? std::move(plan).value() : nullptr;
}

void fill(const engine::View& v, const Tensor& t) {
  std::memcpy(v.data, t.raw(), t.nbytes());
}

std::vector<float> values(const engine::View& v) {
  return {v.data, v.data + v.numel()};
}

TEST(DropoutTest, InferenceIsIdentity) {
  Tensor x = random_tensor({3, 4, 5}, 2);
  // Default ratio, ratio attribute (old opsets), and a runtime ratio input.
  Node old = dropout_node(false, false);
  old.attributes["ratio"] = Attribute::of_float(0.2f);
  for (const OpCase& c : {OpCase{dropout_node(false, false), {x}}, OpCase{old, {x}},
                          OpCase{dropout_node(true, false), {x, Tensor::scalar(0.3f)}}}) {
    auto out = run_op(c, /*training=*/false);
    ASSERT_EQ(out.size(), 1u);
    expect_near(out[0], x, 0.0f);
  }
}

TEST(DropoutTest, InferenceMaskIsAllOnes) {
  Tensor x = random_tensor({3, 4, 5}, 2);
  auto out = run_op(OpCase{dropout_node(false, true), {x}}, false);
  ASSERT_EQ(out.size(), 2u);
  expect_near(out[0], x, 0.0f);
  for (float m : out[1].span<float>()) EXPECT_EQ(m, 1.0f);
}

TEST(DropoutTest, TrainingDropsAboutRatioAndScalesTheRest) {
  const float ratio = 0.3f;
  Model model = dropout_model({256, 400}, ratio, /*mask_output=*/true);
  auto plan = compile(model, false);
  ASSERT_TRUE(plan);
  Tensor x = random_tensor({256, 400}, 3, 0.5f, 1.5f);  // never 0, so y == 0 means dropped
  fill(plan->input(0), x);
  plan->forward(true);
  const engine::View y = plan->output(0), mask = plan->output(1);
  int64_t dropped = 0;
  for (int64_t i = 0; i < y.numel(); ++i) {
    const float xi = x.data<float>()[i];
    if (y.data[i] == 0.0f) {
      ++dropped;
      EXPECT_EQ(mask.data[i], 0.0f);
    } else {
      ASSERT_FLOAT_EQ(y.data[i], xi / (1 - ratio)) << "element " << i;
      EXPECT_EQ(mask.data[i], 1.0f);
    }
  }
  EXPECT_NEAR(static_cast<double>(dropped) / y.numel(), ratio, 0.01);
}

TEST(DropoutTest, MasksAreReproducibleAndChangeEveryStep) {
  const Shape shape{64, 50};
  Tensor x = random_tensor(shape, 4, 0.5f, 1.5f);
  auto run = [&](uint64_t seed, int steps) {
    Model model = dropout_model(shape, 0.5f);
    auto plan = compile(model, false, seed);
    fill(plan->input(0), x);
    std::vector<std::vector<float>> outs;
    for (int s = 0; s < steps; ++s) {
      plan->forward(true);
      outs.push_back(values(plan->output(0)));
    }
    return outs;
  };
  const auto a = run(7, 2), b = run(7, 2), c = run(8, 1);
  EXPECT_EQ(a[0], b[0]);
  EXPECT_EQ(a[1], b[1]);
  EXPECT_NE(a[0], a[1]);
  EXPECT_NE(a[0], c[0]);
}

// The masks of three steps, folded into one FNV-1a value. Pinned to what the scalar loop gave
// before the mask loops got AVX2/AVX-512 clones: every clone, and every thread count, must
// draw the same masks, or runs would differ between machines.
TEST(DropoutTest, MasksArePinnedAndIndependentOfThreads) {
  const Shape shape{128, 1201};  // odd size: the vector loops' remainders count too
  Tensor x = random_tensor(shape, 4, 0.5f, 1.5f);
  auto fingerprint = [&](int threads) {
    ScopedOmpThreads scoped(threads);
    Model model = dropout_model(shape, 0.2f);
    auto plan = compile(model, false, 11);
    fill(plan->input(0), x);
    uint64_t h = 0xCBF29CE484222325ULL;
    for (int step = 0; step < 3; ++step) {
      plan->forward(true);
      const engine::View y = plan->output(0);
      for (int64_t i = 0; i < y.numel(); ++i) h = (h ^ (y.data[i] != 0.0f)) * 0x100000001B3ULL;
    }
    return h;
  };
  EXPECT_EQ(fingerprint(1), 0xC96A5B4897EACD25ULL);
  EXPECT_EQ(fingerprint(2), fingerprint(1));
  EXPECT_EQ(fingerprint(3), fingerprint(1));
}

TEST(DropoutTest, TrainingBackwardUsesTheSameMask) {
  const float ratio = 0.4f;
  const Shape shape{33, 17};
  Model model = dropout_model(shape, ratio);
  auto plan = compile(model, true);
  ASSERT_TRUE(plan);
  Tensor x = random_tensor(shape, 5, 0.5f, 1.5f);
  fill(plan->input(0), x);
  plan->forward(true);
  Tensor dy = random_tensor(shape, 6);
  fill(plan->output_grad(0), dy);
  plan->backward();
  auto dx = plan->grad("X");
  ASSERT_TRUE(dx.ok()) << dx.status().message();
  const engine::View y = plan->output(0);
  for (int64_t i = 0; i < y.numel(); ++i) {
    const float expected = y.data[i] == 0.0f ? 0.0f : dy.data<float>()[i] / (1 - ratio);
    ASSERT_FLOAT_EQ(dx->data[i], expected) << "element " << i;
  }
}

TEST(DropoutTest, InferenceGradientIsIdentity) {
  expect_gradients_match_fd(OpCase{dropout_node(false, false), {random_tensor({4, 5}, 8)}});
}

TEST(DropoutTest, TrainingModeFalseOrZeroRatioKeepsEverything) {
  Tensor x = random_tensor({10, 10}, 9);
  for (auto [ratio, mode] : {std::pair<float, int>{0.5f, 0}, std::pair<float, int>{0.0f, 1}}) {
    Model model = dropout_model({10, 10}, ratio, false, mode);
    auto plan = compile(model, false);
    ASSERT_TRUE(plan);
    fill(plan->input(0), x);
    plan->forward(true);
    EXPECT_EQ(values(plan->output(0)), std::vector<float>(x.data<float>(), x.data<float>() + 100));
  }
}

TEST(DropoutTest, RuntimeRatioInputIsReadEachStep) {
  OpCase c{dropout_node(true, false),
           {random_tensor({50, 50}, 1, 0.5f, 1.5f), Tensor::scalar(0.0f)}};
  Model model = make_single_op_model(c);
  auto plan = compile(model, false);
  ASSERT_TRUE(plan);
  fill(plan->input(0), c.inputs[0]);
  auto zeros = [&] {
    const engine::View y = plan->output(0);
    return std::count(y.data, y.data + y.numel(), 0.0f);
  };
  plan->input(1).data[0] = 0.0f;
  plan->forward(true);
  EXPECT_EQ(zeros(), 0);
  plan->input(1).data[0] = 0.9f;
  plan->forward(true);
  EXPECT_GT(zeros(), 2000);
}

TEST(DropoutTest, RejectsRatioOutsideRange) {
  Model model = dropout_model({2, 2}, 1.5f);
  Status s = engine::Plan::compile(model, engine::PlanOptions{}).status();
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("'drop'"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("outside [0, 1)"), std::string::npos) << s.message();
}

}  // namespace
}  // namespace retort::testing
