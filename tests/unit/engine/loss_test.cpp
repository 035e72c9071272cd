#include "retort/engine/loss.h"

#include <gtest/gtest.h>

#include <cmath>
#include <functional>

#include "engine/op_check.h"

namespace retort::engine {
namespace {

using retort::testing::random_tensor;

View view_of(Tensor& t) {
  return View{t.data<float>(), t.shape()};
}

// Central differences of a scalar loss of the logits, compared with the gradient it added.
void expect_loss_gradient(Tensor logits,
                          const std::function<float(const View&, const View*)>& loss) {
  Tensor grad(DType::kFloat32, logits.shape());
  View g = view_of(grad);
  loss(view_of(logits), &g);
  const float eps = 1e-2f;
  for (int64_t k = 0; k < logits.numel(); ++k) {
    float& x = logits.data<float>()[k];
    const float saved = x;
    x = saved + eps;
    const double up = loss(view_of(logits), nullptr);
    x = saved - eps;
    const double down = loss(view_of(logits), nullptr);
    x = saved;
    EXPECT_NEAR(grad.data<float>()[k], (up - down) / (2 * eps), 2e-3) << "element " << k;
  }
}

TEST(Loss, CrossEntropyMatchesHandComputedValue) {
  Tensor logits = Tensor::from_vector<float>({2, 3}, {1, 2, 3, 0, 0, 0});
  const int32_t labels[] = {2, 0};
  // row 0: -log(e^3 / (e + e^2 + e^3)); row 1: log(3)
  const double row0 = -3 + std::log(std::exp(1.0) + std::exp(2.0) + std::exp(3.0));
  EXPECT_NEAR(cross_entropy(view_of(logits), labels, 2), (row0 + std::log(3.0)) / 2, 1e-6);
}

TEST(Loss, CrossEntropyGradientWithLabelSmoothing) {
  const int32_t labels[] = {0, 4, 2, 1, 3};
  expect_loss_gradient(random_tensor({5, 7}, 3, -3, 3), [&](const View& x, const View* g) {
    return cross_entropy(x, labels, 5, 0.1f, g);
  });
}

TEST(Loss, PaddedRowsGetNoGradient) {
  Tensor logits = random_tensor({4, 3}, 5);
  Tensor grad(DType::kFloat32, {4, 3});
  View g = view_of(grad);
  const int32_t labels[] = {0, 1, 2, 0};
  cross_entropy(view_of(logits), labels, 2, 0.0f, &g);
  for (int64_t k = 6; k < 12; ++k) EXPECT_EQ(grad.data<float>()[k], 0.0f);
}

TEST(Loss, KlDivergenceIsZeroForEqualLogitsAndScalesWithTemperatureSquared) {
  Tensor a = random_tensor({3, 10}, 7, -4, 4);
  EXPECT_NEAR(kl_divergence(view_of(a), view_of(a), 4.0f, 3), 0.0, 1e-6);
  Tensor b = random_tensor({3, 10}, 8, -4, 4);
  // KL of the tempered distributions times T^2.
  double expected = 0;
  const double t = 2.5;
  for (int i = 0; i < 3; ++i) {
    double zs = 0, zt = 0;
    for (int j = 0; j < 10; ++j) {
      zs += std::exp(a.data<float>()[i * 10 + j] / t);
      zt += std::exp(b.data<float>()[i * 10 + j] / t);
    }
    for (int j = 0; j < 10; ++j) {
      const double ps = std::exp(a.data<float>()[i * 10 + j] / t) / zs;
      const double pt = std::exp(b.data<float>()[i * 10 + j] / t) / zt;
      expected += pt * std::log(pt / ps);
    }
  }
  EXPECT_NEAR(kl_divergence(view_of(a), view_of(b), 2.5f, 3), expected / 3 * t * t, 1e-5);
}

TEST(Loss, KlDivergenceGradient) {
  Tensor teacher = random_tensor({4, 6}, 11, -3, 3);
  expect_loss_gradient(random_tensor({4, 6}, 12, -3, 3), [&](const View& x, const View* g) {
    return kl_divergence(x, view_of(teacher), 3.0f, 4, g);
  });
}

TEST(Loss, MseValueAndGradient) {
  Tensor target = random_tensor({3, 5}, 21);
  Tensor pred = Tensor::from_vector<float>({1, 2}, {1, 3});
  Tensor zero = Tensor::from_vector<float>({1, 2}, {0, 0});
  EXPECT_FLOAT_EQ(mse(view_of(pred), view_of(zero), 1), 5.0f);
  expect_loss_gradient(random_tensor({3, 5}, 22),
                       [&](const View& x, const View* g) { return mse(x, view_of(target), 3, g); });
}

TEST(Loss, CountCorrect) {
  Tensor logits = Tensor::from_vector<float>({3, 3}, {0, 5, 1, 9, 0, 0, 0, 0, 1});
  const int32_t labels[] = {1, 1, 2};
  EXPECT_EQ(count_correct(view_of(logits), labels, 3), 2);
}

}  // namespace
}  // namespace retort::engine
