#include <gtest/gtest.h>

#include <cstring>
#include <string>

#include "engine/op_check.h"
#include "retort/engine/plan.h"

namespace retort::testing {
namespace {

Node reshape_node(bool allow_zero = false) {
  Node n;
  n.name = "rs";
  n.op_type = "Reshape";
  n.inputs = {"X", "shape"};
  n.outputs = {"Y"};
  if (allow_zero) n.attributes["allowzero"] = Attribute::of_int(1);
  return n;
}

Node unary_node(const std::string& op, int64_t axis = 1, bool set_axis = false) {
  Node n;
  n.name = "u";
  n.op_type = op;
  n.inputs = {"X"};
  n.outputs = {"Y"};
  if (set_axis) n.attributes["axis"] = Attribute::of_int(axis);
  return n;
}

OpCase reshape_case(const Shape& in, const std::vector<int64_t>& shape, bool allow_zero = false) {
  return OpCase{reshape_node(allow_zero),
                {random_tensor(in, 3),
                 Tensor::from_vector<int64_t>({static_cast<int64_t>(shape.size())}, shape)}};
}

// Same values in the same order, new shape.
void expect_same_data(const Tensor& out, const Tensor& in, const Shape& shape) {
  EXPECT_EQ(shape_to_string(out.shape()), shape_to_string(shape));
  ASSERT_EQ(out.numel(), in.numel());
  EXPECT_EQ(std::memcmp(out.raw(), in.raw(), in.nbytes()), 0);
}

Status compile_status(const OpCase& c) {
  Model model = make_single_op_model(c);
  return engine::Plan::compile(model, engine::PlanOptions{}).status();
}

TEST(ReshapeTest, ShapesFollowOnnxRules) {
  struct Case {
    Shape in;
    std::vector<int64_t> shape;
    bool allow_zero;
    Shape expected;
  };
  const Case cases[] = {
      {{2, 3, 4}, {4, 2, 3}, false, {4, 2, 3}},         // reordered all dims
      {{2, 3, 4}, {2, 4, 3}, false, {2, 4, 3}},         // reordered last dims
      {{2, 3, 4}, {2, 12}, false, {2, 12}},             // reduced dims
      {{2, 3, 4}, {2, 3, 2, 2}, false, {2, 3, 2, 2}},   // extended dims
      {{2, 3, 4}, {24}, false, {24}},                   // one dim
      {{2, 3, 4}, {2, -1, 2}, false, {2, 6, 2}},        // negative dim
      {{2, 3, 4}, {-1, 2, 3, 4}, false, {1, 2, 3, 4}},  // negative extended dims
      {{2, 3, 4}, {2, 0, 4, 1}, false, {2, 3, 4, 1}},   // zero copies the input dim
      {{2, 3, 4}, {2, 0, 1, -1}, false, {2, 3, 1, 4}},  // zero and negative
      {{0, 3, 4}, {3, 4, 0}, true, {3, 4, 0}},          // allowzero keeps a literal 0
      {{7, 13}, {13, 7}, false, {13, 7}},
  };
  for (const Case& k : cases) {
    SCOPED_TRACE(shape_to_string(k.in) + " -> " + shape_to_string(k.shape));
    OpCase c = reshape_case(k.in, k.shape, k.allow_zero);
    auto out = run_op(c);
    ASSERT_EQ(out.size(), 1u);
    expect_same_data(out[0], c.inputs[0], k.expected);
  }
}

TEST(ReshapeTest, GradientIsReshapedOutputGradient) {
  expect_gradients_match_fd(reshape_case({2, 3, 4}, {4, -1}));
  expect_gradients_match_fd(reshape_case({7, 13}, {91}));
}

TEST(ReshapeTest, RejectsBadShapes) {
  struct Case {
    Shape in;
    std::vector<int64_t> shape;
    bool allow_zero;
    const char* needle;
  };
  const Case cases[] = {
      {{2, 3, 4}, {-1, -1}, false, "at most one dimension may be -1"},
      {{2, 3, 4}, {5, -1}, false, "cannot be inferred"},
      {{2, 3, 4}, {5, 5}, false, "element counts differ"},
      {{2, 3}, {2, 3, 0}, false, "only 2 dimensions"},
      {{2, 3, 4}, {-2, 12}, false, "only -1"},
      {{0, 3, 4}, {0, -1}, true, "both 0 and -1"},
  };
  for (const Case& k : cases) {
    SCOPED_TRACE(shape_to_string(k.in) + " -> " + shape_to_string(k.shape));
    Status s = compile_status(reshape_case(k.in, k.shape, k.allow_zero));
    ASSERT_FALSE(s.ok());
    EXPECT_NE(s.message().find("'rs'"), std::string::npos) << s.message();
    EXPECT_NE(s.message().find(k.needle), std::string::npos) << s.message();
  }
}

TEST(ReshapeTest, RejectsRuntimeShape) {
  // A float "shape" becomes a graph input: shapes must be constants.
  OpCase c{reshape_node(), {random_tensor({2, 3}, 1), random_tensor({2}, 2)}};
  Status s = compile_status(c);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("int64 initializer"), std::string::npos) << s.message();
}

TEST(FlattenTest, AllAxes) {
  const Shape in{2, 3, 4, 5};
  for (int64_t axis = -4; axis <= 4; ++axis) {
    SCOPED_TRACE("axis " + std::to_string(axis));
    OpCase c{unary_node("Flatten", axis, true), {random_tensor(in, 5)}};
    auto out = run_op(c);
    ASSERT_EQ(out.size(), 1u);
    const int64_t a = axis < 0 ? axis + 4 : axis;
    int64_t outer = 1;
    for (int64_t i = 0; i < a; ++i) outer *= in[i];
    expect_same_data(out[0], c.inputs[0], {outer, 120 / outer});
  }
  OpCase def{unary_node("Flatten"), {random_tensor({3, 4, 5}, 6)}};
  auto out = run_op(def);
  ASSERT_EQ(out.size(), 1u);
  expect_same_data(out[0], def.inputs[0], {3, 20});
  expect_gradients_match_fd(def);
}

TEST(FlattenTest, RejectsAxisOutOfRange) {
  Status s = compile_status(OpCase{unary_node("Flatten", 4, true), {random_tensor({2, 3, 4}, 1)}});
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("axis 4"), std::string::npos) << s.message();
}

TEST(IdentityTest, CopiesForwardAndBackward) {
  for (const Shape& s : {Shape{7, 13}, Shape{}, Shape{300, 300}}) {
    SCOPED_TRACE(shape_to_string(s));
    OpCase c{unary_node("Identity"), {random_tensor(s, 9)}};
    auto out = run_op(c);
    ASSERT_EQ(out.size(), 1u);
    expect_same_data(out[0], c.inputs[0], s);
  }
  expect_gradients_match_fd(OpCase{unary_node("Identity"), {random_tensor({3, 5}, 4)}});
}

}  // namespace
}  // namespace retort::testing
