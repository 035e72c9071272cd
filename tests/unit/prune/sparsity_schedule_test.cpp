// The cubic (AGP) and iterative schedules against values computed by hand, and a gradual run.
#include "retort/prune/sparsity_schedule.h"

#include <gtest/gtest.h>

#include <cmath>

#include "prune/prune_test_support.h"
#include "retort/prune/pruning.h"

namespace retort::prune {
namespace {

using testing::build;
using testing::contains;
using testing::fashion;

TEST(SparsitySchedule, CubicValuesAtChosenSteps) {
  // s_i = 0.1, s_f = 0.9, t0 = 100, n dt = 1000 (dt = 100):
  //   s_t = 0.9 + (0.1 - 0.9) (1 - (t - 100) / 1000)^3
  CubicSchedule c{0.1, 100, 1100, 100};
  EXPECT_DOUBLE_EQ(c.sparsity(0.9, 50), 0.0);  // before t0: dense
  EXPECT_DOUBLE_EQ(c.sparsity(0.9, 100), 0.1);
  EXPECT_NEAR(c.sparsity(0.9, 350), 0.9 - 0.8 * 0.421875, 1e-12);  // (3/4)^3
  EXPECT_NEAR(c.sparsity(0.9, 600), 0.8, 1e-12);                   // 0.9 - 0.8 / 8
  EXPECT_NEAR(c.sparsity(0.9, 1000), 0.9 - 0.8 * 0.001, 1e-12);    // (1/10)^3
  EXPECT_DOUBLE_EQ(c.sparsity(0.9, 1100), 0.9);
  EXPECT_DOUBLE_EQ(c.sparsity(0.9, 5000), 0.9);
  // A layer whose own target is below s_i starts at its target.
  EXPECT_DOUBLE_EQ(c.sparsity(0.05, 100), 0.05);
  // Zhu & Gupta's default shape: s_i = 0, half-way gives 7/8 of the final sparsity.
  CubicSchedule z{0.0, 0, 2000, 50};
  EXPECT_NEAR(z.sparsity(0.96, 1000), 0.96 * 7 / 8, 1e-12);
  EXPECT_NEAR(z.sparsity(0.96, 500), 0.96 * (1 - 0.421875), 1e-12);

  EXPECT_TRUE(c.is_update_step(100));
  EXPECT_TRUE(c.is_update_step(200));
  EXPECT_FALSE(c.is_update_step(150));
  EXPECT_FALSE(c.is_update_step(0));
  EXPECT_TRUE(c.is_update_step(1100));
  EXPECT_FALSE(c.is_update_step(1200));
}

TEST(SparsitySchedule, IterativeRoundsRemoveEqualFractionsOfWhatIsLeft) {
  EXPECT_NEAR(iterative_sparsity(0.9, 1, 2), 1 - std::sqrt(0.1), 1e-12);
  EXPECT_DOUBLE_EQ(iterative_sparsity(0.9, 2, 2), 0.9);
  EXPECT_NEAR(iterative_sparsity(0.875, 1, 3), 0.5, 1e-12);  // density 1/8 -> 1/2, 1/4, 1/8
  EXPECT_NEAR(iterative_sparsity(0.875, 2, 3), 0.75, 1e-12);
}

TEST(SparsitySchedule, BadSchedulesNameTheKey) {
  EXPECT_TRUE(contains(CubicSchedule{0, 100, 100, 10}.check("/params/schedule").message(),
                       "/params/schedule/end_step: must be after start_step (100), got 100"));
  EXPECT_TRUE(
      contains(CubicSchedule{0, 0, 100, 0}.check("/s").message(), "/s/frequency: must be >= 1"));
  EXPECT_TRUE(contains(CubicSchedule{1.0, 0, 100, 10}.check("/s").message(),
                       "/s/initial_sparsity: sparsity must be in [0, 1), got 1"));
}

TEST(SparsitySchedule, GradualRunReachesTheFinalSparsityOnTheCubicSchedule) {
  Model model = build({{"arch", "mlp"}, {"hidden", {32}}}, 1);
  const data::Dataset& train = fashion(data::Split::kTrain, 1024);
  PruneConfig config;
  config.magnitude.sparsity = 0.8f;
  config.schedule = ScheduleKind::kGradual;
  config.cubic = {0.0, 10, 50, 10};
  FineTune ft;
  ft.options.train.epochs = 4;  // 16 steps an epoch: 64 steps
  ft.options.train.batch = 64;
  // Record the measured sparsity of fc1 at every progress report (every step).
  std::vector<std::pair<int64_t, double>> seen;
  const Tensor& fc1 = model.graph.initializers.at("fc1.weight");
  ft.options.train.progress_every = 1;
  ft.options.train.on_progress = [&](const engine::TrainProgress& p) {
    int64_t zeros = 0;
    for (float v : fc1.span<float>()) zeros += v == 0.0f ? 1 : 0;
    seen.emplace_back(p.epoch * p.steps_per_epoch + p.step,
                      static_cast<double>(zeros) / fc1.numel());
    return true;
  };
  auto s = prune_and_fine_tune(model, config, train, ft);
  ASSERT_TRUE(s.ok()) << s.status().message();
  EXPECT_EQ(s->steps, 64);
  EXPECT_EQ(s->mask_updates, 5);  // steps 10, 20, 30, 40, 50
  EXPECT_NEAR(s->rounds.back().sparsity, 0.8, 1e-3);
  // Progress runs after after_step: the sparsity at step t is the schedule's at the last
  // update step <= t (at least when the mask update reached the weights).
  ASSERT_EQ(seen.size(), 64u);
  for (auto [t, sparsity] : seen) {
    const int64_t last = t < 10 ? -1 : std::min<int64_t>(50, t / 10 * 10);
    const double expected = last < 0 ? 0.0 : config.cubic.sparsity(0.8, last);
    EXPECT_NEAR(sparsity, expected, 1.0 / fc1.numel() + 1e-9) << "step " << t;
  }
}

}  // namespace
}  // namespace retort::prune
