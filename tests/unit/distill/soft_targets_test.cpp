#include "retort/distill/soft_targets.h"

#include <gtest/gtest.h>

#include <cmath>
#include <numbers>

#include "engine/op_check.h"
#include "retort/engine/loss.h"

namespace retort::distill {
namespace {

View view_of(Tensor& t) {
  return View{t.data<float>(), t.shape()};
}

std::vector<double> softmax(std::vector<double> x, double t) {
  double mx = *std::max_element(x.begin(), x.end()), sum = 0;
  for (double& v : x) sum += v = std::exp(v / t - mx / t);
  for (double& v : x) v /= sum;
  return x;
}

TEST(SoftTargets, OneTeacherGivesTheSameLossAndGradientAsKlDivergence) {
  Tensor s = retort::testing::random_tensor({4, 6}, 1, -3, 3),
         t = retort::testing::random_tensor({4, 6}, 2, -3, 3);
  Tensor g1(DType::kFloat32, {4, 6}), g2(DType::kFloat32, {4, 6});
  View vg1 = view_of(g1), vg2 = view_of(g2);
  SoftTargets targets(4, 6);
  const View teachers[] = {view_of(t)};
  targets.compute(teachers, 3.0f, TeacherMix::kMean, {}, 3);
  const float a = soft_target_loss(view_of(s), targets.probabilities(), 3.0f, 3, &vg1, 0.5f);
  const float b = engine::kl_divergence(view_of(s), view_of(t), 3.0f, 3, &vg2, 0.5f);
  EXPECT_NEAR(a, b, 1e-5);
  for (int64_t i = 0; i < 24; ++i) EXPECT_NEAR(g1.data<float>()[i], g2.data<float>()[i], 1e-6) << i;
  for (int64_t i = 18; i < 24; ++i) EXPECT_EQ(g1.data<float>()[i], 0.0f) << "padding row";
}

TEST(SoftTargets, MixesTeachersByMeanWeightsAndConfidence) {
  Tensor t1 = Tensor::from_vector<float>({1, 3}, {4, 0, 0}),
         t2 = Tensor::from_vector<float>({1, 3}, {0, 1, 0});
  const View teachers[] = {view_of(t1), view_of(t2)};
  const auto p1 = softmax({4, 0, 0}, 2), p2 = softmax({0, 1, 0}, 2);
  SoftTargets targets(1, 3);
  targets.compute(teachers, 2.0f, TeacherMix::kMean, {}, 1);
  for (int j = 0; j < 3; ++j)
    EXPECT_NEAR(targets.probabilities().data[j], (p1[j] + p2[j]) / 2, 1e-6);
  const float w[] = {3, 1};
  targets.compute(teachers, 2.0f, TeacherMix::kWeighted, w, 1);
  for (int j = 0; j < 3; ++j)
    EXPECT_NEAR(targets.probabilities().data[j], 0.75 * p1[j] + 0.25 * p2[j], 1e-6);
  // Confidence: each teacher's largest probability at T = 1.
  const double c1 = softmax({4, 0, 0}, 1)[0], c2 = softmax({0, 1, 0}, 1)[1];
  targets.compute(teachers, 2.0f, TeacherMix::kConfidence, {}, 1);
  for (int j = 0; j < 3; ++j)
    EXPECT_NEAR(targets.probabilities().data[j], (c1 * p1[j] + c2 * p2[j]) / (c1 + c2), 1e-6);
  EXPECT_GT(c1, c2);
}

TEST(SoftTargets, GradientMatchesFiniteDifferences) {
  Tensor s = retort::testing::random_tensor({3, 5}, 4, -2, 2);
  Tensor p = Tensor::from_vector<float>(
      {3, 5}, {0.1f, 0.2f, 0.3f, 0.2f, 0.2f, 0, 0, 1, 0, 0, 0.5f, 0.5f, 0, 0, 0});
  Tensor g(DType::kFloat32, {3, 5});
  View vg = view_of(g);
  soft_target_loss(view_of(s), view_of(p), 2.5f, 3, &vg);
  for (int64_t k = 0; k < 15; ++k) {
    float& x = s.data<float>()[k];
    const float saved = x;
    x = saved + 1e-2f;
    const double up = soft_target_loss(view_of(s), view_of(p), 2.5f, 3);
    x = saved - 1e-2f;
    const double down = soft_target_loss(view_of(s), view_of(p), 2.5f, 3);
    x = saved;
    EXPECT_NEAR(g.data<float>()[k], (up - down) / 2e-2, 2e-3) << k;
  }
}

TEST(Temperature, SchedulesGoFromStartToEnd) {
  Temperature t{20.0f, 2.0f, Temperature::Schedule::kConstant};
  EXPECT_EQ(t.at(0.7), 20.0f);
  t.schedule = Temperature::Schedule::kLinear;
  EXPECT_NEAR(t.at(0.0), 20.0, 1e-6);
  EXPECT_NEAR(t.at(0.25), 15.5, 1e-5);
  EXPECT_NEAR(t.at(1.0), 2.0, 1e-6);
  t.schedule = Temperature::Schedule::kCosine;
  EXPECT_NEAR(t.at(0.0), 20.0, 1e-5);
  EXPECT_NEAR(t.at(0.5), 11.0, 1e-5);
  EXPECT_NEAR(t.at(0.25), 2.0 + 18.0 * (1 + std::cos(std::numbers::pi / 4)) / 2, 1e-4);
  EXPECT_NEAR(t.at(1.0), 2.0, 1e-5);
  EXPECT_FALSE(parse_temperature_schedule("exponential").ok());
  EXPECT_NE(parse_temperature_schedule("exp").status().message().find("constant, linear or cosine"),
            std::string::npos);
}

}  // namespace
}  // namespace retort::distill
