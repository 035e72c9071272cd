// Conv: forward against a direct loop (1-D/2-D/3-D, strides, pads, dilations, groups,
// depthwise, auto_pad), backward against finite differences, and attribute/shape errors.
//
// Layout note: one Conv through engine::Plan at batch 128, forward_training + backward
// (data and weights; no data gradient for the first layer), medians of 30 steps, 1 OpenMP
// thread on the shared 2-core box (load average about 12, so absolute times are inflated;
// the two variants ran interleaved):
//   conv 1->32 3x3 on 28x28:  format_tag::any + edge reorders  9-12 ms, plain nchw/oihw 17-19 ms
//   conv 32->64 3x3 on 13x13: format_tag::any + edge reorders 35 ms,    plain nchw/oihw 54-56 ms
// With plain layouts oneDNN falls back to gemm (im2col) convolutions; with `any` it picks the
// AVX-512 direct kernels (nChw16c activations) and the edge reorders cost far less than that
// gains, so conv.cpp uses `any`.

#include <gtest/gtest.h>

#include <map>
#include <string>

#include "engine/op_check.h"
#include "retort/engine/plan.h"

namespace retort::testing {
namespace {

struct ConvConfig {
  Shape x;       // N, C, spatial...
  int64_t maps;  // M
  std::vector<int64_t> kernel, strides, pads, dilations;
  int64_t group = 1;
  bool bias = true;
  std::string auto_pad = "NOTSET";
  bool kernel_shape_attr = false;
};

Node conv_node(const ConvConfig& g) {
  Node n;
  n.name = "conv1";
  n.op_type = "Conv";
  n.inputs = {"X", "W"};
  if (g.bias) n.inputs.push_back("B");
  n.outputs = {"Y"};
  if (!g.strides.empty()) n.attributes["strides"] = Attribute::of_ints(g.strides);
  if (!g.pads.empty()) n.attributes["pads"] = Attribute::of_ints(g.pads);
  if (!g.dilations.empty()) n.attributes["dilations"] = Attribute::of_ints(g.dilations);
  if (g.group != 1) n.attributes["group"] = Attribute::of_int(g.group);
  if (g.auto_pad != "NOTSET") n.attributes["auto_pad"] = Attribute::of_string(g.auto_pad);
  if (g.kernel_shape_attr) n.attributes["kernel_shape"] = Attribute::of_ints(g.kernel);
  return n;
}

OpCase make_case(const ConvConfig& g, uint64_t seed) {
  OpCase c{conv_node(g), {}};
  Shape w{g.maps, g.x[1] / g.group};
  w.insert(w.end(), g.kernel.begin(), g.kernel.end());
  c.inputs.push_back(random_tensor(g.x, seed));
  c.inputs.push_back(random_tensor(w, seed + 1));
  if (g.bias) c.inputs.push_back(random_tensor({g.maps}, seed + 2));
  return c;
}

// Direct convolution in double. Spatial dims are padded to 3 (leading size-1 dims) so one
// loop nest covers 1-D, 2-D and 3-D. Padding follows auto_pad as the ONNX spec words it.
Tensor reference_conv(const ConvConfig& g, const Tensor& x, const Tensor& w, const Tensor* b) {
  const size_t sp = g.x.size() - 2, lead = 3 - sp;
  int64_t in[3] = {1, 1, 1}, k[3] = {1, 1, 1}, s[3] = {1, 1, 1}, d[3] = {1, 1, 1};
  int64_t pb[3] = {0, 0, 0}, out[3] = {1, 1, 1};
  for (size_t i = 0; i < sp; ++i) {
    in[lead + i] = g.x[2 + i];
    k[lead + i] = g.kernel[i];
    s[lead + i] = g.strides.empty() ? 1 : g.strides[i];
    d[lead + i] = g.dilations.empty() ? 1 : g.dilations[i];
    const int64_t extent = (k[lead + i] - 1) * d[lead + i] + 1;
    int64_t p0 = g.pads.empty() ? 0 : g.pads[i], p1 = g.pads.empty() ? 0 : g.pads[sp + i];
    if (g.auto_pad == "VALID") p0 = p1 = 0;
    if (g.auto_pad == "SAME_UPPER" || g.auto_pad == "SAME_LOWER") {
      const int64_t o = (in[lead + i] + s[lead + i] - 1) / s[lead + i];
      const int64_t total = std::max<int64_t>(0, (o - 1) * s[lead + i] + extent - in[lead + i]);
      p0 = g.auto_pad == "SAME_UPPER" ? total / 2 : total - total / 2;
      p1 = total - p0;
    }
    pb[lead + i] = p0;
    out[lead + i] = (in[lead + i] + p0 + p1 - extent) / s[lead + i] + 1;
  }
  const int64_t n_batch = g.x[0], channels = g.x[1], cg = channels / g.group;
  const int64_t mg = g.maps / g.group;
  Shape y_shape{n_batch, g.maps};
  for (size_t i = 0; i < sp; ++i) y_shape.push_back(out[lead + i]);
  Tensor y(DType::kFloat32, y_shape);
  const float* xp = x.data<float>();
  const float* wp = w.data<float>();
  float* yp = y.data<float>();
  for (int64_t n = 0; n < n_batch; ++n)
    for (int64_t m = 0; m < g.maps; ++m)
      for (int64_t o0 = 0; o0 < out[0]; ++o0)
        for (int64_t o1 = 0; o1 < out[1]; ++o1)
          for (int64_t o2 = 0; o2 < out[2]; ++o2) {
            double sum = b ? b->data<float>()[m] : 0.0;
            const int64_t grp = m / mg;
            for (int64_t c = 0; c < cg; ++c)
              for (int64_t k0 = 0; k0 < k[0]; ++k0)
                for (int64_t k1 = 0; k1 < k[1]; ++k1)
                  for (int64_t k2 = 0; k2 < k[2]; ++k2) {
                    const int64_t i0 = o0 * s[0] - pb[0] + k0 * d[0];
                    const int64_t i1 = o1 * s[1] - pb[1] + k1 * d[1];
                    const int64_t i2 = o2 * s[2] - pb[2] + k2 * d[2];
                    if (i0 < 0 || i0 >= in[0] || i1 < 0 || i1 >= in[1] || i2 < 0 || i2 >= in[2])
                      continue;
                    const int64_t xc = grp * cg + c;
                    const float xv =
                        xp[(((n * channels + xc) * in[0] + i0) * in[1] + i1) * in[2] + i2];
                    const float wv = wp[(((m * cg + c) * k[0] + k0) * k[1] + k1) * k[2] + k2];
                    sum += static_cast<double>(xv) * wv;
                  }
            yp[(((n * g.maps + m) * out[0] + o0) * out[1] + o1) * out[2] + o2] =
                static_cast<float>(sum);
          }
  return y;
}

const ConvConfig kConfigs[] = {
    // plain 3x3
    {{2, 3, 7, 9}, 4, {3, 3}, {}, {}, {}},
    // strides, asymmetric pads, groups, non-square kernel, odd sizes
    {{3, 4, 10, 11}, 6, {3, 2}, {2, 3}, {1, 0, 2, 1}, {}, 2},
    // depthwise, no bias
    {{2, 5, 9, 8}, 5, {3, 3}, {}, {1, 1, 1, 1}, {}, 5, false},
    // depthwise with channel multiplier 2
    {{1, 3, 6, 7}, 6, {3, 3}, {2, 1}, {1, 1, 1, 1}, {}, 3},
    // dilation
    {{2, 2, 11, 13}, 3, {3, 3}, {}, {2, 2, 2, 2}, {2, 2}},
    // dilation + stride + pads, kernel_shape given
    {{1, 3, 12, 10}, 2, {3, 2}, {2, 2}, {1, 2, 0, 1}, {2, 3}, 1, true, "NOTSET", true},
    // auto_pad
    {{2, 3, 7, 7}, 4, {4, 4}, {2, 2}, {}, {}, 1, true, "SAME_UPPER"},
    {{2, 3, 7, 7}, 4, {4, 4}, {2, 2}, {}, {}, 1, true, "SAME_LOWER"},
    {{2, 3, 8, 9}, 4, {3, 2}, {2, 2}, {}, {}, 1, true, "VALID"},
    {{1, 2, 5, 5}, 2, {3, 3}, {}, {}, {2, 2}, 1, true, "SAME_UPPER"},
    // 1x1 and a single pixel channel/map
    {{3, 5, 4, 6}, 7, {1, 1}, {}, {}, {}},
    {{1, 1, 5, 5}, 1, {2, 2}, {}, {}, {}},
    // 1-D and 3-D
    {{2, 3, 17}, 4, {5}, {2}, {2, 1}, {2}},
    {{1, 2, 5, 6, 7}, 3, {2, 3, 3}, {1, 2, 1}, {0, 1, 1, 1, 0, 1}, {}},
    {{2, 4, 4, 5, 3}, 4, {3, 3, 1}, {}, {1, 1, 0, 1, 1, 0}, {}, 2},
    // Few input channels on a larger map: backward-weights picks another source layout than
    // forward, so it reads its own reordered copy (once left unfilled: zero weight gradients).
    {{2, 4, 28, 28}, 4, {3, 3}, {}, {1, 1, 1, 1}, {}},
};

class ConvForward : public ::testing::TestWithParam<size_t> {};

TEST_P(ConvForward, MatchesDirectLoop) {
  const ConvConfig& g = kConfigs[GetParam()];
  OpCase c = make_case(g, 100 + GetParam());
  std::vector<Tensor> out = run_op(c);
  ASSERT_EQ(out.size(), 1u);
  Tensor expected = reference_conv(g, c.inputs[0], c.inputs[1], g.bias ? &c.inputs[2] : nullptr);
  expect_near(out[0], expected, 1e-4f);
  // Training forward gives the same values.
  expect_near(run_op(c, true)[0], expected, 1e-4f);
}

INSTANTIATE_TEST_SUITE_P(Configs, ConvForward, ::testing::Range<size_t>(0, std::size(kConfigs)));

class ConvBackward : public ::testing::TestWithParam<size_t> {};

TEST_P(ConvBackward, MatchesFiniteDifferences) {
  ConvConfig g = kConfigs[GetParam()];
  if (shape_numel(g.x) > 600) g.x[0] = 1;  // keeps finite differences quick
  expect_gradients_match_fd(make_case(g, 200 + GetParam()), 1e-2, 1e-2, true);
}

INSTANTIATE_TEST_SUITE_P(Configs, ConvBackward, ::testing::Range<size_t>(0, std::size(kConfigs)));

// A conv whose weights are initializers: the usual case, with grads for W and B through
// Plan::parameters().
TEST(Conv, ParameterGradientsThroughPlan) {
  const ConvConfig g{{2, 3, 6, 6}, 4, {3, 3}, {}, {1, 1, 1, 1}, {}};
  OpCase c = make_case(g, 7);
  Model model = make_single_op_model(c);
  // Move W and B to initializers.
  model.graph.initializers["W"] = c.inputs[1];
  model.graph.initializers["B"] = c.inputs[2];
  model.graph.inputs.resize(1);
  engine::PlanOptions options;
  options.backward = true;
  auto plan = engine::Plan::compile(model, options);
  ASSERT_TRUE(plan.ok()) << plan.status().message();
  std::copy(c.inputs[0].span<float>().begin(), c.inputs[0].span<float>().end(),
            (*plan)->input(0).data);
  (*plan)->forward(true);
  engine::View dy = (*plan)->output_grad(0);
  std::fill(dy.data, dy.data + dy.numel(), 1.0f);
  (*plan)->backward();
  ASSERT_EQ((*plan)->parameters().size(), 2u);
  for (const engine::Parameter& p : (*plan)->parameters()) {
    if (p.name != "B") continue;
    // dL/dB = number of output pixels per map when dy == 1.
    for (float v : p.grad.span()) EXPECT_NEAR(v, 2 * 6 * 6, 1e-3);
  }
  // Repeated steps give the same result (no stale state between steps).
  std::vector<float> first((*plan)->parameters()[0].grad.span().begin(),
                           (*plan)->parameters()[0].grad.span().end());
  (*plan)->forward(true);
  std::fill(dy.data, dy.data + dy.numel(), 1.0f);
  (*plan)->backward();
  for (size_t i = 0; i < first.size(); ++i)
    EXPECT_FLOAT_EQ((*plan)->parameters()[0].grad.data[i], first[i]);
}

// Gradients of a subset: frozen weights with an input gradient (a teacher feeding a
// distillation loss), or only the bias trainable. Each must equal the full computation.
TEST(Conv, PartialGradientsMatchFullOnes) {
  const ConvConfig g{{2, 4, 7, 6}, 6, {3, 3}, {2, 1}, {1, 0, 1, 1}, {}, 2};
  OpCase c = make_case(g, 9);
  Tensor dy = random_tensor({2, 6, 4, 5}, 10);  // the output shape
  auto gradients = [&](const engine::PlanOptions& options) {
    Model model = make_single_op_model(c);
    model.graph.initializers["W"] = c.inputs[1];
    model.graph.initializers["B"] = c.inputs[2];
    model.graph.inputs.resize(1);
    auto plan = engine::Plan::compile(model, options);
    EXPECT_TRUE(plan.ok()) << plan.status().message();
    std::map<std::string, std::vector<float>> grads;
    if (!plan.ok()) return grads;
    std::copy(c.inputs[0].span<float>().begin(), c.inputs[0].span<float>().end(),
              (*plan)->input(0).data);
    (*plan)->forward(true);
    EXPECT_EQ((*plan)->output_grad(0).shape, dy.shape());
    if ((*plan)->output_grad(0).shape != dy.shape()) return grads;
    std::copy(dy.span<float>().begin(), dy.span<float>().end(), (*plan)->output_grad(0).data);
    (*plan)->backward();
    if (auto dx = (*plan)->grad("X"); dx.ok())
      grads["X"].assign(dx->span().begin(), dx->span().end());
    for (const engine::Parameter& p : (*plan)->parameters())
      grads[p.name].assign(p.grad.span().begin(), p.grad.span().end());
    return grads;
  };
  engine::PlanOptions all;
  all.backward = true;
  all.input_grads = true;
  auto full = gradients(all);
  ASSERT_EQ(full.size(), 3u);

  engine::PlanOptions frozen = all;
  frozen.frozen = true;
  auto input_only = gradients(frozen);
  ASSERT_EQ(input_only.size(), 1u);
  EXPECT_EQ(input_only["X"], full["X"]);

  engine::PlanOptions bias_only;
  bias_only.backward = true;
  bias_only.trainable = {"B"};
  auto bias = gradients(bias_only);
  ASSERT_EQ(bias.size(), 1u);
  EXPECT_EQ(bias["B"], full["B"]);
}

Status compile_status(const OpCase& c) {
  Model model = make_single_op_model(c);
  auto plan = engine::Plan::compile(model, engine::PlanOptions{});
  return plan.status();
}

TEST(Conv, RejectsChannelMismatch) {
  OpCase c{conv_node({{1, 4, 5, 5}, 2, {3, 3}, {}, {}, {}, 1, false}), {}};
  c.inputs = {random_tensor({1, 4, 5, 5}, 1), random_tensor({2, 3, 3, 3}, 2)};
  Status s = compile_status(c);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.code(), ErrorCode::kInvalidArgument);
  EXPECT_NE(s.message().find("node 'conv1' (Conv)"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("[2, 3, 3, 3]"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("[1, 4, 5, 5]"), std::string::npos) << s.message();
}

TEST(Conv, RejectsGroupThatDoesNotDivideChannels) {
  ConvConfig g{{1, 4, 5, 5}, 3, {3, 3}, {}, {}, {}, 2, false};
  OpCase c{conv_node(g), {random_tensor({1, 4, 5, 5}, 1), random_tensor({3, 2, 3, 3}, 2)}};
  Status s = compile_status(c);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("group 2"), std::string::npos) << s.message();
}

TEST(Conv, RejectsBadAttributes) {
  ConvConfig g{{1, 2, 5, 5}, 2, {3, 3}, {}, {}, {}, 1, false};
  auto status_with = [&](const std::string& key, Attribute a) {
    OpCase c{conv_node(g), {random_tensor({1, 2, 5, 5}, 1), random_tensor({2, 2, 3, 3}, 2)}};
    c.node.attributes[key] = std::move(a);
    return compile_status(c);
  };
  Status s = status_with("auto_pad", Attribute::of_string("SAME"));
  EXPECT_EQ(s.code(), ErrorCode::kInvalidArgument);
  EXPECT_NE(s.message().find("SAME_UPPER"), std::string::npos) << s.message();
  s = status_with("kernel_shape", Attribute::of_ints({5, 5}));
  EXPECT_NE(s.message().find("kernel_shape"), std::string::npos) << s.message();
  s = status_with("pads", Attribute::of_ints({1, 1}));
  EXPECT_NE(s.message().find("pads"), std::string::npos) << s.message();
  s = status_with("strides", Attribute::of_ints({0, 1}));
  EXPECT_NE(s.message().find("strides"), std::string::npos) << s.message();
  s = status_with("dilations", Attribute::of_ints({3, 3}));  // window 7 > input 5
  EXPECT_NE(s.message().find("larger than the padded input"), std::string::npos) << s.message();
}

TEST(Conv, RejectsBadBiasAndRank) {
  ConvConfig g{{1, 2, 5, 5}, 2, {3, 3}, {}, {}, {}};
  OpCase c = make_case(g, 3);
  c.inputs[2] = random_tensor({3}, 4);
  Status s = compile_status(c);
  EXPECT_NE(s.message().find("bias"), std::string::npos) << s.message();
  OpCase flat{conv_node({{2, 5}, 2, {}, {}, {}, {}, 1, false}),
              {random_tensor({2, 5}, 1), random_tensor({2, 5}, 2)}};
  s = compile_status(flat);
  EXPECT_NE(s.message().find("N x C x D1"), std::string::npos) << s.message();
}

}  // namespace
}  // namespace retort::testing
