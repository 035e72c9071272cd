#include <gtest/gtest.h>

#include <algorithm>
#include <string>

#include "engine/op_check.h"
#include "retort/engine/plan.h"

namespace retort::testing {
namespace {

Node matmul_node() {
  Node n;
  n.name = "mm";
  n.op_type = "MatMul";
  n.inputs = {"A", "B"};
  n.outputs = {"Y"};
  return n;
}

Shape pad(const Shape& s, size_t rank) {
  Shape p(rank - s.size(), 1);
  p.insert(p.end(), s.begin(), s.end());
  return p;
}

// numpy.matmul in double, written independently of the kernel.
Tensor reference_matmul(const Tensor& a, const Tensor& b) {
  Shape as = a.shape(), bs = b.shape();
  const bool a_vec = as.size() == 1, b_vec = bs.size() == 1;
  if (a_vec) as.insert(as.begin(), 1);
  if (b_vec) bs.push_back(1);
  const size_t r = std::max(as.size(), bs.size());
  as = pad(as, r);
  bs = pad(bs, r);
  const int64_t m = as[r - 2], k = as[r - 1], n = bs[r - 1];
  Shape batch(r - 2);
  for (size_t i = 0; i + 2 < r; ++i) batch[i] = std::max(as[i], bs[i]);
  Shape out = batch;
  if (!a_vec) out.push_back(m);
  if (!b_vec) out.push_back(n);
  Tensor y(DType::kFloat32, out);
  int64_t batches = 1;
  for (int64_t d : batch) batches *= d;
  for (int64_t bi = 0; bi < batches; ++bi) {
    // Offsets of this batch element in A and B (stride 0 along broadcast dims).
    int64_t rem = bi, a_off = 0, b_off = 0, a_stride = m * k, b_stride = k * n;
    for (size_t i = batch.size(); i-- > 0;) {
      const int64_t idx = rem % batch[i];
      rem /= batch[i];
      if (as[i] != 1) a_off += idx * a_stride;
      if (bs[i] != 1) b_off += idx * b_stride;
      a_stride *= as[i];
      b_stride *= bs[i];
    }
    for (int64_t i = 0; i < m; ++i)
      for (int64_t j = 0; j < n; ++j) {
        double sum = 0;
        for (int64_t p = 0; p < k; ++p)
          sum += static_cast<double>(a.data<float>()[a_off + i * k + p]) *
                 b.data<float>()[b_off + p * n + j];
        y.data<float>()[(bi * m + i) * n + j] = static_cast<float>(sum);
      }
  }
  return y;
}

const std::pair<Shape, Shape> kCases[] = {
    {{7, 13}, {13, 5}},
    {{2, 3, 4}, {2, 4, 5}},
    {{3, 4}, {2, 4, 5}},
    {{2, 3, 4}, {4, 5}},
    {{2, 1, 3, 4}, {1, 3, 4, 2}},
    {{4}, {4, 5}},
    {{3, 4}, {4}},
    {{4}, {4}},
    {{2, 3, 4}, {4}},
    {{5, 1, 3, 4}, {2, 4, 6}},
    {{4}, {2, 4, 3}},
    {{1, 2, 3}, {3, 3, 2}},
    {{2, 2, 3, 4}, {2, 1, 4, 5}},
};

TEST(MatMulTest, ForwardMatchesNumpySemantics) {
  uint64_t seed = 1;
  for (const auto& [as, bs] : kCases) {
    SCOPED_TRACE(shape_to_string(as) + " x " + shape_to_string(bs));
    OpCase c{matmul_node(), {random_tensor(as, seed), random_tensor(bs, seed + 1)}};
    seed += 2;
    auto out = run_op(c);
    ASSERT_EQ(out.size(), 1u);
    expect_near(out[0], reference_matmul(c.inputs[0], c.inputs[1]), 1e-5f);
  }
}

TEST(MatMulTest, GradientsMatchFiniteDifferences) {
  uint64_t seed = 50;
  for (const auto& [as, bs] : kCases) {
    SCOPED_TRACE(shape_to_string(as) + " x " + shape_to_string(bs));
    OpCase c{matmul_node(), {random_tensor(as, seed), random_tensor(bs, seed + 1)}};
    seed += 2;
    expect_gradients_match_fd(c);
  }
}

TEST(MatMulTest, SharedWeightGradientWithLargerBatch) {
  // Exercises the folded [K, P*M] x [P*M, N] weight gradient at a size where it matters.
  OpCase c{matmul_node(), {random_tensor({3, 5, 6}, 9), random_tensor({6, 4}, 10)}};
  expect_gradients_match_fd(c);
}

Status compile_status(const OpCase& c) {
  Model model = make_single_op_model(c);
  return engine::Plan::compile(model, engine::PlanOptions{}).status();
}

TEST(MatMulTest, RejectsMismatchedShapes) {
  OpCase inner{matmul_node(), {random_tensor({2, 3}, 1), random_tensor({4, 5}, 2)}};
  Status s = compile_status(inner);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("'mm'"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("[2, 3]"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("[4, 5]"), std::string::npos) << s.message();

  OpCase batch{matmul_node(), {random_tensor({2, 3, 4}, 1), random_tensor({3, 4, 5}, 2)}};
  s = compile_status(batch);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("batch"), std::string::npos) << s.message();
}

}  // namespace
}  // namespace retort::testing
