// QuantizeLinear / DequantizeLinear as fake quantization: forward codes against a loop (round
// half to even, saturation, zero points, per-axis scales, narrowed bit ranges), the clipped
// straight-through gradient, LSQ's scale gradient, the observers, and errors.
#include <gtest/gtest.h>

#include <cmath>
#include <string>

#include <nlohmann/json.hpp>

#include "engine/op_check.h"
#include "retort/engine/plan.h"

namespace retort::testing {
namespace {

Node quant_node(const std::string& op, int64_t axis = 1) {
  Node n;
  n.name = op == "QuantizeLinear" ? "q1" : "dq1";
  n.op_type = op;
  n.inputs = {"x", "scale", "zp"};
  n.outputs = {"y"};
  n.attributes["axis"] = Attribute::of_int(axis);
  return n;
}

template <typename T>
Tensor codes(Shape shape, std::vector<T> v) {
  return Tensor::from_vector<T>(std::move(shape), v);
}

TEST(QuantizeLinear, RoundsHalfToEvenAddsZeroPointAndSaturates) {
  // scale 0.5: x/s = 2.5 -> 2, 3.5 -> 4, -2.5 -> -2; zp 128; saturation at 0 and 255.
  OpCase c{quant_node("QuantizeLinear"),
           {Tensor::from_vector<float>({6}, {1.25f, 1.75f, -1.25f, 0.0f, 500.0f, -500.0f}),
            Tensor::scalar(0.5f), codes<uint8_t>({}, {128})}};
  const Tensor y = run_op(c)[0];
  const std::vector<float> want = {130, 132, 126, 128, 255, 0};
  for (int i = 0; i < 6; ++i) EXPECT_EQ(y.data<float>()[i], want[i]) << i;
}

TEST(QuantizeLinear, Int8PerAxisScalesAndZeroPoints) {
  // x [2, 3] quantized along axis 1 (three channels).
  OpCase c{quant_node("QuantizeLinear", 1),
           {Tensor::from_vector<float>({2, 3}, {1.0f, 1.0f, 1.0f, -3.0f, 100.0f, -100.0f}),
            Tensor::from_vector<float>({3}, {0.5f, 0.25f, 1.0f}), codes<int8_t>({3}, {0, 10, -5})}};
  const Tensor y = run_op(c)[0];
  const std::vector<float> want = {2, 14, -4, -6, 127, -105};
  for (int i = 0; i < 6; ++i) EXPECT_EQ(y.data<float>()[i], want[i]) << i;
}

TEST(QuantizeLinear, MetadataNarrowsTheCodeRangeToFourBits) {
  OpCase c{quant_node("QuantizeLinear"),
           {Tensor::from_vector<float>({4}, {0.3f, 2.0f, -2.0f, -0.8f}), Tensor::scalar(0.1f),
            codes<int8_t>({}, {0})}};
  Model m = make_single_op_model(c);
  m.metadata[kQuantizationKey] = nlohmann::json{{"q1", {{"qmin", -8}, {"qmax", 7}}}}.dump();
  auto plan = engine::Plan::compile(m, {});
  ASSERT_TRUE(plan.ok()) << plan.status().message();
  std::copy(c.inputs[0].span<float>().begin(), c.inputs[0].span<float>().end(),
            (*plan)->value("x")->data);
  (*plan)->value("scale")->data[0] = 0.1f;
  (*plan)->forward(false);
  const engine::View y = (*plan)->output(0);
  EXPECT_EQ(y.data[0], 3);
  EXPECT_EQ(y.data[1], 7);
  EXPECT_EQ(y.data[2], -8);
  EXPECT_EQ(y.data[3], -8);
}

TEST(DequantizeLinear, ConstantInt8CodesPerAxis) {
  // An exported weight: int8 codes [3, 2] with one scale per row (axis 0).
  OpCase c{quant_node("DequantizeLinear", 0),
           {codes<int8_t>({3, 2}, {1, -2, 127, -128, 0, 5}),
            Tensor::from_vector<float>({3}, {0.5f, 0.01f, 2.0f}), codes<int8_t>({3}, {0, 0, 1})}};
  const Tensor y = run_op(c)[0];
  const std::vector<float> want = {0.5f, -1.0f, 1.27f, -1.28f, -2.0f, 8.0f};
  for (int i = 0; i < 6; ++i) EXPECT_FLOAT_EQ(y.data<float>()[i], want[i]) << i;
}

TEST(DequantizeLinear, GradientsOfCodesAndScaleMatchFiniteDifferences) {
  // Codes as float32 values (what QuantizeLinear hands on inside the engine); linear in both.
  OpCase c{
      quant_node("DequantizeLinear", 1),
      {random_tensor({4, 3, 5}, 7, 0.0f, 255.0f),
       Tensor::from_vector<float>({3}, {0.02f, 0.5f, 0.1f}), codes<uint8_t>({3}, {3, 128, 0})}};
  expect_gradients_match_fd(c);
}

// Runs Q then DQ (a fake-quant pair) forward and backward with dy = 1 and the scale trainable.
struct PairResult {
  std::vector<float> y, dx;
  float dscale = 0;
};

PairResult run_pair(const std::vector<float>& x, float scale, uint8_t zp, bool lsq) {
  Model m;
  m.graph.inputs = {ValueInfo{"x", DType::kFloat32, {Dim::fixed(static_cast<int64_t>(x.size()))}}};
  m.graph.outputs = {ValueInfo{"y", DType::kFloat32, {Dim::fixed(static_cast<int64_t>(x.size()))}}};
  m.graph.initializers["s"] = Tensor::scalar(scale);
  m.graph.initializers["zp"] = codes<uint8_t>({}, {zp});
  Node q = quant_node("QuantizeLinear");
  q.inputs = {"x", "s", "zp"};
  q.outputs = {"xq"};
  Node dq = quant_node("DequantizeLinear");
  dq.inputs = {"xq", "s", "zp"};
  dq.outputs = {"y"};
  m.graph.nodes = {q, dq};
  engine::PlanOptions po;
  po.batch = 1;
  po.backward = true;
  po.input_grads = true;
  po.trainable = lsq ? std::vector<std::string>{"s"} : std::vector<std::string>{};
  po.frozen = !lsq;
  auto plan = engine::Plan::compile(m, po);
  EXPECT_TRUE(plan.ok()) << plan.status().message();
  engine::View in = (*plan)->input(0);
  std::copy(x.begin(), x.end(), in.data);
  (*plan)->forward(true);
  engine::View dy = (*plan)->output_grad(0);
  std::fill(dy.data, dy.data + dy.numel(), 1.0f);
  (*plan)->backward();
  PairResult r;
  engine::View y = (*plan)->output(0);
  r.y.assign(y.data, y.data + y.numel());
  engine::View dx = *(*plan)->grad("x");
  r.dx.assign(dx.data, dx.data + dx.numel());
  if (lsq) r.dscale = (*plan)->parameters().at(0).grad.data[0];
  return r;
}

TEST(FakeQuant, StraightThroughInsideTheRangeZeroOutside) {
  // scale 0.1, zp 10: codes cover [-1.0, 24.5]; -2 and 30 saturate.
  const PairResult r = run_pair({0.26f, -0.5f, -2.0f, 30.0f, 24.0f}, 0.1f, 10, false);
  EXPECT_NEAR(r.y[0], 0.3f, 1e-6f);
  EXPECT_NEAR(r.y[1], -0.5f, 1e-6f);
  EXPECT_NEAR(r.y[2], -1.0f, 1e-6f);
  EXPECT_NEAR(r.y[3], 24.5f, 1e-5f);
  const std::vector<float> want = {1, 1, 0, 0, 1};
  for (int i = 0; i < 5; ++i) EXPECT_NEAR(r.dx[i], want[i], 1e-6f) << i;
}

TEST(FakeQuant, LsqScaleGradientIsRoundingErrorInsideAndBoundOutside) {
  // d y / d s = round(x/s) - x/s inside; (qmin - zp) or (qmax - zp) outside (Esser et al.).
  const std::vector<float> x = {0.26f, -0.5f, -2.0f, 30.0f};
  const float s = 0.1f;
  const PairResult r = run_pair(x, s, 10, true);
  const double want = (3.0 - 2.6) + (-5.0 - -5.0) + (0.0 - 10.0) + (255.0 - 10.0);
  EXPECT_NEAR(r.dscale, want, 1e-3);
}

TEST(QuantizeLinear, EmaObserverMovesFromTheCalibratedRangeAndFreezes) {
  OpCase c{quant_node("QuantizeLinear"),
           {Tensor::from_vector<float>({4}, {-1.0f, 0.0f, 2.0f, 3.0f}), Tensor::scalar(0.02f),
            codes<uint8_t>({}, {0})}};
  Model m = make_single_op_model(c);
  m.metadata[kQuantizationKey] =
      nlohmann::json{{"q1", {{"observer", "ema"}, {"momentum", 0.5}, {"freeze_step", 2}}}}.dump();
  auto plan = engine::Plan::compile(m, {});
  ASSERT_TRUE(plan.ok()) << plan.status().message();
  engine::View x = *(*plan)->value("x"), scale = *(*plan)->value("scale");
  std::copy(c.inputs[0].span<float>().begin(), c.inputs[0].span<float>().end(), x.data);
  scale.data[0] = 0.02f;  // the calibrated range [0, 5.1] (graph inputs start at zero)
  const auto expect_range = [&](float lo, float hi) {
    const float s = (hi - lo) / 255.0f;
    EXPECT_FLOAT_EQ(scale.data[0], s);
    EXPECT_EQ(m.graph.initializers.at("zp").data<uint8_t>()[0],
              static_cast<int>(std::nearbyint(-lo / s)));
  };
  // Step 1 moves halfway to the batch range [-1, 3]: [-0.5, 4.05].
  (*plan)->forward(true);
  expect_range(-0.5f, 4.05f);
  // Step 2 moves halfway to [-3, 9]: [-1.75, 6.525].
  for (int i = 0; i < 4; ++i) x.data[i] *= 3.0f;
  (*plan)->forward(true);
  expect_range(-1.75f, 6.525f);
  EXPECT_EQ((*plan)->output(0).data[3], 255);  // 9 saturates
  // Frozen after two steps; inference forwards never observe.
  for (int i = 0; i < 4; ++i) x.data[i] *= 10.0f;
  (*plan)->forward(true);
  (*plan)->forward(false);
  expect_range(-1.75f, 6.525f);
}

TEST(QuantizeLinear, PerChannelMinMaxObserverIsSymmetric) {
  OpCase c{quant_node("QuantizeLinear", 0),
           {Tensor::from_vector<float>({2, 3}, {0.5f, -2.54f, 1.0f, 0.1f, 0.2f, -0.3f}),
            Tensor::from_vector<float>({2}, {1.0f, 1.0f}), codes<int8_t>({2}, {0, 0})}};
  Model m = make_single_op_model(c);
  m.metadata[kQuantizationKey] =
      nlohmann::json{{"q1", {{"observer", "minmax"}, {"symmetric", true}}}}.dump();
  auto plan = engine::Plan::compile(m, {});
  ASSERT_TRUE(plan.ok()) << plan.status().message();
  std::copy(c.inputs[0].span<float>().begin(), c.inputs[0].span<float>().end(),
            (*plan)->value("x")->data);
  (*plan)->forward(true);
  engine::View scale = *(*plan)->value("scale");
  EXPECT_FLOAT_EQ(scale.data[0], 2.54f / 127.0f);
  EXPECT_FLOAT_EQ(scale.data[1], 0.3f / 127.0f);
  EXPECT_EQ((*plan)->output(0).data[1], -127);
}

TEST(QuantizeLinear, ErrorsNameTheNodeAndTheProblem) {
  OpCase bad_axis{quant_node("QuantizeLinear", 0),
                  {random_tensor({2, 3}, 1), Tensor::from_vector<float>({3}, {1, 1, 1}),
                   codes<uint8_t>({3}, {0, 0, 0})}};
  Model bad_model = make_single_op_model(bad_axis);
  auto plan = engine::Plan::compile(bad_model, {});
  ASSERT_FALSE(plan.ok());
  EXPECT_NE(plan.status().message().find("node 'q1' (QuantizeLinear)"), std::string::npos);
  EXPECT_NE(plan.status().message().find("3 entries but input [2, 3] has 2 along axis 0"),
            std::string::npos)
      << plan.status().message();

  OpCase c{quant_node("QuantizeLinear"),
           {random_tensor({4}, 1), Tensor::scalar(1.0f), codes<int8_t>({}, {0})}};
  Model m = make_single_op_model(c);
  m.metadata[kQuantizationKey] = nlohmann::json{{"q1", {{"qmin", -200}, {"qmax", 7}}}}.dump();
  auto narrow = engine::Plan::compile(m, {});
  ASSERT_FALSE(narrow.ok());
  EXPECT_NE(narrow.status().message().find("outside the zero point type's [-128, 127]"),
            std::string::npos)
      << narrow.status().message();
}

}  // namespace
}  // namespace retort::testing
