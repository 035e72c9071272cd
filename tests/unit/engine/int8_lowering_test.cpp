// PlanOptions::lower_int8: hand-built QDQ graphs run once on the int8 regions and once on the
// float32 simulation of QuantizeLinear/DequantizeLinear (lower_int8 = false), which is the
// reference.
//
// What bound is honest. Both paths compute the same real numbers from the same codes: the
// int8 path accumulates exactly in s32 and rounds once when it requantizes; the float path
// accumulates dequantized values in f32 (error about K * 2^-24 relative). So:
//  - a requantized output can only differ where the real value lies within that f32 error of
//    a rounding boundary: at most one code (one step of the output scale), and rarely;
//  - a float output computed directly from quantized inputs agrees to f32 rounding;
//  - after several layers a one-code flip feeds the next layer, which moves its real value by
//    s_x * |w| and can flip its rounding too; the final float output then differs by at most
//    s_in * max_n sum_k |w[n, k]| (every input of the last layer off by one code, a loose but
//    rigorous bound given the quantized input is within one code), and in practice almost all
//    outputs agree to f32 rounding. The CNN tests check both.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <string>
#include <vector>

#include "engine/op_check.h"
#include "retort/engine/plan.h"
#include "support/test_support.h"

namespace retort::testing {
namespace {

using engine::Plan;
using engine::PlanOptions;
using test_support::contains;

enum class WeightForm { kExport, kQat };

// Builds QDQ graphs with fixed shapes (the batch is part of the input shape).
class QdqGraph {
 public:
  explicit QdqGraph(uint64_t seed) : seed_(seed) {}

  std::string input(const std::string& name, const Shape& shape) {
    ValueInfo v{name, DType::kFloat32, {}};
    for (int64_t d : shape) v.dims.push_back(Dim::fixed(d));
    model.graph.inputs.push_back(v);
    shapes_[name] = shape;
    return name;
  }
  void output(const std::string& value) {
    model.graph.outputs.push_back(ValueInfo{value, DType::kFloat32, {}});
  }

  // QuantizeLinear -> DequantizeLinear on a per-tensor grid; returns the dequantized value.
  std::string qdq(const std::string& x, float scale, int zp, bool is_signed = false) {
    const std::string s = x + ".s", z = x + ".zp";
    model.graph.initializers[s] = Tensor::scalar(scale);
    model.graph.initializers[z] =
        is_signed ? Tensor::from_vector<int8_t>({}, {static_cast<int8_t>(zp)})
                  : Tensor::from_vector<uint8_t>({}, {static_cast<uint8_t>(zp)});
    add("q_" + x, "QuantizeLinear", {x, s, z}, x + "_q");
    add("dq_" + x, "DequantizeLinear", {x + "_q", s, z}, x + "_dq");
    shapes_[x + "_q"] = shapes_[x + "_dq"] = shapes_[x];
    return x + "_dq";
  }

  // Random weights quantized symmetric int8 along `out_axis` (or per tensor), as an int8
  // initializer + DequantizeLinear (export) or float initializer + QDQ (QAT).
  std::string weight(const std::string& name, const Shape& shape, int out_axis, bool per_channel,
                     WeightForm form) {
    Tensor w = random_tensor(shape, seed_++, -0.5f, 0.5f);
    const int64_t channels = shape[out_axis];
    const int64_t rows = shape[0], cols = w.numel() / rows;
    std::vector<float> amax(per_channel ? channels : 1, 0.0f);
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t c = 0; c < cols; ++c) {
        const int64_t ch = per_channel ? (out_axis == 0 ? r : c) : 0;
        amax[ch] = std::max(amax[ch], std::fabs(w.data<float>()[r * cols + c]));
      }
    std::vector<float> scales;
    for (float a : amax) scales.push_back(a / 127.0f);
    const std::string s = name + ".ws", z = name + ".wzp";
    Shape sshape = per_channel ? Shape{channels} : Shape{};
    model.graph.initializers[s] = Tensor::from_vector<float>(sshape, scales);
    model.graph.initializers[z] =
        Tensor::from_vector<int8_t>(sshape, std::vector<int8_t>(scales.size(), 0));
    Node dq;
    dq.name = "dq_" + name;
    dq.op_type = "DequantizeLinear";
    dq.outputs = {name + "_dq"};
    if (per_channel) dq.attributes["axis"] = Attribute::of_int(out_axis);
    if (form == WeightForm::kExport) {
      Tensor codes(DType::kInt8, shape);
      for (int64_t r = 0; r < rows; ++r)
        for (int64_t c = 0; c < cols; ++c) {
          const int64_t ch = per_channel ? (out_axis == 0 ? r : c) : 0;
          const float v = std::nearbyint(w.data<float>()[r * cols + c] / scales[ch]);
          codes.data<int8_t>()[r * cols + c] = static_cast<int8_t>(std::clamp(v, -128.0f, 127.0f));
        }
      model.graph.initializers[name] = codes;
      dq.inputs = {name, s, z};
    } else {
      model.graph.initializers[name] = w;
      Node q = dq;
      q.name = "q_" + name;
      q.op_type = "QuantizeLinear";
      q.inputs = {name, s, z};
      q.outputs = {name + "_q"};
      model.graph.nodes.push_back(q);
      dq.inputs = {name + "_q", s, z};
    }
    model.graph.nodes.push_back(dq);
    return name + "_dq";
  }

  std::string conv(const std::string& name, const std::string& x, const std::string& w,
                   int64_t maps, int64_t k, int64_t stride, int64_t pad, int64_t group,
                   bool bias = true) {
    std::vector<std::string> in{x, w};
    if (bias) in.push_back(bias_init(name, maps));
    Node& n = add(name, "Conv", in, name);
    n.attributes["strides"] = Attribute::of_ints({stride, stride});
    n.attributes["pads"] = Attribute::of_ints({pad, pad, pad, pad});
    if (group != 1) n.attributes["group"] = Attribute::of_int(group);
    const Shape& xs = shapes_[x];
    const int64_t oh = (xs[2] + 2 * pad - k) / stride + 1, ow = (xs[3] + 2 * pad - k) / stride + 1;
    shapes_[name] = {xs[0], maps, oh, ow};
    return name;
  }
  std::string gemm(const std::string& name, const std::string& x, const std::string& w,
                   int64_t n_out, bool trans_b, bool bias = true) {
    std::vector<std::string> in{x, w};
    if (bias) in.push_back(bias_init(name, n_out));
    Node& n = add(name, "Gemm", in, name);
    if (trans_b) n.attributes["transB"] = Attribute::of_int(1);
    shapes_[name] = {shapes_[x][0], n_out};
    return name;
  }
  std::string matmul_add(const std::string& name, const std::string& x, const std::string& w,
                         int64_t n_out) {
    add(name, "MatMul", {x, w}, name + "_mm");
    add(name + "_add", "Add", {name + "_mm", bias_init(name, n_out)}, name);
    shapes_[name] = {shapes_[x][0], n_out};
    return name;
  }
  std::string relu(const std::string& x) {
    add(x + "_relu", "Relu", {x}, x + "_relu");
    shapes_[x + "_relu"] = shapes_[x];
    return x + "_relu";
  }
  std::string max_pool(const std::string& name, const std::string& x, int64_t k) {
    Node& n = add(name, "MaxPool", {x}, name);
    n.attributes["kernel_shape"] = Attribute::of_ints({k, k});
    n.attributes["strides"] = Attribute::of_ints({k, k});
    const Shape& xs = shapes_[x];
    shapes_[name] = {xs[0], xs[1], xs[2] / k, xs[3] / k};
    return name;
  }
  std::string flatten(const std::string& name, const std::string& x) {
    add(name, "Flatten", {x}, name);
    const Shape& xs = shapes_[x];
    shapes_[name] = {xs[0], shape_numel(xs) / xs[0]};
    return name;
  }

  Model model;

 private:
  Node& add(const std::string& name, const std::string& op, std::vector<std::string> inputs,
            const std::string& output) {
    Node n;
    n.name = name;
    n.op_type = op;
    n.inputs = std::move(inputs);
    n.outputs = {output};
    model.graph.nodes.push_back(std::move(n));
    return model.graph.nodes.back();
  }
  std::string bias_init(const std::string& name, int64_t n) {
    model.graph.initializers[name + ".bias"] = random_tensor({n}, seed_++, -0.2f, 0.2f);
    return name + ".bias";
  }

  uint64_t seed_;
  std::map<std::string, Shape> shapes_;
};

struct Result {
  std::unique_ptr<Plan> plan;
  std::vector<Tensor> outputs;
};

// Compiles `model` (int8 or float simulation), feeds `x` to input 0, returns output copies.
Result run(Model& model, const Tensor& x, bool int8) {
  PlanOptions o;
  o.lower_int8 = int8;
  auto plan = Plan::compile(model, o);
  EXPECT_TRUE(plan.ok()) << plan.status().message();
  if (!plan.ok()) return {};
  Result r{std::move(*plan), {}};
  std::copy(x.span<float>().begin(), x.span<float>().end(), r.plan->input(0).data);
  r.plan->forward(false);
  for (size_t i = 0; i < model.graph.outputs.size(); ++i) {
    engine::View v = r.plan->output(i);
    r.outputs.push_back(Tensor::from_vector<float>(v.shape, {v.data, v.data + v.numel()}));
  }
  return r;
}

struct Diff {
  float max_abs = 0;
  int64_t over = 0;  // elements with |diff| > `exact_tol` * (1 + |ref|)
  int64_t n = 0;
};
Diff compare(const Tensor& got, const Tensor& ref, float exact_tol = 1e-4f) {
  EXPECT_EQ(got.shape(), ref.shape());
  Diff d;
  d.n = ref.numel();
  for (int64_t i = 0; i < std::min(got.numel(), ref.numel()); ++i) {
    const float e = std::fabs(got.data<float>()[i] - ref.data<float>()[i]);
    d.max_abs = std::max(d.max_abs, e);
    if (e > exact_tol * (1.0f + std::fabs(ref.data<float>()[i]))) ++d.over;
  }
  return d;
}

// A requantized (dequantized) output: within one code everywhere, and rarely off at all.
void expect_within_one_step(const Tensor& got, const Tensor& ref, float step) {
  const Diff d = compare(got, ref);
  EXPECT_LE(d.max_abs, step * 1.001f) << "more than one quantization step (" << step << ") off";
  EXPECT_LE(d.over, std::max<int64_t>(2, d.n / 100)) << d.over << " of " << d.n << " differ";
}

TEST(Int8Lowering, GemmReluRequantizedPerChannelWithInputZeroPoint) {
  QdqGraph g(1);
  const std::string x = g.input("x", {64, 37});
  const std::string xd = g.qdq(x, 0.02f, 131);  // nonzero uint8 zero point
  const std::string w = g.weight("fc.w", {23, 37}, 0, true, WeightForm::kExport);
  const std::string y = g.relu(g.gemm("fc", xd, w, 23, true));
  g.output(g.qdq(y, 0.01f, 0));
  const Tensor in = random_tensor({64, 37}, 7, -2.0f, 2.0f);
  Result f = run(g.model, in, false), q = run(g.model, in, true);
  ASSERT_TRUE(q.plan && f.plan);
  expect_within_one_step(q.outputs[0], f.outputs[0], 0.01f);
  const auto& rep = q.plan->int8_lowering();
  EXPECT_EQ(rep.regions, 1);
  for (const char* n : {"fc", "fc_relu", "q_x", "dq_x", "q_fc_relu", "dq_fc_relu", "dq_fc.w"})
    EXPECT_TRUE(rep.is_lowered(n)) << n;
  EXPECT_TRUE(rep.skipped.empty());
  EXPECT_TRUE(f.plan->int8_lowering().lowered.empty());
}

TEST(Int8Lowering, GemmFloatOutputQatPerTensorTransB0) {
  QdqGraph g(2);
  const std::string xd = g.qdq(g.input("x", {32, 50}), 0.015f, 128);
  const std::string w = g.weight("fc.w", {50, 19}, 1, false, WeightForm::kQat);
  g.output(g.gemm("fc", xd, w, 19, false));
  const Tensor in = random_tensor({32, 50}, 8, -1.5f, 1.5f);
  Result f = run(g.model, in, false), q = run(g.model, in, true);
  ASSERT_TRUE(q.plan && f.plan);
  const Diff d = compare(q.outputs[0], f.outputs[0]);
  EXPECT_EQ(d.over, 0) << "max diff " << d.max_abs;  // same codes, f32 rounding only
  EXPECT_TRUE(q.plan->int8_lowering().is_lowered("fc"));
  EXPECT_TRUE(q.plan->int8_lowering().is_lowered("q_fc.w"));  // weights quantized at compile time
}

TEST(Int8Lowering, MatMulAddReluRequantizedPerChannel) {
  QdqGraph g(3);
  const std::string xd = g.qdq(g.input("x", {40, 24}), 0.03f, 0);
  const std::string w = g.weight("mm.w", {24, 17}, 1, true, WeightForm::kExport);
  const std::string y = g.relu(g.matmul_add("mm", xd, w, 17));
  g.output(g.qdq(y, 0.02f, 0));
  const Tensor in = random_tensor({40, 24}, 9, 0.0f, 3.0f);
  Result f = run(g.model, in, false), q = run(g.model, in, true);
  ASSERT_TRUE(q.plan && f.plan);
  expect_within_one_step(q.outputs[0], f.outputs[0], 0.02f);
  EXPECT_TRUE(q.plan->int8_lowering().is_lowered("mm"));
  EXPECT_TRUE(q.plan->int8_lowering().is_lowered("mm_add"));
}

struct ConvCase {
  const char* name;
  int64_t c, h, maps, k, stride, pad, group;
  int zp;
  bool per_channel, is_signed;
  WeightForm form;
};

class Int8Conv : public ::testing::TestWithParam<ConvCase> {};

TEST_P(Int8Conv, MatchesFloatSimulationWithinOneStep) {
  const ConvCase& c = GetParam();
  QdqGraph g(11);
  const std::string xd = g.qdq(g.input("x", {4, c.c, c.h, c.h}), 0.02f, c.zp, c.is_signed);
  const std::string w =
      g.weight("conv.w", {c.maps, c.c / c.group, c.k, c.k}, 0, c.per_channel, c.form);
  const std::string y = g.relu(g.conv("conv", xd, w, c.maps, c.k, c.stride, c.pad, c.group));
  g.output(g.qdq(y, 0.015f, c.is_signed ? -5 : 3, c.is_signed));
  const Tensor in = random_tensor({4, c.c, c.h, c.h}, 21, -1.5f, 2.5f);
  Result f = run(g.model, in, false), q = run(g.model, in, true);
  ASSERT_TRUE(q.plan && f.plan);
  expect_within_one_step(q.outputs[0], f.outputs[0], 0.015f);
  EXPECT_TRUE(q.plan->int8_lowering().is_lowered("conv"));
  EXPECT_TRUE(q.plan->int8_lowering().is_lowered("conv_relu"));
}

INSTANTIATE_TEST_SUITE_P(
    Shapes, Int8Conv,
    ::testing::Values(
        ConvCase{"OddChannelsPadsZp", 3, 9, 5, 3, 1, 1, 1, 131, true, false, WeightForm::kExport},
        ConvCase{"Stride2PerTensor", 4, 11, 6, 3, 2, 1, 1, 0, false, false, WeightForm::kExport},
        ConvCase{"GroupsQat", 6, 8, 9, 3, 1, 1, 3, 17, true, false, WeightForm::kQat},
        ConvCase{"DepthwiseStride2", 8, 10, 8, 3, 2, 1, 8, 100, true, false, WeightForm::kExport},
        ConvCase{"SignedActivations", 5, 7, 7, 3, 1, 1, 1, -20, true, true, WeightForm::kQat},
        ConvCase{"Kernel5NoPad", 2, 12, 3, 5, 1, 0, 1, 200, false, false, WeightForm::kExport}),
    [](const auto& info) { return std::string(info.param.name); });

// ORT's form: DequantizeLinear -> MaxPool -> QuantizeLinear on one grid runs on the u8 codes;
// and the form without a QDQ before the pool (Relu -> MaxPool -> QuantizeLinear), where the
// pool moves past the requantization (max commutes with a monotonic quantization).
TEST(Int8Lowering, MaxPoolOnQuantizedCodes) {
  for (bool ort_form : {true, false}) {
    QdqGraph g(5);
    const std::string xd = g.qdq(g.input("x", {3, 4, 12, 12}), 0.02f, 128);
    const std::string w = g.weight("conv.w", {8, 4, 3, 3}, 0, true, WeightForm::kExport);
    std::string y = g.relu(g.conv("conv", xd, w, 8, 3, 1, 1, 1));
    if (ort_form) y = g.qdq(y, 0.01f, 0);
    const std::string p = g.max_pool("pool", y, 2);
    g.output(g.qdq(p, 0.01f, 0));
    const Tensor in = random_tensor({3, 4, 12, 12}, 22, -2.0f, 2.0f);
    Result f = run(g.model, in, false), q = run(g.model, in, true);
    ASSERT_TRUE(q.plan && f.plan);
    expect_within_one_step(q.outputs[0], f.outputs[0], 0.01f);
    EXPECT_TRUE(q.plan->int8_lowering().is_lowered("pool")) << "ort_form " << ort_form;
    EXPECT_TRUE(q.plan->int8_lowering().is_lowered("q_pool")) << "ort_form " << ort_form;
  }
}

// conv 32 3x3 -> relu -> maxpool 2 -> conv 64 3x3 -> relu -> maxpool 2 -> flatten -> gemm 128
// -> relu -> gemm 10, QDQ before every layer.
struct Cnn {
  explicit Cnn(uint64_t seed) : g(seed) {}
  QdqGraph g;
  float fc2_in_scale = 0.05f;
  std::string fc2_w;
};
void build_cnn(Cnn& m, int64_t batch, bool per_channel, WeightForm form, bool quantized_out) {
  QdqGraph& g = m.g;
  std::string x = g.qdq(g.input("x", {batch, 1, 28, 28}), 0.02f, 128);
  x = g.conv("conv1", x, g.weight("conv1.w", {32, 1, 3, 3}, 0, per_channel, form), 32, 3, 1, 0, 1);
  x = g.qdq(g.relu(x), 0.02f, 0);
  x = g.qdq(g.max_pool("pool1", x, 2), 0.02f, 0);
  x = g.conv("conv2", x, g.weight("conv2.w", {64, 32, 3, 3}, 0, per_channel, form), 64, 3, 1, 0, 1);
  x = g.qdq(g.relu(x), 0.03f, 0);
  x = g.qdq(g.max_pool("pool2", x, 2), 0.03f, 0);
  x = g.qdq(g.flatten("flat", x), 0.03f, 0);
  x = g.gemm("fc1", x, g.weight("fc1.w", {128, 1600}, 0, per_channel, form), 128, true);
  x = g.qdq(g.relu(x), m.fc2_in_scale, 0);
  m.fc2_w = g.weight("fc2.w", {10, 128}, 0, per_channel, form);
  x = g.gemm("fc2", x, m.fc2_w, 10, true);
  g.output(quantized_out ? g.qdq(x, 0.05f, 128) : x);
}

// Loose but rigorous bound of a float output whose input codes are within one code.
float one_code_bound(const Model& model, float in_scale) {
  const Tensor& codes = model.graph.initializers.at("fc2.w");
  const Tensor& ws = model.graph.initializers.at("fc2.w.ws");
  float worst = 0;
  for (int64_t n = 0; n < 10; ++n) {
    float sum = 0;
    const float s = ws.data<float>()[ws.numel() == 1 ? 0 : n];
    for (int64_t k = 0; k < 128; ++k) {
      const float v = codes.dtype() == DType::kInt8 ? codes.data<int8_t>()[n * 128 + k] * s
                                                    : codes.data<float>()[n * 128 + k];
      sum += std::fabs(v);
    }
    worst = std::max(worst, sum);
  }
  return in_scale * worst;
}

TEST(Int8Lowering, CnnMatchesFloatSimulation) {
  for (const auto& [form, per_channel] :
       {std::pair{WeightForm::kExport, true}, std::pair{WeightForm::kQat, false}}) {
    SCOPED_TRACE(std::string(form == WeightForm::kQat ? "QAT" : "export") +
                 (per_channel ? " per-channel" : " per-tensor"));
    Cnn m(31);
    build_cnn(m, 8, per_channel, form, false);
    const Tensor in = random_tensor({8, 1, 28, 28}, 41, -1.0f, 2.0f);
    Result f = run(m.g.model, in, false), q = run(m.g.model, in, true);
    ASSERT_TRUE(q.plan && f.plan);
    const Diff d = compare(q.outputs[0], f.outputs[0]);
    float spread = 0;  // the logits must carry signal, not just the bias
    for (float v : f.outputs[0].span<float>())
      spread = std::max(spread, std::fabs(v - f.outputs[0].data<float>()[0]));
    EXPECT_GT(spread, 0.1f);
    EXPECT_LE(d.max_abs, one_code_bound(m.g.model, m.fc2_in_scale));
    EXPECT_LE(d.over, d.n / 10) << "max diff " << d.max_abs;
    const auto& rep = q.plan->int8_lowering();
    EXPECT_EQ(rep.regions, 1);
    for (const char* n : {"conv1", "pool1", "conv2", "pool2", "flat", "fc1", "fc2"})
      EXPECT_TRUE(rep.is_lowered(n)) << n;
    EXPECT_TRUE(rep.skipped.empty());
  }
}

TEST(Int8Lowering, CnnRequantizedOutputWithinOneStep) {
  Cnn m(32);
  build_cnn(m, 8, true, WeightForm::kExport, true);
  const Tensor in = random_tensor({8, 1, 28, 28}, 42, -1.0f, 2.0f);
  Result f = run(m.g.model, in, false), q = run(m.g.model, in, true);
  ASSERT_TRUE(q.plan && f.plan);
  expect_within_one_step(q.outputs[0], f.outputs[0], 0.05f);
}

// A Conv reading a QDQ activation but float weights stays float, says why, and still computes
// the float result; the quantized tensor it reads is dequantized by nobody else.
TEST(Int8Lowering, ReportsWhatItCannotLower) {
  QdqGraph g(6);
  const std::string xd = g.qdq(g.input("x", {2, 3, 8, 8}), 0.02f, 128);
  g.model.graph.initializers["conv.w"] = random_tensor({4, 3, 3, 3}, 5);
  g.output(g.conv("conv", xd, "conv.w", 4, 3, 1, 1, 1));
  const Tensor in = random_tensor({2, 3, 8, 8}, 23);
  Result f = run(g.model, in, false), q = run(g.model, in, true);
  ASSERT_TRUE(q.plan && f.plan);
  const auto& rep = q.plan->int8_lowering();
  EXPECT_FALSE(rep.is_lowered("conv"));
  ASSERT_EQ(rep.skipped.size(), 1u);
  EXPECT_EQ(rep.skipped[0].op_type, "Conv");
  EXPECT_TRUE(contains(rep.reason("conv"), "weights 'conv.w' are a float32 initializer"));
  EXPECT_EQ(rep.regions, 0);
  EXPECT_EQ(compare(q.outputs[0], f.outputs[0], 1e-6f).over, 0);
}

// A lowered Conv whose quantized output also feeds a float op (a residual Add) and whose
// float input is read elsewhere: the region dequantizes what the float ops need.
TEST(Int8Lowering, DequantizesForFloatConsumers) {
  QdqGraph g(7);
  const std::string xd = g.qdq(g.input("x", {2, 4, 6, 6}), 0.02f, 128);
  const std::string w = g.weight("conv.w", {4, 4, 3, 3}, 0, true, WeightForm::kExport);
  const std::string yd = g.qdq(g.conv("conv", xd, w, 4, 3, 1, 1, 1), 0.02f, 128);
  Node add;
  add.name = "residual";
  add.op_type = "Add";
  add.inputs = {yd, xd};
  add.outputs = {"sum"};
  g.model.graph.nodes.push_back(add);
  g.output("sum");
  const Tensor in = random_tensor({2, 4, 6, 6}, 24);
  Result f = run(g.model, in, false), q = run(g.model, in, true);
  ASSERT_TRUE(q.plan && f.plan);
  expect_within_one_step(q.outputs[0], f.outputs[0], 0.02f);
  EXPECT_TRUE(q.plan->int8_lowering().is_lowered("conv"));
  EXPECT_FALSE(q.plan->int8_lowering().is_lowered("residual"));
}

// Narrowed code ranges from the metadata (4-bit activations, 4-bit QAT weights).
TEST(Int8Lowering, NarrowedRangesFromMetadata) {
  QdqGraph g(8);
  const std::string xd = g.qdq(g.input("x", {16, 30}), 0.1f, 8);
  const std::string w = g.weight("fc.w", {12, 30}, 0, true, WeightForm::kQat);
  const std::string y = g.gemm("fc", xd, w, 12, true);
  g.output(g.qdq(y, 0.05f, 0, true));
  g.model.metadata[kQuantizationKey] =
      R"({"q_x": {"qmin": 0, "qmax": 15}, "q_fc.w": {"qmin": -8, "qmax": 7},
          "q_fc": {"qmin": -8, "qmax": 7}})";
  const Tensor in = random_tensor({16, 30}, 25, -2.0f, 2.0f);
  Result f = run(g.model, in, false), q = run(g.model, in, true);
  ASSERT_TRUE(q.plan && f.plan);
  expect_within_one_step(q.outputs[0], f.outputs[0], 0.05f);
  float lo = 1e9f, hi = -1e9f;
  for (float v : q.outputs[0].span<float>()) lo = std::min(lo, v), hi = std::max(hi, v);
  EXPECT_GE(lo, -8 * 0.05f - 1e-6f);
  EXPECT_LE(hi, 7 * 0.05f + 1e-6f);
}

TEST(Int8Lowering, RefusesTrainingPlans) {
  QdqGraph g(9);
  g.output(g.gemm("fc", g.qdq(g.input("x", {2, 3}), 0.1f, 0),
                  g.weight("fc.w", {2, 3}, 0, true, WeightForm::kExport), 2, true));
  PlanOptions o;
  o.lower_int8 = true;
  o.backward = true;
  auto plan = Plan::compile(g.model, o);
  ASSERT_FALSE(plan.ok());
  EXPECT_TRUE(contains(plan.status().message(), "lower_int8 is for inference plans only"));
}

}  // namespace
}  // namespace retort::testing
