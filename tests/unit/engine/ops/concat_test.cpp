#include <gtest/gtest.h>

#include <string>

#include "engine/op_check.h"
#include "retort/engine/plan.h"

namespace retort::testing {
namespace {

Node concat_node(size_t inputs, int64_t axis) {
  Node n;
  n.name = "cat";
  n.op_type = "Concat";
  for (size_t i = 0; i < inputs; ++i) {
    std::string name = "X";  // (not "X" + ...: GCC 12 raises a false -Wrestrict there)
    name += std::to_string(i);
    n.inputs.push_back(name);
  }
  n.outputs = {"Y"};
  n.attributes["axis"] = Attribute::of_int(axis);
  return n;
}

// Reference: walk the output and pick the input that owns each position along the axis.
Tensor reference_concat(const std::vector<Tensor>& xs, int64_t axis) {
  const int64_t rank = static_cast<int64_t>(xs[0].rank());
  if (axis < 0) axis += rank;
  Shape out = xs[0].shape();
  out[axis] = 0;
  for (const Tensor& x : xs) out[axis] += x.dim(axis);
  Tensor y(DType::kFloat32, out);
  int64_t outer = 1, inner = 1;
  for (int64_t i = 0; i < axis; ++i) outer *= out[i];
  for (int64_t i = axis + 1; i < rank; ++i) inner *= out[i];
  int64_t k = 0;
  for (int64_t o = 0; o < outer; ++o)
    for (const Tensor& x : xs)
      for (int64_t j = 0; j < x.dim(axis) * inner; ++j)
        y.data<float>()[k++] = x.data<float>()[o * x.dim(axis) * inner + j];
  return y;
}

struct Case {
  std::vector<Shape> shapes;
  int64_t axis;
};

const Case kCases[] = {
    {{{2}, {2}}, 0},
    {{{2}, {3}}, -1},
    {{{2, 2}, {2, 2}}, 0},
    {{{2, 3}, {2, 5}}, 1},
    {{{2, 3}, {4, 3}}, -2},
    {{{2, 2, 2}, {2, 2, 2}}, 0},
    {{{2, 1, 2}, {2, 3, 2}, {2, 2, 2}}, 1},
    {{{2, 2, 3}, {2, 2, 1}}, 2},
    {{{2, 2, 3}, {2, 2, 1}}, -1},
    {{{3, 2, 2}, {1, 2, 2}}, -3},
    {{{7, 13}, {7, 0}, {7, 4}}, 1},
    {{{3, 4}}, 1},
};

TEST(ConcatTest, ForwardMatchesReference) {
  uint64_t seed = 1;
  for (const Case& k : kCases) {
    SCOPED_TRACE("axis " + std::to_string(k.axis) + " first " + shape_to_string(k.shapes[0]));
    OpCase c{concat_node(k.shapes.size(), k.axis), {}};
    for (const Shape& s : k.shapes) c.inputs.push_back(random_tensor(s, seed++));
    auto out = run_op(c);
    ASSERT_EQ(out.size(), 1u);
    expect_near(out[0], reference_concat(c.inputs, k.axis), 0.0f);
  }
}

TEST(ConcatTest, GradientsMatchFiniteDifferences) {
  uint64_t seed = 40;
  for (const Case& k : kCases) {
    SCOPED_TRACE("axis " + std::to_string(k.axis) + " first " + shape_to_string(k.shapes[0]));
    OpCase c{concat_node(k.shapes.size(), k.axis), {}};
    for (const Shape& s : k.shapes) c.inputs.push_back(random_tensor(s, seed++));
    expect_gradients_match_fd(c);
  }
}

TEST(ConcatTest, LargeInputsUseParallelCopies) {
  OpCase c{concat_node(2, 1), {random_tensor({512, 300}, 1), random_tensor({512, 200}, 2)}};
  auto out = run_op(c);
  ASSERT_EQ(out.size(), 1u);
  expect_near(out[0], reference_concat(c.inputs, 1), 0.0f);
}

TEST(ConcatTest, RejectsMismatchedShapes) {
  OpCase c{concat_node(2, 1), {random_tensor({2, 3}, 1), random_tensor({3, 3}, 2)}};
  Model model = make_single_op_model(c);
  Status s = engine::Plan::compile(model, engine::PlanOptions{}).status();
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("'cat'"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("[3, 3]"), std::string::npos) << s.message();
}

}  // namespace
}  // namespace retort::testing
