#include "retort/engine/feature_losses.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <vector>

#include "engine/op_check.h"

namespace retort::engine {
namespace {

using retort::testing::random_tensor;

View view_of(Tensor& t) {
  return View{t.data<float>(), t.shape()};
}

using LossFn = std::function<float(const View& student, const View* grad)>;

// Central differences of a scalar loss of `x`, compared with the gradient the loss added.
// The tolerance is relative to the largest gradient entry (these losses are means, so their
// gradients are small in absolute terms); the gradient must not vanish, or the check is empty.
void expect_fd_gradient(Tensor x, const LossFn& loss, double eps = 1e-2, double tol = 2e-3) {
  Tensor grad(DType::kFloat32, x.shape());
  View g = view_of(grad);
  loss(view_of(x), &g);
  std::vector<double> numeric(x.numel());
  double gmax = 0;
  for (int64_t k = 0; k < x.numel(); ++k) {
    float& v = x.data<float>()[k];
    const float saved = v;
    v = static_cast<float>(saved + eps);
    const double up = loss(view_of(x), nullptr);
    v = static_cast<float>(saved - eps);
    const double down = loss(view_of(x), nullptr);
    v = saved;
    numeric[k] = (up - down) / (2 * eps);
    gmax = std::max(gmax, std::abs(numeric[k]));
  }
  ASSERT_GT(gmax, 1e-5) << "the gradient vanishes: the finite-difference check proves nothing";
  for (int64_t k = 0; k < x.numel(); ++k)
    EXPECT_NEAR(grad.data<float>()[k], numeric[k], tol * gmax + 1e-7) << "element " << k;
}

// Loss 0 and (numerically) zero gradient when the student equals the teacher.
void expect_zero_when_equal(const LossFn& loss) {
  Tensor a = random_tensor({4, 3, 2, 2}, 101, -1.5f, 1.5f);
  Tensor grad(DType::kFloat32, a.shape());
  View g = view_of(grad);
  EXPECT_NEAR(loss(view_of(a), &g), 0.0, 1e-6);
  for (int64_t k = 0; k < a.numel(); ++k) EXPECT_NEAR(grad.data<float>()[k], 0.0f, 1e-6f) << k;
}

// `loss(student, teacher, count, grad, scale)` over batches of 5 with count 3: the padding
// rows get no gradient, and changing them (in student and teacher) changes nothing.
using PairLoss = std::function<float(const View&, const View&, int64_t, const View*, float)>;
void expect_padding_ignored(Shape student_shape, Shape teacher_shape, const PairLoss& loss) {
  Tensor s = random_tensor(student_shape, 201, -1.5f, 1.5f);
  Tensor t = random_tensor(teacher_shape, 202, -1.5f, 1.5f);
  Tensor grad(DType::kFloat32, s.shape());
  View g = view_of(grad);
  const float before = loss(view_of(s), view_of(t), 3, &g, 1.0f);
  const int64_t srow = s.numel() / s.dim(0), trow = t.numel() / t.dim(0);
  for (int64_t k = 3 * srow; k < s.numel(); ++k) {
    EXPECT_EQ(grad.data<float>()[k], 0.0f) << "padding element " << k;
    s.data<float>()[k] = 7.0f + static_cast<float>(k % 5);
  }
  for (int64_t k = 3 * trow; k < t.numel(); ++k) t.data<float>()[k] = -3.0f;
  EXPECT_FLOAT_EQ(loss(view_of(s), view_of(t), 3, nullptr, 1.0f), before);
}

// The gradient is added, times scale, to what the buffer already holds.
void expect_accumulates(Shape student_shape, Shape teacher_shape, const PairLoss& loss) {
  Tensor s = random_tensor(student_shape, 301, -1.5f, 1.5f);
  Tensor t = random_tensor(teacher_shape, 302, -1.5f, 1.5f);
  const int64_t b = s.dim(0);
  Tensor fresh(DType::kFloat32, s.shape());
  Tensor acc(DType::kFloat32, s.shape());
  std::fill(acc.data<float>(), acc.data<float>() + acc.numel(), 1.0f);
  View gf = view_of(fresh), ga = view_of(acc);
  loss(view_of(s), view_of(t), b, &gf, 1.0f);
  loss(view_of(s), view_of(t), b, &ga, 0.5f);
  double gmax = 0;
  for (int64_t k = 0; k < s.numel(); ++k) {
    gmax = std::max(gmax, static_cast<double>(std::abs(fresh.data<float>()[k])));
    EXPECT_NEAR(acc.data<float>()[k], 1.0f + 0.5f * fresh.data<float>()[k], 1e-6f) << k;
  }
  EXPECT_GT(gmax, 1e-5);
}

double huber(double x) {
  return std::abs(x) < 1 ? 0.5 * x * x : std::abs(x) - 0.5;
}

// ---- hint_mse ----------------------------------------------------------------------------

TEST(FeatureLoss, HintMseValue) {
  Tensor s = Tensor::from_vector<float>({2, 2}, {1, 2, 3, 4});
  Tensor t = Tensor::from_vector<float>({2, 2}, {0, 0, 1, 1});
  // differences 1, 2, 2, 3: (1 + 4 + 4 + 9) / 4
  EXPECT_FLOAT_EQ(hint_mse(view_of(s), view_of(t), 2), 4.5f);
}

TEST(FeatureLoss, HintMseGradientZeroPaddingAccumulation) {
  Tensor t = random_tensor({3, 2, 2, 2}, 1);
  expect_fd_gradient(random_tensor({3, 2, 2, 2}, 2),
                     [&](const View& x, const View* g) { return hint_mse(x, view_of(t), 3, g); });
  expect_zero_when_equal([](const View& x, const View* g) { return hint_mse(x, x, 4, g); });
  const PairLoss f = [](const View& s, const View& t, int64_t n, const View* g, float k) {
    return hint_mse(s, t, n, g, k);
  };
  expect_padding_ignored({5, 2, 3}, {5, 6}, f);
  expect_accumulates({4, 6}, {4, 6}, f);
}

// ---- hint_cosine -------------------------------------------------------------------------

TEST(FeatureLoss, HintCosineValue) {
  Tensor s = Tensor::from_vector<float>({2, 2}, {1, 0, 3, 4});
  Tensor t = Tensor::from_vector<float>({2, 2}, {0, 2, 4, 3});
  // row 0 orthogonal: 1 - 0; row 1: 1 - (12 + 12) / (5 * 5) = 0.04; mean 0.52
  EXPECT_NEAR(hint_cosine(view_of(s), view_of(t), 2), 0.52, 1e-6);
}

TEST(FeatureLoss, HintCosineZeroRowGivesNoNanAndNoGradient) {
  Tensor s = Tensor::from_vector<float>({2, 2}, {0, 0, 3, 4});
  Tensor t = Tensor::from_vector<float>({2, 2}, {1, 2, 3, 4});
  Tensor grad(DType::kFloat32, {2, 2});
  View g = view_of(grad);
  // row 0 has no direction: cos counts as 0, loss 1; row 1 is parallel: 0
  EXPECT_NEAR(hint_cosine(view_of(s), view_of(t), 2, &g), 0.5, 1e-6);
  for (int k = 0; k < 4; ++k) EXPECT_EQ(grad.data<float>()[k], 0.0f) << k;
}

TEST(FeatureLoss, HintCosineGradientZeroPaddingAccumulation) {
  Tensor t = random_tensor({3, 5}, 3);
  expect_fd_gradient(random_tensor({3, 5}, 4), [&](const View& x, const View* g) {
    return hint_cosine(x, view_of(t), 3, g);
  });
  expect_zero_when_equal([](const View& x, const View* g) { return hint_cosine(x, x, 4, g); });
  const PairLoss f = [](const View& s, const View& t, int64_t n, const View* g, float k) {
    return hint_cosine(s, t, n, g, k);
  };
  expect_padding_ignored({5, 2, 3}, {5, 6}, f);
  expect_accumulates({4, 6}, {4, 6}, f);
}

// ---- attention transfer -----------------------------------------------------------------

TEST(FeatureLoss, AttentionTransferValue) {
  // Student [1, 2, 1, 2]: channels [1, 1] and [1, -1], so Q_s = [2, 2], q_s = [1, 1] / sqrt 2.
  // Teacher [1, 1, 1, 2]: channel [1, 0], q_t = [1, 0].
  // Mean of (1/sqrt2 - 1)^2 and (1/sqrt2)^2 = (1.5 - sqrt2 + 0.5) / 2 = 1 - 1/sqrt2.
  Tensor s = Tensor::from_vector<float>({1, 2, 1, 2}, {1, 1, 1, -1});
  Tensor t = Tensor::from_vector<float>({1, 1, 1, 2}, {1, 0});
  const double expected = 1 - 1 / std::sqrt(2.0);
  EXPECT_NEAR(attention_transfer(view_of(s), view_of(t), 1), expected, 1e-6);
  // With p = 1, Q_s = |1| + |1|, |1| + |-1| = [2, 2] and Q_t = [1, 0] again.
  EXPECT_NEAR(attention_transfer(view_of(s), view_of(t), 1, 1.0f), expected, 1e-6);
}

TEST(FeatureLoss, AttentionTransferGradient) {
  Tensor t = random_tensor({3, 4, 2, 3}, 5, -2, 2);
  for (float p : {2.0f, 3.0f}) {
    SCOPED_TRACE(p);
    expect_fd_gradient(random_tensor({3, 2, 2, 3}, 6, -2, 2), [&](const View& x, const View* g) {
      return attention_transfer(x, view_of(t), 3, p, g);
    });
  }
}

TEST(FeatureLoss, AttentionTransferZeroPaddingAccumulation) {
  expect_zero_when_equal(
      [](const View& x, const View* g) { return attention_transfer(x, x, 4, 2.0f, g); });
  const PairLoss f = [](const View& s, const View& t, int64_t n, const View* g, float k) {
    return attention_transfer(s, t, n, 2.0f, g, k);
  };
  expect_padding_ignored({5, 2, 2, 3}, {5, 3, 3, 2}, f);
  expect_accumulates({4, 3, 2, 2}, {4, 2, 4}, f);
}

// ---- RKD --------------------------------------------------------------------------------

TEST(FeatureLoss, RkdDistanceValue) {
  // Student (1-D) 0, 0, 0, 10: pair distances (01 02 03 12 13 23) 0 0 10 0 10 10, mean 5,
  // psi_s = 0 0 2 0 2 2. Teacher 0, 1, 2, 3: distances 1 2 3 1 2 1, mean 10/6, psi_t = 0.6 1.2
  // 1.8 0.6 1.2 0.6. Differences -0.6 -1.2 0.2 -0.6 0.8 1.4; smooth-L1: 0.18 0.7 0.02 0.18
  // 0.32 0.9 (two past the kink), sum 2.3, mean over the 6 pairs (12 ordered, each twice).
  Tensor s = Tensor::from_vector<float>({4, 1}, {0, 0, 0, 10});
  Tensor t = Tensor::from_vector<float>({4, 1}, {0, 1, 2, 3});
  RkdLoss rkd(4, 1, 1);
  EXPECT_NEAR(rkd.distance(view_of(s), view_of(t), 4), 2.3 / 6, 1e-6);
}

TEST(FeatureLoss, RkdAngleValue) {
  // Student (0,0), (1,0), (0,1); teacher (1-D) 0, 1, 2. Angles at each apex j between the
  // other two: student 0 (j=0), 1/sqrt2 (j=1), 1/sqrt2 (j=2); teacher 1, -1, 1 (collinear).
  // smooth-L1 of the differences: 0.5 (|x| = 1), 1/sqrt2 + 1 - 0.5, 0.5 (1 - 1/sqrt2)^2;
  // sum 1.75. Each appears as (i, k) and (k, i); i == k (cos 1 on both sides) and i or k == j
  // (cos 0 on both sides) add 0. Mean over 27 entries: 3.5 / 27.
  Tensor s = Tensor::from_vector<float>({3, 2}, {0, 0, 1, 0, 0, 1});
  Tensor t = Tensor::from_vector<float>({3, 1}, {0, 1, 2});
  RkdLoss rkd(3, 2, 1);
  EXPECT_NEAR(rkd.angle(view_of(s), view_of(t), 3), 3.5 / 27, 1e-6);
}

// Direct O(B^3 D) versions of the reference code, against the Gram-matrix implementation.
double rkd_distance_reference(const Tensor& s, const Tensor& t, int64_t n) {
  auto dist = [n](const Tensor& e) {
    const int64_t d = e.numel() / e.dim(0);
    std::vector<double> out(n * n);
    double sum = 0;
    for (int64_t i = 0; i < n; ++i)
      for (int64_t j = 0; j < n; ++j) {
        double sq = 0;
        for (int64_t x = 0; x < d; ++x) {
          const double v = e.data<float>()[i * d + x] - e.data<float>()[j * d + x];
          sq += v * v;
        }
        out[i * n + j] = std::sqrt(sq);
        sum += out[i * n + j];
      }
    for (double& v : out) v /= sum / (n * (n - 1));
    return out;
  };
  const std::vector<double> ds = dist(s), dt = dist(t);
  double total = 0;
  for (int64_t k = 0; k < n * n; ++k) total += huber(ds[k] - dt[k]);
  return total / (n * (n - 1));
}

double rkd_angle_reference(const Tensor& s, const Tensor& t, int64_t n) {
  auto angles = [n](const Tensor& e) {
    const int64_t d = e.numel() / e.dim(0);
    std::vector<double> unit(n * n * d);  // [j, i, :] = normalize(e_i - e_j)
    for (int64_t j = 0; j < n; ++j)
      for (int64_t i = 0; i < n; ++i) {
        double sq = 0;
        for (int64_t x = 0; x < d; ++x) {
          const double v = e.data<float>()[i * d + x] - e.data<float>()[j * d + x];
          unit[(j * n + i) * d + x] = v;
          sq += v * v;
        }
        for (int64_t x = 0; x < d; ++x) unit[(j * n + i) * d + x] /= std::max(std::sqrt(sq), 1e-12);
      }
    std::vector<double> cos(n * n * n);
    for (int64_t j = 0; j < n; ++j)
      for (int64_t i = 0; i < n; ++i)
        for (int64_t k = 0; k < n; ++k) {
          double c = 0;
          for (int64_t x = 0; x < d; ++x)
            c += unit[(j * n + i) * d + x] * unit[(j * n + k) * d + x];
          cos[(j * n + i) * n + k] = c;
        }
    return cos;
  };
  const std::vector<double> cs = angles(s), ct = angles(t);
  double total = 0;
  for (size_t k = 0; k < cs.size(); ++k) total += huber(cs[k] - ct[k]);
  return total / cs.size();
}

TEST(FeatureLoss, RkdMatchesDirectReferenceImplementation) {
  Tensor s = random_tensor({7, 5}, 7, -2, 2);
  Tensor t = random_tensor({7, 3, 3}, 8, -2, 2);  // rows flattened to 9
  RkdLoss rkd(8, 5, 9);
  EXPECT_NEAR(rkd.distance(view_of(s), view_of(t), 7), rkd_distance_reference(s, t, 7), 1e-6);
  EXPECT_NEAR(rkd.angle(view_of(s), view_of(t), 7), rkd_angle_reference(s, t, 7), 1e-6);
  // And on fewer rows than the object was made for.
  EXPECT_NEAR(rkd.angle(view_of(s), view_of(t), 4), rkd_angle_reference(s, t, 4), 1e-6);
}

TEST(FeatureLoss, RkdDistanceGradient) {
  Tensor t = random_tensor({5, 4}, 9, -1, 1);
  RkdLoss rkd(5, 3, 4);
  expect_fd_gradient(
      random_tensor({5, 3}, 10, -1, 1),
      [&](const View& x, const View* g) { return rkd.distance(x, view_of(t), 5, g); }, 1e-3);
  // Far apart so that some differences lie past the smooth-L1 kink (gradient +-1 there).
  Tensor far = Tensor::from_vector<float>({4, 2}, {0, 0.1f, 0.2f, 0, 0.1f, 0.3f, 9, 8});
  Tensor t2 = random_tensor({4, 2}, 11, -1, 1);
  RkdLoss rkd2(4, 2, 2);
  expect_fd_gradient(
      far, [&](const View& x, const View* g) { return rkd2.distance(x, view_of(t2), 4, g); }, 1e-3);
}

TEST(FeatureLoss, RkdAngleGradient) {
  Tensor t = random_tensor({6, 4}, 12, -1, 1);
  RkdLoss rkd(6, 3, 4);
  expect_fd_gradient(
      random_tensor({6, 3}, 13, -1, 1),
      [&](const View& x, const View* g) { return rkd.angle(x, view_of(t), 6, g); }, 1e-3);
  // A large common offset must not cost precision (the loss sees differences only).
  Tensor shifted = random_tensor({6, 3}, 13, -1, 1);
  for (int64_t k = 0; k < shifted.numel(); ++k) shifted.data<float>()[k] += 50.0f;
  expect_fd_gradient(
      shifted, [&](const View& x, const View* g) { return rkd.angle(x, view_of(t), 6, g); }, 1e-2,
      1e-2);
}

TEST(FeatureLoss, RkdZeroPaddingAccumulation) {
  RkdLoss same(4, 12, 12);
  expect_zero_when_equal([&](const View& x, const View* g) { return same.distance(x, x, 4, g); });
  expect_zero_when_equal([&](const View& x, const View* g) { return same.angle(x, x, 4, g); });
  RkdLoss rkd(5, 6, 4);
  const PairLoss distance = [&](const View& s, const View& t, int64_t n, const View* g, float k) {
    return rkd.distance(s, t, n, g, k);
  };
  const PairLoss angle = [&](const View& s, const View& t, int64_t n, const View* g, float k) {
    return rkd.angle(s, t, n, g, k);
  };
  expect_padding_ignored({5, 2, 3}, {5, 4}, distance);
  expect_padding_ignored({5, 6}, {5, 2, 2}, angle);
  expect_accumulates({5, 6}, {5, 4}, distance);
  expect_accumulates({5, 6}, {5, 4}, angle);
}

TEST(FeatureLoss, RkdCoincidentStudentRowsGiveBoundedGradient) {
  // Rows 1 and 2 are equal, rows 3 and 4 differ by 1e-6 (below what a float32 Gram matrix
  // resolves): their difference has no usable direction. A 1/eps-size gradient would wreck
  // the step; the pairs count as coincident instead.
  Tensor s = Tensor::from_vector<float>({5, 2}, {0, 0, 1, 1, 1, 1, 2, -1, 2.000001f, -1});
  Tensor t = random_tensor({5, 3}, 14);
  RkdLoss rkd(5, 2, 3);
  for (int term = 0; term < 2; ++term) {
    SCOPED_TRACE(term == 0 ? "distance" : "angle");
    Tensor grad(DType::kFloat32, {5, 2});
    View g = view_of(grad);
    const float loss = term == 0 ? rkd.distance(view_of(s), view_of(t), 5, &g)
                                 : rkd.angle(view_of(s), view_of(t), 5, &g);
    EXPECT_TRUE(std::isfinite(loss));
    for (int k = 0; k < 10; ++k) {
      EXPECT_TRUE(std::isfinite(grad.data<float>()[k])) << k;
      EXPECT_LT(std::abs(grad.data<float>()[k]), 1.0f) << k;
    }
  }
}

// ---- FSP --------------------------------------------------------------------------------

TEST(FeatureLoss, FspValue) {
  // F1 = [1, 2] (one channel, HW 2); F2 channels [1, 1], [2, 0]: G_s = [3/2, 2/2] = [1.5, 1].
  // Teacher F1 [1, 1], F2 [1, 1], [1, -1]: G_t = [1, 0]. Mean of 0.5^2 and 1^2 = 0.625.
  Tensor sa = Tensor::from_vector<float>({1, 1, 1, 2}, {1, 2});
  Tensor sb = Tensor::from_vector<float>({1, 2, 1, 2}, {1, 1, 2, 0});
  Tensor ta = Tensor::from_vector<float>({1, 1, 1, 2}, {1, 1});
  Tensor tb = Tensor::from_vector<float>({1, 2, 1, 2}, {1, 1, 1, -1});
  FspLoss fsp(1, 2);
  EXPECT_NEAR(fsp.compute(view_of(sa), view_of(sb), view_of(ta), view_of(tb), 1), 0.625, 1e-6);
}

TEST(FeatureLoss, FspGradientIntoBothMaps) {
  Tensor sa = random_tensor({3, 2, 2, 3}, 15, -1, 1);
  Tensor sb = random_tensor({3, 4, 2, 3}, 16, -1, 1);
  Tensor ta = random_tensor({3, 2, 2, 3}, 17, -1, 1);
  Tensor tb = random_tensor({3, 4, 2, 3}, 18, -1, 1);
  FspLoss fsp(2, 4);
  {
    SCOPED_TRACE("first map");
    expect_fd_gradient(sa.clone(), [&](const View& x, const View* g) {
      return fsp.compute(x, view_of(sb), view_of(ta), view_of(tb), 3, g, nullptr);
    });
  }
  {
    SCOPED_TRACE("second map");
    expect_fd_gradient(sb.clone(), [&](const View& x, const View* g) {
      return fsp.compute(view_of(sa), x, view_of(ta), view_of(tb), 3, nullptr, g);
    });
  }
}

TEST(FeatureLoss, FspSameStudentMapTwiceAddsBothContributions) {
  Tensor ta = random_tensor({2, 3, 2, 2}, 19, -1, 1);
  Tensor tb = random_tensor({2, 3, 2, 2}, 20, -1, 1);
  FspLoss fsp(3, 3);
  expect_fd_gradient(random_tensor({2, 3, 2, 2}, 21, -1, 1), [&](const View& x, const View* g) {
    return fsp.compute(x, x, view_of(ta), view_of(tb), 2, g, g);
  });
}

TEST(FeatureLoss, FspZeroPaddingAccumulation) {
  FspLoss same(3, 3);
  expect_zero_when_equal(
      [&](const View& x, const View* g) { return same.compute(x, x, x, x, 4, g, g); });
  Tensor sb = random_tensor({5, 2, 2, 3}, 22, -1, 1);
  Tensor tb = random_tensor({5, 2, 3, 2}, 23, -1, 1);
  FspLoss fsp(3, 2);
  const PairLoss f = [&](const View& s, const View& t, int64_t n, const View* g, float k) {
    return fsp.compute(s, view_of(sb), t, view_of(tb), n, g, nullptr, k);
  };
  expect_padding_ignored({5, 3, 2, 3}, {5, 3, 6}, f);
  expect_accumulates({5, 3, 2, 3}, {5, 3, 3, 2}, f);
}

}  // namespace
}  // namespace retort::engine
