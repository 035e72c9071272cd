#include <gtest/gtest.h>

#include <algorithm>
#include <bit>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "engine/op_check.h"
#include "retort/engine/plan.h"

namespace retort::testing {
namespace {

Node relu_node() {
  Node n;
  n.name = "act";
  n.op_type = "Relu";
  n.inputs = {"X"};
  n.outputs = {"Y"};
  return n;
}

// Random values kept at least 0.05 away from the kink at 0, so finite differences are exact.
Tensor away_from_zero(Shape shape, uint64_t seed) {
  Tensor t = random_tensor(std::move(shape), seed);
  for (float& v : t.span<float>()) v = v >= 0 ? v + 0.05f : v - 0.05f;
  return t;
}

const Shape kShapes[] = {{7, 13}, {2, 3, 4, 5}, {}, {1}, {300, 257}, {1, 2, 1, 3, 1, 2, 2}};

TEST(ReluTest, ForwardMatchesReference) {
  uint64_t seed = 1;
  for (const Shape& s : kShapes) {
    SCOPED_TRACE(shape_to_string(s));
    OpCase c{relu_node(), {random_tensor(s, seed++)}};
    auto out = run_op(c);
    ASSERT_EQ(out.size(), 1u);
    Tensor expected = c.inputs[0].clone();
    for (float& v : expected.span<float>()) v = std::max(v, 0.0f);
    expect_near(out[0], expected, 0.0f);
  }
}

TEST(ReluTest, GradientsMatchFiniteDifferences) {
  uint64_t seed = 20;
  for (const Shape& s : kShapes) {
    if (shape_numel(s) > 1000) continue;
    SCOPED_TRACE(shape_to_string(s));
    expect_gradients_match_fd(OpCase{relu_node(), {away_from_zero(s, seed++)}});
  }
}

// A small ReLU runs in a loop of the engine's own, a large one on oneDNN: both give the same
// bits, forward and backward, for signed zeros, negatives, infinities and NaN too.
TEST(ReluTest, SmallAndLargeTensorsGiveTheSameBits) {
  Model m;
  m.graph.inputs = {ValueInfo{"X", DType::kFloat32, {Dim::symbolic("N"), Dim::fixed(16)}}};
  m.graph.outputs = {ValueInfo{"Y", DType::kFloat32, {Dim::symbolic("N"), Dim::fixed(16)}}};
  m.graph.nodes = {relu_node()};
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const float inf = std::numeric_limits<float>::infinity();
  const float x[16] = {-1.0f,  -0.0f,   0.0f,   1.5f,  nan,    -nan,  inf,   -inf,
                       1e-40f, -1e-40f, -3e38f, 3e38f, -0.25f, 0.25f, -7.0f, 7.0f};
  const float dy[16] = {1.0f,  -1.0f, 2.0f, -2.0f, 3.0f, -3.0f, nan,  0.5f,
                        -0.0f, 0.0f,  inf,  -inf,  1.0f, -1.0f, 4.0f, -4.0f};
  auto run = [&](int64_t batch, std::vector<uint32_t>* y_bits, std::vector<uint32_t>* dx_bits) {
    engine::PlanOptions po;
    po.batch = batch;  // 1: 16 elements, the engine's loop; 4096: 65,536, oneDNN's
    po.backward = true;
    po.input_grads = true;
    auto plan = engine::Plan::compile(m, po);
    ASSERT_TRUE(plan.ok()) << plan.status().message();
    for (int64_t i = 0; i < batch * 16; ++i) (*plan)->input(0).data[i] = x[i % 16];
    (*plan)->forward(true);
    for (int64_t i = 0; i < batch * 16; ++i) (*plan)->output_grad(0).data[i] = dy[i % 16];
    (*plan)->backward();
    auto dx = (*plan)->grad("X");
    ASSERT_TRUE(dx.ok()) << dx.status().message();
    for (int i = 0; i < 16; ++i) {
      y_bits->push_back(std::bit_cast<uint32_t>((*plan)->output(0).data[i]));
      dx_bits->push_back(std::bit_cast<uint32_t>(dx->data[i]));
    }
  };
  std::vector<uint32_t> y_small, dx_small, y_large, dx_large;
  run(1, &y_small, &dx_small);
  run(4096, &y_large, &dx_large);
  EXPECT_EQ(y_small, y_large);
  EXPECT_EQ(dx_small, dx_large);
  EXPECT_EQ(y_small[0], 0u) << "a negative input gives +0";
  EXPECT_EQ(y_small[3], std::bit_cast<uint32_t>(1.5f));
}

TEST(ReluTest, RejectsExtraInputs) {
  Node n = relu_node();
  n.inputs.push_back("Z");
  OpCase c{n, {random_tensor({2}, 1), random_tensor({2}, 2)}};
  Model model = make_single_op_model(c);
  Status s = engine::Plan::compile(model, engine::PlanOptions{}).status();
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("'act'"), std::string::npos) << s.message();
}

}  // namespace
}  // namespace retort::testing

namespace retort::testing {
namespace {

TEST(ClipOp, ClampsToConstantBoundsAndPassesGradientsInside) {
  Node n;
  n.name = "clip1";
  n.op_type = "Clip";
  n.inputs = {"x", "lo", "hi"};
  n.outputs = {"y"};
  Model m;
  m.graph.inputs = {ValueInfo{"x", DType::kFloat32, {Dim::fixed(5)}}};
  m.graph.outputs = {ValueInfo{"y", DType::kFloat32, {Dim::fixed(5)}}};
  m.graph.initializers["lo"] = Tensor::scalar(-0.5f);
  m.graph.initializers["hi"] = Tensor::scalar(1.5f);
  m.graph.nodes = {n};
  engine::PlanOptions po;
  po.backward = true;
  po.input_grads = true;
  po.trainable = {};
  po.frozen = true;
  auto plan = engine::Plan::compile(m, po);
  ASSERT_TRUE(plan.ok()) << plan.status().message();
  const std::vector<float> x = {-2.0f, -0.25f, 0.0f, 1.0f, 3.0f};
  std::copy(x.begin(), x.end(), (*plan)->input(0).data);
  (*plan)->forward(true);
  const std::vector<float> want = {-0.5f, -0.25f, 0.0f, 1.0f, 1.5f};
  for (int i = 0; i < 5; ++i) EXPECT_EQ((*plan)->output(0).data[i], want[i]) << i;
  std::fill((*plan)->output_grad(0).data, (*plan)->output_grad(0).data + 5, 1.0f);
  (*plan)->backward();
  const std::vector<float> grad = {0, 1, 1, 1, 0};
  for (int i = 0; i < 5; ++i) EXPECT_EQ((*plan)->grad("x")->data[i], grad[i]) << i;

  m.graph.inputs.push_back(ValueInfo{"lo2", DType::kFloat32, {}});
  m.graph.initializers.erase("lo");
  m.graph.nodes[0].inputs[1] = "lo2";
  auto runtime_bound = engine::Plan::compile(m, {});
  ASSERT_FALSE(runtime_bound.ok());
  EXPECT_NE(
      runtime_bound.status().message().find("min ('lo2') must be a float32 scalar initializer"),
      std::string::npos)
      << runtime_bound.status().message();
}

}  // namespace
}  // namespace retort::testing
