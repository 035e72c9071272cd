// MaxPool / AveragePool / GlobalAveragePool: forward against a direct loop (1-D/2-D/3-D, pads,
// strides, dilations, ceil_mode, auto_pad, count_include_pad), ONNX example values, backward
// against finite differences (max pooling on tie-free inputs), unsupported attributes.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <random>
#include <string>

#include "engine/op_check.h"
#include "retort/engine/plan.h"

namespace retort::testing {
namespace {

struct PoolConfig {
  std::string op;  // MaxPool or AveragePool
  Shape x;
  std::vector<int64_t> kernel, strides, pads, dilations;
  int64_t ceil_mode = 0;
  int64_t count_include_pad = 0;
  std::string auto_pad = "NOTSET";
};

Node pool_node(const PoolConfig& g) {
  Node n;
  n.name = "pool1";
  n.op_type = g.op;
  n.inputs = {"X"};
  n.outputs = {"Y"};
  n.attributes["kernel_shape"] = Attribute::of_ints(g.kernel);
  if (!g.strides.empty()) n.attributes["strides"] = Attribute::of_ints(g.strides);
  if (!g.pads.empty()) n.attributes["pads"] = Attribute::of_ints(g.pads);
  if (!g.dilations.empty()) n.attributes["dilations"] = Attribute::of_ints(g.dilations);
  if (g.ceil_mode) n.attributes["ceil_mode"] = Attribute::of_int(1);
  if (g.count_include_pad) n.attributes["count_include_pad"] = Attribute::of_int(1);
  if (g.auto_pad != "NOTSET") n.attributes["auto_pad"] = Attribute::of_string(g.auto_pad);
  return n;
}

// Distinct values 0.01 apart in random order: no ties inside a window, even after a
// finite-difference nudge.
Tensor tie_free_tensor(const Shape& shape, uint64_t seed) {
  Tensor t(DType::kFloat32, shape);
  std::vector<int64_t> order(t.numel());
  std::iota(order.begin(), order.end(), 0);
  std::shuffle(order.begin(), order.end(), std::mt19937_64(seed));
  for (int64_t i = 0; i < t.numel(); ++i)
    t.data<float>()[i] = 0.01f * static_cast<float>(order[i] - t.numel() / 2);
  return t;
}

// Direct pooling in double with the ONNX/PyTorch rules: max ignores padding; average divides
// by the taps inside the input (exclude) or inside input + declared pads (include); ceil_mode
// adds a last window unless it would start in the right padding.
Tensor reference_pool(const PoolConfig& g, const Tensor& x) {
  const size_t sp = g.x.size() - 2, lead = 3 - sp;
  int64_t in[3] = {1, 1, 1}, k[3] = {1, 1, 1}, s[3] = {1, 1, 1}, d[3] = {1, 1, 1};
  int64_t pb[3] = {0, 0, 0}, pe[3] = {0, 0, 0}, out[3] = {1, 1, 1};
  for (size_t i = 0; i < sp; ++i) {
    const size_t j = lead + i;
    in[j] = g.x[2 + i];
    k[j] = g.kernel[i];
    s[j] = g.strides.empty() ? 1 : g.strides[i];
    d[j] = g.dilations.empty() ? 1 : g.dilations[i];
    const int64_t extent = (k[j] - 1) * d[j] + 1;
    pb[j] = g.pads.empty() ? 0 : g.pads[i];
    pe[j] = g.pads.empty() ? 0 : g.pads[sp + i];
    if (g.auto_pad == "VALID") {
      pb[j] = pe[j] = 0;
      out[j] = (in[j] - extent) / s[j] + 1;
    } else if (g.auto_pad == "SAME_UPPER" || g.auto_pad == "SAME_LOWER") {
      out[j] = (in[j] + s[j] - 1) / s[j];
      const int64_t total = std::max<int64_t>(0, (out[j] - 1) * s[j] + extent - in[j]);
      pb[j] = g.auto_pad == "SAME_UPPER" ? total / 2 : total - total / 2;
      pe[j] = total - pb[j];
    } else {
      const double exact = static_cast<double>(in[j] + pb[j] + pe[j] - extent) / s[j];
      out[j] = static_cast<int64_t>(g.ceil_mode ? std::ceil(exact) : std::floor(exact)) + 1;
      if (g.ceil_mode && (out[j] - 1) * s[j] >= in[j] + pb[j]) --out[j];
    }
  }
  Shape y_shape{g.x[0], g.x[1]};
  for (size_t i = 0; i < sp; ++i) y_shape.push_back(out[lead + i]);
  Tensor y(DType::kFloat32, y_shape);
  const int64_t planes = g.x[0] * g.x[1];
  for (int64_t p = 0; p < planes; ++p)
    for (int64_t o0 = 0; o0 < out[0]; ++o0)
      for (int64_t o1 = 0; o1 < out[1]; ++o1)
        for (int64_t o2 = 0; o2 < out[2]; ++o2) {
          double best = -std::numeric_limits<double>::infinity(), sum = 0;
          int64_t inside = 0, inside_pads = 0;
          const int64_t o[3] = {o0, o1, o2};
          for (int64_t k0 = 0; k0 < k[0]; ++k0)
            for (int64_t k1 = 0; k1 < k[1]; ++k1)
              for (int64_t k2 = 0; k2 < k[2]; ++k2) {
                const int64_t t[3] = {k0, k1, k2};
                int64_t i[3];
                bool in_input = true, in_pads = true;
                for (int a = 0; a < 3; ++a) {
                  i[a] = o[a] * s[a] - pb[a] + t[a] * d[a];
                  in_input = in_input && i[a] >= 0 && i[a] < in[a];
                  in_pads = in_pads && i[a] < in[a] + pe[a];
                }
                inside_pads += in_pads ? 1 : 0;
                if (!in_input) continue;
                const double v =
                    x.data<float>()[((p * in[0] + i[0]) * in[1] + i[1]) * in[2] + i[2]];
                best = std::max(best, v);
                sum += v;
                ++inside;
              }
          const double avg = sum / static_cast<double>(g.count_include_pad ? inside_pads : inside);
          y.data<float>()[((p * out[0] + o0) * out[1] + o1) * out[2] + o2] =
              static_cast<float>(g.op == "MaxPool" ? best : avg);
        }
  return y;
}

const PoolConfig kConfigs[] = {
    {"MaxPool", {2, 3, 8, 8}, {2, 2}, {2, 2}, {}, {}},
    {"MaxPool", {2, 3, 7, 9}, {3, 3}, {2, 2}, {1, 1, 1, 1}, {}},
    {"MaxPool", {1, 2, 4, 4}, {3, 3}, {2, 2}, {}, {}, 1},
    {"MaxPool", {2, 2, 9, 10}, {3, 2}, {2, 3}, {1, 0, 0, 1}, {}, 1},
    {"MaxPool", {1, 3, 11, 9}, {3, 3}, {1, 2}, {1, 1, 1, 1}, {2, 2}},
    {"MaxPool", {1, 2, 7, 7}, {3, 3}, {2, 2}, {}, {}, 0, 0, "SAME_UPPER"},
    {"MaxPool", {1, 2, 8, 7}, {2, 3}, {2, 2}, {}, {}, 0, 0, "SAME_LOWER"},
    {"MaxPool", {1, 2, 8, 7}, {3, 2}, {2, 2}, {}, {}, 0, 0, "VALID"},
    {"MaxPool", {2, 3, 13}, {3}, {2}, {1, 1}, {}, 1},
    {"MaxPool", {1, 2, 5, 6, 7}, {2, 2, 3}, {2, 1, 2}, {0, 1, 1, 1, 0, 1}, {}},
    {"AveragePool", {2, 3, 8, 8}, {2, 2}, {2, 2}, {}, {}},
    {"AveragePool", {2, 3, 7, 9}, {3, 3}, {2, 2}, {1, 1, 1, 1}, {}},
    {"AveragePool", {2, 3, 7, 9}, {3, 3}, {2, 2}, {1, 1, 1, 1}, {}, 0, 1},
    {"AveragePool", {1, 2, 4, 4}, {3, 3}, {2, 2}, {}, {}, 1},
    {"AveragePool", {1, 2, 6, 7}, {3, 3}, {2, 2}, {}, {}, 1, 1},  // ceil past the pads
    {"AveragePool", {2, 2, 9, 10}, {3, 2}, {2, 3}, {1, 0, 0, 1}, {}, 1, 1},
    {"AveragePool", {2, 2, 9, 10}, {3, 2}, {2, 3}, {1, 0, 0, 1}, {}, 1, 0},
    {"AveragePool", {1, 2, 7, 7}, {3, 3}, {2, 2}, {}, {}, 0, 0, "SAME_UPPER"},
    {"AveragePool", {1, 2, 7, 7}, {2, 2}, {1, 1}, {}, {}, 0, 0, "SAME_LOWER"},
    {"AveragePool", {1, 2, 8, 7}, {3, 2}, {2, 2}, {}, {}, 0, 0, "VALID"},
    {"AveragePool", {1, 2, 10, 9}, {2, 3}, {1, 2}, {1, 1, 1, 1}, {2, 2}},
    {"AveragePool", {2, 3, 13}, {4}, {3}, {2, 1}, {}, 1, 1},
    {"AveragePool", {1, 2, 5, 6, 7}, {2, 2, 3}, {2, 1, 2}, {0, 1, 1, 1, 0, 1}, {}, 0, 1},
};

OpCase make_case(const PoolConfig& g, uint64_t seed) {
  return OpCase{pool_node(g),
                {g.op == "MaxPool" ? tie_free_tensor(g.x, seed) : random_tensor(g.x, seed)}};
}

class PoolForward : public ::testing::TestWithParam<size_t> {};

TEST_P(PoolForward, MatchesDirectLoop) {
  const PoolConfig& g = kConfigs[GetParam()];
  OpCase c = make_case(g, 300 + GetParam());
  Tensor expected = reference_pool(g, c.inputs[0]);
  std::vector<Tensor> out = run_op(c);
  ASSERT_EQ(out.size(), 1u);
  expect_near(out[0], expected, 1e-5f);
  expect_near(run_op(c, true)[0], expected, 1e-5f);
}

INSTANTIATE_TEST_SUITE_P(Configs, PoolForward, ::testing::Range<size_t>(0, std::size(kConfigs)));

class PoolBackward : public ::testing::TestWithParam<size_t> {};

TEST_P(PoolBackward, MatchesFiniteDifferences) {
  const PoolConfig& g = kConfigs[GetParam()];
  expect_gradients_match_fd(make_case(g, 400 + GetParam()), 1e-3, 1e-2, true);
}

INSTANTIATE_TEST_SUITE_P(Configs, PoolBackward, ::testing::Range<size_t>(0, std::size(kConfigs)));

// The values of ONNX's test_maxpool_2d_ceil / test_averagepool_2d_ceil examples.
TEST(Pooling, OnnxCeilExamples) {
  std::vector<float> v(16);
  std::iota(v.begin(), v.end(), 1.0f);
  Tensor x = Tensor::from_vector<float>({1, 1, 4, 4}, v);
  PoolConfig max{"MaxPool", {1, 1, 4, 4}, {3, 3}, {2, 2}, {}, {}, 1};
  expect_near(run_op({pool_node(max), {x}})[0],
              Tensor::from_vector<float>({1, 1, 2, 2}, {11, 12, 15, 16}));
  PoolConfig avg{"AveragePool", {1, 1, 4, 4}, {3, 3}, {2, 2}, {}, {}, 1};
  expect_near(run_op({pool_node(avg), {x}})[0],
              Tensor::from_vector<float>({1, 1, 2, 2}, {6, 7.5, 12, 13.5}));
}

Node global_node() {
  Node n;
  n.name = "gap";
  n.op_type = "GlobalAveragePool";
  n.inputs = {"X"};
  n.outputs = {"Y"};
  return n;
}

TEST(Pooling, GlobalAveragePool) {
  for (const Shape& shape : {Shape{2, 3, 5, 7}, Shape{3, 4, 9}, Shape{1, 2, 3, 4, 5}}) {
    OpCase c{global_node(), {random_tensor(shape, 11)}};
    const int64_t planes = shape[0] * shape[1], size = shape_numel(shape) / planes;
    Shape y_shape{shape[0], shape[1]};
    y_shape.resize(shape.size(), 1);
    Tensor expected(DType::kFloat32, y_shape);
    for (int64_t p = 0; p < planes; ++p) {
      double sum = 0;
      for (int64_t i = 0; i < size; ++i) sum += c.inputs[0].data<float>()[p * size + i];
      expected.data<float>()[p] = static_cast<float>(sum / size);
    }
    expect_near(run_op(c)[0], expected, 1e-5f);
    expect_gradients_match_fd(c, 1e-3, 1e-2, true);
  }
}

Status compile_status(const OpCase& c) {
  Model model = make_single_op_model(c);
  return engine::Plan::compile(model, engine::PlanOptions{}).status();
}

TEST(Pooling, RejectsUnsupportedMaxPoolOptions) {
  PoolConfig g{"MaxPool", {1, 1, 4, 4}, {2, 2}, {}, {}, {}};
  OpCase c{pool_node(g), {random_tensor(g.x, 1)}};
  c.node.attributes["storage_order"] = Attribute::of_int(1);
  Status s = compile_status(c);
  EXPECT_EQ(s.code(), ErrorCode::kUnsupported);
  EXPECT_NE(s.message().find("node 'pool1' (MaxPool)"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("storage_order"), std::string::npos) << s.message();

  OpCase with_indices{pool_node(g), {random_tensor(g.x, 1)}};
  with_indices.node.outputs.push_back("I");
  s = compile_status(with_indices);
  EXPECT_EQ(s.code(), ErrorCode::kUnsupported);
  EXPECT_NE(s.message().find("Indices"), std::string::npos) << s.message();
}

TEST(Pooling, RejectsBadShapes) {
  PoolConfig g{"AveragePool", {1, 1, 4, 4}, {3}, {}, {}, {}};
  Status s = compile_status({pool_node(g), {random_tensor(g.x, 1)}});
  EXPECT_EQ(s.code(), ErrorCode::kInvalidArgument);
  EXPECT_NE(s.message().find("kernel_shape"), std::string::npos) << s.message();
  PoolConfig big{"MaxPool", {1, 1, 4, 4}, {5, 5}, {}, {}, {}};
  s = compile_status({pool_node(big), {random_tensor(big.x, 1)}});
  EXPECT_NE(s.message().find("larger than the padded input"), std::string::npos) << s.message();
  s = compile_status({global_node(), {random_tensor({4, 5}, 1)}});
  EXPECT_NE(s.message().find("N x C x D1"), std::string::npos) << s.message();
}

}  // namespace
}  // namespace retort::testing
