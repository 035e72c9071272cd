// Pad: ONNX example values, forward against an N-D loop for every mode (incl. negative pads,
// pads wider than the input, axes, a runtime constant_value), backward against finite
// differences, and errors.
#include <gtest/gtest.h>

#include <algorithm>
#include <string>

#include "engine/op_check.h"
#include "retort/engine/plan.h"

namespace retort::testing {
namespace {

struct PadConfig {
  Shape x;
  std::vector<int64_t> pads;
  std::string mode = "constant";
  float value = 0.0f;
  bool value_input = false;        // constant_value given as a runtime float input
  std::vector<int64_t> axes = {};  // opset 18 axes input when non-empty
};

OpCase make_case(const PadConfig& g, uint64_t seed) {
  OpCase c;
  c.node.name = "pad1";
  c.node.op_type = "Pad";
  c.node.inputs = {"data", "pads"};
  c.node.outputs = {"output"};
  if (g.mode != "constant") c.node.attributes["mode"] = Attribute::of_string(g.mode);
  c.inputs.push_back(random_tensor(g.x, seed));
  c.inputs.push_back(Tensor::from_vector<int64_t>({static_cast<int64_t>(g.pads.size())}, g.pads));
  if (g.value_input || !g.axes.empty()) {
    c.node.inputs.push_back(g.value_input ? "value" : "");
    c.inputs.push_back(g.value_input ? Tensor::scalar(g.value) : Tensor());
  }
  if (!g.axes.empty()) {
    c.node.inputs.push_back("axes");
    c.inputs.push_back(Tensor::from_vector<int64_t>({static_cast<int64_t>(g.axes.size())}, g.axes));
  }
  return c;
}

// Maps an output coordinate to an input one the way numpy.pad describes the modes (reflection
// done by repeated mirroring); -1 for the constant.
int64_t source(const std::string& mode, int64_t i, int64_t n) {
  if (i >= 0 && i < n) return i;
  if (mode == "constant") return -1;
  if (mode == "edge") return std::clamp<int64_t>(i, 0, n - 1);
  if (mode == "wrap") return ((i % n) + n) % n;
  if (n == 1) return 0;
  while (i < 0 || i >= n) i = i < 0 ? -i : 2 * (n - 1) - i;
  return i;
}

Tensor reference_pad(const PadConfig& g, const Tensor& x) {
  const size_t rank = g.x.size();
  std::vector<int64_t> axes = g.axes;
  if (axes.empty())
    for (size_t a = 0; a < rank; ++a) axes.push_back(static_cast<int64_t>(a));
  std::vector<int64_t> begin(rank, 0), end(rank, 0);
  for (size_t j = 0; j < axes.size(); ++j) {
    const size_t a =
        static_cast<size_t>(axes[j] < 0 ? axes[j] + static_cast<int64_t>(rank) : axes[j]);
    begin[a] = g.pads[j];
    end[a] = g.pads[axes.size() + j];
  }
  Shape y_shape(rank);
  for (size_t a = 0; a < rank; ++a) y_shape[a] = g.x[a] + begin[a] + end[a];
  Tensor y(DType::kFloat32, y_shape);
  for (int64_t flat = 0; flat < y.numel(); ++flat) {
    int64_t rest = flat, src = 0, stride = 1;
    bool constant = false;
    for (size_t a = rank; a-- > 0;) {
      const int64_t o = rest % y_shape[a];
      rest /= y_shape[a];
      const int64_t i = source(g.mode, o - begin[a], g.x[a]);
      constant = constant || i < 0;
      src += i * stride;
      stride *= g.x[a];
    }
    y.data<float>()[flat] = constant ? g.value : x.data<float>()[src];
  }
  return y;
}

const PadConfig kConfigs[] = {
    {{1, 3, 4, 5}, {0, 0, 1, 2, 0, 0, 2, 1}},
    {{1, 3, 4, 5}, {0, 0, 1, 2, 0, 0, 2, 1}, "constant", 1.5f},
    {{2, 2, 3, 4}, {0, 0, 1, 1, 0, 0, 1, 1}, "constant", -0.75f, true},
    {{1, 3, 4, 5}, {0, 0, 1, 2, 0, 0, 2, 1}, "reflect"},
    {{1, 3, 4, 5}, {0, 0, 1, 2, 0, 0, 2, 1}, "edge"},
    {{1, 3, 4, 5}, {0, 0, 1, 2, 0, 0, 2, 1}, "wrap"},
    {{2, 3, 5, 6}, {0, 0, -1, 2, 0, 0, 1, -2}},
    {{2, 3, 5, 6}, {0, 0, -1, 2, 0, 0, 1, -2}, "reflect"},
    {{1, 1, 3, 4}, {0, 0, 4, 0, 0, 0, 0, 5}, "reflect"},  // wider than the input
    {{1, 1, 3, 4}, {0, 0, 4, 0, 0, 0, 0, 5}, "edge"},
    {{7}, {3, 2}, "reflect"},
    {{4, 5}, {1, 0, 2, 3}, "edge"},
    {{3, 4, 5}, {1, 1, 1, 0, 2, 2}, "constant", 2.0f},
    {{3, 4, 5}, {2, 1, 1, 3}, "reflect", 0.0f, false, {1, -1}},
    {{1, 1, 1, 3}, {0, 0, 2, 1, 0, 0, 1, 2}, "reflect"},  // a size-1 axis
};

class PadForward : public ::testing::TestWithParam<size_t> {};

TEST_P(PadForward, MatchesReference) {
  const PadConfig& g = kConfigs[GetParam()];
  OpCase c = make_case(g, 500 + GetParam());
  if (g.value_input || g.value == 0.0f) {
    std::vector<Tensor> out = run_op(c);
    ASSERT_EQ(out.size(), 1u);
    expect_near(out[0], reference_pad(g, c.inputs[0]), 0.0f);
    return;
  }
  // A constant constant_value: an initializer read at compile time.
  c.node.inputs.resize(3);
  c.node.inputs[2] = "value";
  Model model = make_single_op_model(c);
  model.graph.initializers["value"] = Tensor::scalar(g.value);
  auto plan = engine::Plan::compile(model, engine::PlanOptions{});
  ASSERT_TRUE(plan.ok()) << plan.status().message();
  std::copy(c.inputs[0].span<float>().begin(), c.inputs[0].span<float>().end(),
            (*plan)->input(0).data);
  (*plan)->forward(false);
  Tensor out(DType::kFloat32, (*plan)->output(0).shape);
  std::copy((*plan)->output(0).span().begin(), (*plan)->output(0).span().end(), out.data<float>());
  expect_near(out, reference_pad(g, c.inputs[0]), 0.0f);
}

INSTANTIATE_TEST_SUITE_P(Configs, PadForward, ::testing::Range<size_t>(0, std::size(kConfigs)));

class PadBackward : public ::testing::TestWithParam<size_t> {};

TEST_P(PadBackward, MatchesFiniteDifferences) {
  const PadConfig& g = kConfigs[GetParam()];
  expect_gradients_match_fd(make_case(g, 600 + GetParam()), 1e-2, 1e-3, true);
}

INSTANTIATE_TEST_SUITE_P(Configs, PadBackward, ::testing::Range<size_t>(0, std::size(kConfigs)));

// The examples of the ONNX Pad documentation.
TEST(Pad, OnnxExamples) {
  const Tensor data = Tensor::from_vector<float>({3, 2}, {1.0f, 1.2f, 2.3f, 3.4f, 4.5f, 5.7f});
  auto run = [&](const std::string& mode) {
    OpCase c;
    c.node.name = "pad";
    c.node.op_type = "Pad";
    c.node.inputs = {"data", "pads", "value"};
    c.node.outputs = {"output"};
    c.node.attributes["mode"] = Attribute::of_string(mode);
    c.inputs = {data, Tensor::from_vector<int64_t>({4}, {0, 2, 0, 0}), Tensor::scalar(0.0f)};
    return run_op(c)[0];
  };
  expect_near(run("constant"), Tensor::from_vector<float>(
                                   {3, 4}, {0, 0, 1.0f, 1.2f, 0, 0, 2.3f, 3.4f, 0, 0, 4.5f, 5.7f}));
  expect_near(run("reflect"),
              Tensor::from_vector<float>({3, 4}, {1.0f, 1.2f, 1.0f, 1.2f, 2.3f, 3.4f, 2.3f, 3.4f,
                                                  4.5f, 5.7f, 4.5f, 5.7f}));
  expect_near(run("edge"),
              Tensor::from_vector<float>({3, 4}, {1.0f, 1.0f, 1.0f, 1.2f, 2.3f, 2.3f, 2.3f, 3.4f,
                                                  4.5f, 4.5f, 4.5f, 5.7f}));
}

// Opset 2 spelled pads and value as attributes.
TEST(Pad, Opset2Attributes) {
  OpCase c;
  c.node.name = "pad";
  c.node.op_type = "Pad";
  c.node.inputs = {"data"};
  c.node.outputs = {"output"};
  c.node.attributes["pads"] = Attribute::of_ints({1, 0, 0, 1});
  c.node.attributes["value"] = Attribute::of_float(9.0f);
  c.inputs = {Tensor::from_vector<float>({1, 2}, {1.0f, 2.0f})};
  expect_near(run_op(c)[0], Tensor::from_vector<float>({2, 3}, {9, 9, 9, 1, 2, 9}));
}

Status compile_status(const OpCase& c) {
  Model model = make_single_op_model(c);
  return engine::Plan::compile(model, engine::PlanOptions{}).status();
}

TEST(Pad, RejectsBadInput) {
  OpCase c = make_case({{2, 3}, {1, 1, 1, 1}}, 1);
  c.node.attributes["mode"] = Attribute::of_string("symmetric");
  Status s = compile_status(c);
  EXPECT_EQ(s.code(), ErrorCode::kUnsupported);
  EXPECT_NE(s.message().find("node 'pad1' (Pad)"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("reflect"), std::string::npos) << s.message();

  s = compile_status(make_case({{2, 3}, {1, 1, 1}}, 1));
  EXPECT_EQ(s.code(), ErrorCode::kInvalidArgument);
  EXPECT_NE(s.message().find("must have 4 values"), std::string::npos) << s.message();

  s = compile_status(make_case({{2, 3}, {0, -2, 0, -1}}, 1));
  EXPECT_NE(s.message().find("empty"), std::string::npos) << s.message();

  OpCase runtime_pads = make_case({{2, 3}, {1, 1, 1, 1}}, 1);
  runtime_pads.inputs[1] = random_tensor({4}, 2);  // float: a runtime input, not a constant
  s = compile_status(runtime_pads);
  EXPECT_EQ(s.code(), ErrorCode::kUnsupported);
  EXPECT_NE(s.message().find("pads must be a constant"), std::string::npos) << s.message();
}

}  // namespace
}  // namespace retort::testing
