#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <string>

#include "engine/op_check.h"
#include "retort/engine/plan.h"

namespace retort::testing {
namespace {

Node binary_node(const std::string& op) {
  Node n;
  n.name = "bin";
  n.op_type = op;
  n.inputs = {"A", "B"};
  n.outputs = {"Y"};
  return n;
}

// Element of `t` at output index `idx` (right-aligned numpy broadcasting).
float at_broadcast(const Tensor& t, const Shape& out, const std::vector<int64_t>& idx) {
  const size_t shift = out.size() - t.rank();
  int64_t off = 0;
  for (size_t i = 0; i < t.rank(); ++i) off = off * t.dim(i) + (t.dim(i) == 1 ? 0 : idx[i + shift]);
  return t.data<float>()[off];
}

Tensor reference_binary(const Tensor& a, const Tensor& b,
                        const std::function<float(float, float)>& f) {
  const size_t rank = std::max(a.rank(), b.rank());
  Shape out(rank);
  for (size_t i = 0; i < rank; ++i) {
    const int64_t da = i + a.rank() >= rank ? a.dim(i + a.rank() - rank) : 1;
    const int64_t db = i + b.rank() >= rank ? b.dim(i + b.rank() - rank) : 1;
    out[i] = std::max(da, db);
  }
  Tensor y(DType::kFloat32, out);
  std::vector<int64_t> idx(rank, 0);
  for (int64_t flat = 0; flat < y.numel(); ++flat) {
    int64_t rem = flat;
    for (size_t i = rank; i-- > 0;) {
      idx[i] = rem % out[i];
      rem /= out[i];
    }
    y.data<float>()[flat] = f(at_broadcast(a, out, idx), at_broadcast(b, out, idx));
  }
  return y;
}

const std::pair<Shape, Shape> kShapes[] = {
    {{7, 13}, {7, 13}},     {{2, 3, 4}, {4}},       {{2, 3, 4}, {3, 1}},
    {{4}, {2, 3, 4}},       {{3, 1}, {1, 4}},       {{}, {2, 3}},
    {{2, 3}, {}},           {{2, 1, 4}, {3, 1}},    {{1}, {1}},
    {{5, 1, 3}, {1, 4, 1}}, {{2, 3, 4}, {2, 1, 4}}, {{2, 3, 4}, {2, 3, 1}},
    {{1, 3, 1}, {2, 3, 4}},
};

struct OpInfo {
  const char* name;
  std::function<float(float, float)> f;
};

const OpInfo kOps[] = {
    {"Add", [](float x, float y) { return x + y; }},
    {"Sub", [](float x, float y) { return x - y; }},
    {"Mul", [](float x, float y) { return x * y; }},
    {"Div", [](float x, float y) { return x / y; }},
};

OpCase make_case(const std::string& op, const Shape& a, const Shape& b, uint64_t seed) {
  // Divisors stay away from zero so finite differences are meaningful.
  const float lo = op == "Div" ? 0.5f : -1.0f, hi = op == "Div" ? 1.5f : 1.0f;
  return OpCase{binary_node(op), {random_tensor(a, seed), random_tensor(b, seed + 1, lo, hi)}};
}

TEST(BinaryTest, ForwardMatchesReferenceWithBroadcasting) {
  uint64_t seed = 1;
  for (const OpInfo& op : kOps)
    for (const auto& [as, bs] : kShapes) {
      SCOPED_TRACE(std::string(op.name) + " " + shape_to_string(as) + " " + shape_to_string(bs));
      OpCase c = make_case(op.name, as, bs, seed += 2);
      auto out = run_op(c);
      ASSERT_EQ(out.size(), 1u);
      expect_near(out[0], reference_binary(c.inputs[0], c.inputs[1], op.f), 1e-6f);
    }
}

TEST(BinaryTest, GradientsMatchFiniteDifferences) {
  uint64_t seed = 100;
  for (const OpInfo& op : kOps)
    for (const auto& [as, bs] : kShapes) {
      SCOPED_TRACE(std::string(op.name) + " " + shape_to_string(as) + " " + shape_to_string(bs));
      expect_gradients_match_fd(make_case(op.name, as, bs, seed += 2));
    }
}

TEST(BinaryTest, LargeBroadcastUsesParallelPaths) {
  // Big enough for the threaded loops and reductions (bias-like and row-like reductions).
  for (const OpInfo& op : kOps) {
    for (const auto& [as, bs] :
         {std::pair<Shape, Shape>{{256, 300}, {300}}, std::pair<Shape, Shape>{{256, 300}, {256, 1}},
          std::pair<Shape, Shape>{{1, 300}, {256, 300}}}) {
      SCOPED_TRACE(std::string(op.name) + " " + shape_to_string(as) + " " + shape_to_string(bs));
      OpCase c = make_case(op.name, as, bs, 5);
      auto out = run_op(c);
      ASSERT_EQ(out.size(), 1u);
      expect_near(out[0], reference_binary(c.inputs[0], c.inputs[1], op.f), 1e-6f);
    }
  }
}

// Gradients at sizes where the threaded loops and reductions kick in, against plain loops:
// dA = sum over A's broadcast dims of dY * d(op)/dA, likewise dB.
void check_large_gradients(const std::string& op, const Shape& as, const Shape& bs) {
  SCOPED_TRACE(op + " " + shape_to_string(as) + " " + shape_to_string(bs));
  OpCase c = make_case(op, as, bs, 11);
  Model model = make_single_op_model(c);
  engine::PlanOptions options;
  options.backward = true;
  options.input_grads = true;
  auto plan = engine::Plan::compile(model, options);
  ASSERT_TRUE(plan.ok()) << plan.status().message();
  engine::Plan& p = **plan;
  std::copy_n(c.inputs[0].data<float>(), c.inputs[0].numel(), p.input(0).data);
  std::copy_n(c.inputs[1].data<float>(), c.inputs[1].numel(), p.input(1).data);
  p.forward(true);
  const engine::View y = p.output(0);
  Tensor r = random_tensor(y.shape, 77);
  std::copy_n(r.data<float>(), r.numel(), p.output_grad(0).data);
  p.backward();

  // Reference: accumulate per output element into the broadcast source positions.
  const Tensor& a = c.inputs[0];
  const Tensor& b = c.inputs[1];
  std::vector<double> da(a.numel(), 0.0), db(b.numel(), 0.0);
  const Tensor ia =
      reference_binary(Tensor::from_vector<float>(a.shape(),
                                                  [&] {
                                                    std::vector<float> v(a.numel());
                                                    for (size_t i = 0; i < v.size(); ++i)
                                                      v[i] = static_cast<float>(i);
                                                    return v;
                                                  }()),
                       b, [](float x, float) { return x; });
  const Tensor ib =
      reference_binary(a,
                       Tensor::from_vector<float>(b.shape(),
                                                  [&] {
                                                    std::vector<float> v(b.numel());
                                                    for (size_t i = 0; i < v.size(); ++i)
                                                      v[i] = static_cast<float>(i);
                                                    return v;
                                                  }()),
                       [](float, float x) { return x; });
  for (int64_t k = 0; k < y.numel(); ++k) {
    const auto i = static_cast<int64_t>(ia.data<float>()[k]);
    const auto j = static_cast<int64_t>(ib.data<float>()[k]);
    const double g = r.data<float>()[k], x = a.data<float>()[i], w = b.data<float>()[j];
    double ga = g, gb = g;
    if (op == "Sub") gb = -g;
    if (op == "Mul") ga = g * w, gb = g * x;
    if (op == "Div") ga = g / w, gb = -g * x / (w * w);
    da[i] += ga;
    db[j] += gb;
  }
  auto ga = p.grad("A");
  auto gb = p.grad("B");
  ASSERT_TRUE(ga.ok() && gb.ok());
  for (int64_t i = 0; i < a.numel(); ++i)
    ASSERT_NEAR(ga->data[i], da[i], 1e-4 * (1 + std::abs(da[i]))) << "dA element " << i;
  for (int64_t j = 0; j < b.numel(); ++j)
    ASSERT_NEAR(gb->data[j], db[j], 1e-4 * (1 + std::abs(db[j]))) << "dB element " << j;
}

TEST(BinaryTest, LargeGradientsMatchReference) {
  for (const OpInfo& op : kOps) {
    check_large_gradients(op.name, {256, 300}, {300});
    check_large_gradients(op.name, {256, 300}, {256, 300});
    check_large_gradients(op.name, {256, 300}, {256, 1});
    check_large_gradients(op.name, {1, 300}, {256, 300});
    check_large_gradients(op.name, {64, 1, 300}, {1, 8, 300});
  }
}

TEST(BinaryTest, RejectsIncompatibleShapes) {
  OpCase c = make_case("Add", {2, 3}, {4}, 1);
  Model model = make_single_op_model(c);
  Status s = engine::Plan::compile(model, engine::PlanOptions{}).status();
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("'bin'"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("[2, 3]"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("[4]"), std::string::npos) << s.message();
}

}  // namespace
}  // namespace retort::testing
