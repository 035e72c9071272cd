#include <gtest/gtest.h>

#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "engine/op_check.h"
#include "retort/engine/plan.h"

namespace retort::testing {
namespace {

Node gemm_node(int64_t trans_a, int64_t trans_b, float alpha, float beta, bool with_c) {
  Node n;
  n.name = "fc1";
  n.op_type = "Gemm";
  n.inputs = {"A", "B"};
  if (with_c) n.inputs.push_back("C");
  n.outputs = {"Y"};
  n.attributes["transA"] = Attribute::of_int(trans_a);
  n.attributes["transB"] = Attribute::of_int(trans_b);
  n.attributes["alpha"] = Attribute::of_float(alpha);
  n.attributes["beta"] = Attribute::of_float(beta);
  return n;
}

// Plain triple loop in double, C broadcast right-aligned over [M, N].
Tensor reference_gemm(const Tensor& a, const Tensor& b, const Tensor* c, bool ta, bool tb,
                      float alpha, float beta) {
  const int64_t m = ta ? a.dim(1) : a.dim(0), k = ta ? a.dim(0) : a.dim(1);
  const int64_t n = tb ? b.dim(0) : b.dim(1);
  Tensor y(DType::kFloat32, {m, n});
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j) {
      double sum = 0;
      for (int64_t p = 0; p < k; ++p) {
        const float av = ta ? a.data<float>()[p * m + i] : a.data<float>()[i * k + p];
        const float bv = tb ? b.data<float>()[j * k + p] : b.data<float>()[p * n + j];
        sum += static_cast<double>(av) * bv;
      }
      double cv = 0;
      if (c != nullptr) {
        const Shape& cs = c->shape();
        const int64_t cm = cs.size() == 2 ? cs[0] : 1;
        const int64_t cn = cs.empty() ? 1 : cs.back();
        cv = c->data<float>()[(cm == 1 ? 0 : i) * cn + (cn == 1 ? 0 : j)];
      }
      y.data<float>()[i * n + j] = static_cast<float>(alpha * sum + beta * cv);
    }
  return y;
}

struct GemmConfig {
  int64_t m, k, n;
  bool ta, tb;
  float alpha, beta;
  Shape c_shape;  // {-1} for no C
};

OpCase make_case(const GemmConfig& g, uint64_t seed) {
  const bool with_c = !(g.c_shape.size() == 1 && g.c_shape[0] == -1);
  OpCase c{gemm_node(g.ta, g.tb, g.alpha, g.beta, with_c), {}};
  c.inputs.push_back(random_tensor(g.ta ? Shape{g.k, g.m} : Shape{g.m, g.k}, seed));
  c.inputs.push_back(random_tensor(g.tb ? Shape{g.n, g.k} : Shape{g.k, g.n}, seed + 1));
  if (with_c) c.inputs.push_back(random_tensor(g.c_shape, seed + 2));
  return c;
}

const GemmConfig kConfigs[] = {
    {7, 13, 5, false, false, 1.0f, 1.0f, {-1}},  {7, 13, 5, false, false, 1.0f, 1.0f, {5}},
    {7, 13, 5, false, true, 1.0f, 1.0f, {1, 5}}, {7, 13, 5, true, false, 1.0f, 1.0f, {7, 5}},
    {7, 13, 5, true, true, 1.0f, 1.0f, {7, 1}},  {3, 4, 6, false, true, 0.5f, 1.0f, {6}},
    {3, 4, 6, true, false, 1.0f, 0.25f, {3, 6}}, {3, 4, 6, true, true, -1.5f, 2.0f, {}},
    {3, 4, 6, false, false, 2.0f, 0.0f, {1}},    {1, 1, 1, false, false, 1.0f, 1.0f, {1, 1}},
    {33, 65, 17, false, true, 1.0f, 1.0f, {17}},
};

// The forward of a random case of `g` against reference_gemm.
void expect_forward_matches_reference(const GemmConfig& g, uint64_t seed, float tol) {
  SCOPED_TRACE(::testing::Message() << "M=" << g.m << " K=" << g.k << " N=" << g.n << " tA=" << g.ta
                                    << " tB=" << g.tb << " alpha=" << g.alpha << " beta=" << g.beta
                                    << " C=" << shape_to_string(g.c_shape));
  OpCase c = make_case(g, seed);
  auto out = run_op(c);
  ASSERT_EQ(out.size(), 1u);
  const Tensor* cc = c.inputs.size() > 2 ? &c.inputs[2] : nullptr;
  expect_near(out[0], reference_gemm(c.inputs[0], c.inputs[1], cc, g.ta, g.tb, g.alpha, g.beta),
              tol);
}

TEST(GemmTest, ForwardMatchesReference) {
  uint64_t seed = 10;
  for (const GemmConfig& g : kConfigs) expect_forward_matches_reference(g, seed += 3, 1e-5f);
}

TEST(GemmTest, GradientsMatchFiniteDifferences) {
  uint64_t seed = 100;
  for (const GemmConfig& g : kConfigs) {
    if (g.m * g.k > 200) continue;  // finite differences are O(elements) forwards
    SCOPED_TRACE(::testing::Message() << "M=" << g.m << " K=" << g.k << " N=" << g.n
                                      << " tA=" << g.ta << " tB=" << g.tb << " alpha=" << g.alpha
                                      << " beta=" << g.beta << " C=" << shape_to_string(g.c_shape));
    expect_gradients_match_fd(make_case(g, seed += 3));
  }
}

TEST(GemmTest, MlpLayerShapes) {
  // The shape of an fc layer in the training benchmark, through the bias fast path.
  GemmConfig g{128, 784, 120, false, true, 1.0f, 1.0f, {120}};
  OpCase c = make_case(g, 7);
  auto out = run_op(c);
  ASSERT_EQ(out.size(), 1u);
  expect_near(out[0], reference_gemm(c.inputs[0], c.inputs[1], &c.inputs[2], false, true, 1, 1),
              1e-4f);
}

// A Linear layer's forward on a small batch runs as one matmul per thread over blocks of
// columns when there are enough columns (gemm.cpp); the blocks must cover every column once,
// with the right slice of B and of the bias, whatever the bias shape and the thread count.
TEST(GemmTest, ForwardSplitOverColumnsMatchesReference) {
  const GemmConfig configs[] = {
      {9, 37, 530, false, true, 1.0f, 1.0f, {530}},
      {9, 37, 530, false, true, 1.0f, 1.0f, {}},
      {9, 37, 530, false, true, 1.0f, 1.0f, {1, 530}},
      {9, 37, 530, false, true, 1.0f, 1.0f, {9, 530}},
      {9, 37, 530, false, true, 1.0f, 1.0f, {9, 1}},
      {9, 37, 530, true, true, 1.0f, 1.0f, {-1}},
      {9, 37, 530, false, true, 0.5f, 1.0f, {530}},
      {9, 37, 530, false, true, 1.0f, 0.5f, {530}},
      {128, 64, 800, false, true, 1.0f, 1.0f, {800}},
  };
  uint64_t seed = 500;
  for (int threads : {2, 3}) {
    const ScopedOmpThreads scoped(threads);
    SCOPED_TRACE(::testing::Message() << "threads=" << threads);
    for (const GemmConfig& g : configs) expect_forward_matches_reference(g, seed += 3, 1e-4f);
  }
}

// A plan compiled on 2 threads (so split in two) and run where only 1 is left runs the parts
// one after the other: the same bits as on 2 threads.
TEST(GemmTest, ForwardSplitOverColumnsRunsOnFewerThreadsThanAtCompile) {
  const GemmConfig g{16, 40, 600, false, true, 1.0f, 1.0f, {600}};
  OpCase c = make_case(g, 77);
  Model model = make_single_op_model(c);
  std::unique_ptr<engine::Plan> plan;
  {
    const ScopedOmpThreads two(2);
    plan = compile_or_fail(model, engine::PlanOptions{});
  }
  ASSERT_TRUE(plan);
  for (int i = 0; i < 3; ++i)
    std::memcpy(plan->input(static_cast<size_t>(i)).data, c.inputs[static_cast<size_t>(i)].raw(),
                c.inputs[static_cast<size_t>(i)].nbytes());
  const auto run = [&](int threads) {
    const ScopedOmpThreads scoped(threads);
    plan->forward(false);
    const engine::View y = plan->output(0);
    return std::vector<float>(y.data, y.data + y.numel());
  };
  const std::vector<float> on_two = run(2), on_one = run(1);
  EXPECT_EQ(on_one, on_two);
  Tensor want = reference_gemm(c.inputs[0], c.inputs[1], &c.inputs[2], false, true, 1, 1);
  for (size_t i = 0; i < on_one.size(); ++i)
    ASSERT_NEAR(on_one[i], want.data<float>()[i], 1e-4f) << i;
}

TEST(GemmTest, ZeroInnerDimensionGivesScaledBias) {
  GemmConfig g{3, 0, 4, false, false, 1.0f, 2.0f, {4}};
  OpCase c = make_case(g, 3);
  auto out = run_op(c);
  ASSERT_EQ(out.size(), 1u);
  expect_near(out[0], reference_gemm(c.inputs[0], c.inputs[1], &c.inputs[2], false, false, 1, 2),
              1e-6f);
}

Status compile_status(const OpCase& c) {
  Model model = make_single_op_model(c);
  auto plan = engine::Plan::compile(model, engine::PlanOptions{});
  return plan.status();
}

TEST(GemmTest, MismatchedInnerDimensionsNameNodeAndShapes) {
  OpCase c{gemm_node(0, 0, 1, 1, false), {random_tensor({4, 3}, 1), random_tensor({5, 6}, 2)}};
  Status s = compile_status(c);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("fc1"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("[4, 3]"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("[5, 6]"), std::string::npos) << s.message();
}

TEST(GemmTest, RejectsNonBroadcastableBiasAndBadRank) {
  OpCase bad_c{gemm_node(0, 0, 1, 1, true),
               {random_tensor({4, 3}, 1), random_tensor({3, 6}, 2), random_tensor({4}, 3)}};
  Status s = compile_status(bad_c);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("C [4]"), std::string::npos) << s.message();

  OpCase bad_rank{gemm_node(0, 0, 1, 1, false),
                  {random_tensor({2, 4, 3}, 1), random_tensor({3, 6}, 2)}};
  s = compile_status(bad_rank);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("2-D"), std::string::npos) << s.message();
}

}  // namespace
}  // namespace retort::testing
