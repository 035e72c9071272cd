#include "retort/engine/optimizer.h"

#include <gtest/gtest.h>

#include <cmath>

#include "nlohmann/json.hpp"
#include "retort/engine/schedule.h"

namespace retort::engine {
namespace {

struct OneParam {
  Tensor w = Tensor::from_vector<float>({2}, {1.0f, -2.0f});
  Tensor g = Tensor::from_vector<float>({2}, {0.5f, 0.25f});
  std::vector<Parameter> params() {
    return {Parameter{"w", {w.data<float>(), {2}}, {g.data<float>(), {2}}}};
  }
};

TEST(Optimizer, SgdMomentumMatchesTwoHandSteps) {
  OneParam p;
  OptimizerConfig c;
  c.momentum = 0.9f;
  c.weight_decay = 0.1f;
  auto opt = Optimizer::create(c, p.params());
  ASSERT_TRUE(opt.ok());
  (*opt)->step(0.1f);
  (*opt)->step(0.1f);
  // v1 = g + wd*w0; w1 = w0 - lr v1; v2 = mu v1 + g + wd*w1; w2 = w1 - lr v2
  for (int i = 0; i < 2; ++i) {
    const double w0 = i == 0 ? 1.0 : -2.0, g = i == 0 ? 0.5 : 0.25;
    const double v1 = g + 0.1 * w0, w1 = w0 - 0.1 * v1;
    const double v2 = 0.9 * v1 + g + 0.1 * w1, w2 = w1 - 0.1 * v2;
    EXPECT_NEAR(p.w.data<float>()[i], w2, 1e-6);
  }
}

TEST(Optimizer, SgdNesterovMatchesHandStep) {
  OneParam p;
  OptimizerConfig c;
  c.momentum = 0.5f;
  c.nesterov = true;
  auto opt = Optimizer::create(c, p.params());
  ASSERT_TRUE(opt.ok());
  (*opt)->step(0.1f);
  (*opt)->step(0.1f);
  const double g = 0.5, v1 = g, w1 = 1.0 - 0.1 * (g + 0.5 * v1);
  const double v2 = 0.5 * v1 + g, w2 = w1 - 0.1 * (g + 0.5 * v2);
  EXPECT_NEAR(p.w.data<float>()[0], w2, 1e-6);
}

TEST(Optimizer, AdamWFirstStepMovesByLearningRateAndDecaysDecoupled) {
  OneParam p;
  OptimizerConfig c;
  c.type = "adamw";
  c.weight_decay = 0.01f;
  auto opt = Optimizer::create(c, p.params());
  ASSERT_TRUE(opt.ok());
  (*opt)->step(0.1f);
  // Bias-corrected first step: m/sqrt(v) = sign(g); decay w *= (1 - lr*wd).
  EXPECT_NEAR(p.w.data<float>()[0], 1.0 * (1 - 0.001) - 0.1, 1e-6);
  EXPECT_NEAR(p.w.data<float>()[1], -2.0 * (1 - 0.001) - 0.1, 1e-6);
}

TEST(Optimizer, ConfigErrorsNameThePath) {
  auto bad = optimizer_config_from_json(nlohmann::json{{"type", "sgd"}, {"lr", -1}},
                                        "/stages/0/params/optimizer");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().message(), "/stages/0/params/optimizer/lr: must be > 0, found -1");
  auto unknown = optimizer_config_from_json(nlohmann::json{{"momentun", 0.9}}, "/opt");
  ASSERT_FALSE(unknown.ok());
  EXPECT_NE(unknown.status().message().find("/opt/momentun: unknown optimizer key"),
            std::string::npos);
  auto kind = optimizer_config_from_json(nlohmann::json{{"type", "rmsprop"}}, "/opt");
  ASSERT_FALSE(kind.ok());
  EXPECT_NE(kind.status().message().find("expected \"sgd\" or \"adamw\", found \"rmsprop\""),
            std::string::npos);
}

TEST(Optimizer, ClipGradNormScalesAllGradientsTogether) {
  // Two parameters whose gradients have global norm sqrt(3^2 + 4^2) = 5.
  Tensor w1 = Tensor::from_vector<float>({1}, {0.0f}), g1 = Tensor::from_vector<float>({1}, {3.0f});
  Tensor w2 = Tensor::from_vector<float>({1}, {0.0f}), g2 = Tensor::from_vector<float>({1}, {4.0f});
  std::vector<Parameter> params{Parameter{"a", {w1.data<float>(), {1}}, {g1.data<float>(), {1}}},
                                Parameter{"b", {w2.data<float>(), {1}}, {g2.data<float>(), {1}}}};
  OptimizerConfig c;
  c.momentum = 0.0f;
  c.clip_grad_norm = 1.0f;
  auto opt = Optimizer::create(c, params);
  ASSERT_TRUE(opt.ok());
  (*opt)->step(1.0f);
  EXPECT_FLOAT_EQ((*opt)->last_grad_norm(), 5.0f);
  EXPECT_NEAR(w1.data<float>()[0], -0.6f, 1e-6);  // direction kept, norm 1
  EXPECT_NEAR(w2.data<float>()[0], -0.8f, 1e-6);

  // Below the limit nothing is scaled.
  g1.data<float>()[0] = 0.3f;
  g2.data<float>()[0] = 0.4f;
  (*opt)->step(1.0f);
  EXPECT_FLOAT_EQ((*opt)->last_grad_norm(), 0.5f);
  EXPECT_NEAR(w1.data<float>()[0], -0.9f, 1e-6);
  EXPECT_NEAR(w2.data<float>()[0], -1.2f, 1e-6);
}

TEST(Optimizer, ClipGradNormIsReadFromJsonAndChecked) {
  auto ok = optimizer_config_from_json(nlohmann::json{{"clip_grad_norm", 2.5}}, "/opt");
  ASSERT_TRUE(ok.ok()) << ok.status().message();
  EXPECT_FLOAT_EQ(ok->clip_grad_norm, 2.5f);
  auto bad = optimizer_config_from_json(nlohmann::json{{"clip_grad_norm", -1}}, "/opt");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().message(),
            "/opt/clip_grad_norm: must be >= 0 (0 turns clipping off), found -1");
}

TEST(Schedule, WarmupStepAndCosineValues) {
  LrSchedule s;
  s.type = "step";
  s.warmup_steps = 4;
  s.step_size = 10;
  s.gamma = 0.5f;
  EXPECT_FLOAT_EQ(s.factor(0), 0.25f);
  EXPECT_FLOAT_EQ(s.factor(3), 1.0f);
  EXPECT_FLOAT_EQ(s.factor(13), 1.0f);
  EXPECT_FLOAT_EQ(s.factor(14), 0.5f);
  EXPECT_FLOAT_EQ(s.factor(34), 0.125f);
  LrSchedule c;
  c.type = "cosine";
  c.total_steps = 100;
  c.min_factor = 0.1f;
  EXPECT_FLOAT_EQ(c.factor(0), 1.0f);
  EXPECT_NEAR(c.factor(50), 0.55f, 1e-6);
  EXPECT_NEAR(c.factor(100), 0.1f, 1e-6);
  auto bad = schedule_from_json(nlohmann::json{{"type", "linear"}}, "/sched");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("/sched/type"), std::string::npos);
}

}  // namespace
}  // namespace retort::engine
