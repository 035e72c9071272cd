#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <string>

#include "engine/op_check.h"
#include "retort/engine/plan.h"

namespace retort::testing {
namespace {

Node softmax_node(const std::string& op, int64_t axis, bool set_axis = true) {
  Node n;
  n.name = "sm";
  n.op_type = op;
  n.inputs = {"X"};
  n.outputs = {"Y"};
  if (set_axis) n.attributes["axis"] = Attribute::of_int(axis);
  return n;
}

// Opset-13 (log)softmax along one axis, in double with max subtraction.
Tensor reference(const Tensor& x, int64_t axis, bool log) {
  const int64_t rank = static_cast<int64_t>(x.rank());
  if (axis < 0) axis += rank;
  int64_t outer = 1, inner = 1;
  for (int64_t i = 0; i < axis; ++i) outer *= x.dim(i);
  for (int64_t i = axis + 1; i < rank; ++i) inner *= x.dim(i);
  const int64_t n = x.dim(axis);
  Tensor y(DType::kFloat32, x.shape());
  const float* in = x.data<float>();
  float* out = y.data<float>();
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t i = 0; i < inner; ++i) {
      auto at = [&](int64_t k) { return (o * n + k) * inner + i; };
      double mx = in[at(0)];
      for (int64_t k = 1; k < n; ++k) mx = std::max(mx, static_cast<double>(in[at(k)]));
      double sum = 0;
      for (int64_t k = 0; k < n; ++k) sum += std::exp(in[at(k)] - mx);
      for (int64_t k = 0; k < n; ++k) {
        const double z = in[at(k)] - mx;
        out[at(k)] = static_cast<float>(log ? z - std::log(sum) : std::exp(z) / sum);
      }
    }
  return y;
}

const std::pair<Shape, int64_t> kCases[] = {
    {{7, 13}, -1},   {{7, 13}, 0}, {{2, 3, 4}, 0}, {{2, 3, 4}, 1},    {{2, 3, 4}, 2},
    {{2, 3, 4}, -2}, {{5}, 0},     {{1, 1}, -1},   {{3, 1, 4, 2}, 2},
};

TEST(SoftmaxTest, ForwardMatchesReference) {
  uint64_t seed = 1;
  for (const char* op : {"Softmax", "LogSoftmax"})
    for (const auto& [shape, axis] : kCases) {
      SCOPED_TRACE(std::string(op) + " " + shape_to_string(shape) + " axis " +
                   std::to_string(axis));
      OpCase c{softmax_node(op, axis), {random_tensor(shape, seed++, -3, 3)}};
      auto out = run_op(c);
      ASSERT_EQ(out.size(), 1u);
      expect_near(out[0], reference(c.inputs[0], axis, std::string(op) == "LogSoftmax"), 1e-5f);
    }
}

TEST(SoftmaxTest, DefaultAxisIsLastAndLargeValuesAreStable) {
  for (const char* op : {"Softmax", "LogSoftmax"}) {
    SCOPED_TRACE(op);
    Tensor x = random_tensor({4, 6}, 3, 900, 1000);  // exp() would overflow without max shift
    OpCase c{softmax_node(op, 0, /*set_axis=*/false), {x}};
    auto out = run_op(c);
    ASSERT_EQ(out.size(), 1u);
    expect_near(out[0], reference(x, -1, std::string(op) == "LogSoftmax"), 1e-5f);
  }
}

TEST(SoftmaxTest, GradientsMatchFiniteDifferences) {
  uint64_t seed = 50;
  for (const char* op : {"Softmax", "LogSoftmax"})
    for (const auto& [shape, axis] : kCases) {
      SCOPED_TRACE(std::string(op) + " " + shape_to_string(shape) + " axis " +
                   std::to_string(axis));
      expect_gradients_match_fd(OpCase{softmax_node(op, axis), {random_tensor(shape, seed++)}});
    }
}

TEST(SoftmaxTest, RejectsAxisOutOfRange) {
  OpCase c{softmax_node("Softmax", 3), {random_tensor({2, 3}, 1)}};
  Model model = make_single_op_model(c);
  Status s = engine::Plan::compile(model, engine::PlanOptions{}).status();
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("'sm'"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("axis 3"), std::string::npos) << s.message();
}

}  // namespace
}  // namespace retort::testing
