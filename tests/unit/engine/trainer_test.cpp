#include "retort/engine/trainer.h"

#include <gtest/gtest.h>

#include <cstring>

#include "retort/arch/build_model.h"
#include "retort/data/fashion_mnist.h"
#include "support/test_support.h"

namespace retort::engine {
namespace {

using test_support::fashion;

Model mlp(uint64_t seed) {
  auto m = arch::build_model({{"arch", "mlp"}, {"hidden", {128, 64}}}, seed);
  EXPECT_TRUE(m.ok()) << m.status().message();
  return *m;
}

TEST(Trainer, MlpOnFiveThousandImagesReachesEightyPercent) {
  Model model = mlp(7);
  TrainOptions options;
  options.epochs = 4;
  options.batch = 64;
  options.optimizer.lr = 0.05f;
  options.schedule.type = "cosine";
  options.seed = 7;
  auto summary = train_classifier(model, fashion(data::Split::kTrain, 5000), options);
  ASSERT_TRUE(summary.ok()) << summary.status().message();
  EXPECT_LT(summary->epochs.back().loss, summary->epochs.front().loss);
  auto eval = evaluate_classifier(model, fashion(data::Split::kTest, 1000));
  ASSERT_TRUE(eval.ok()) << eval.status().message();
  EXPECT_EQ(eval->count, 1000);
  EXPECT_GE(eval->accuracy, 0.80);
  EXPECT_EQ(eval->per_class_accuracy.size(), 10u);
}

TEST(Trainer, SameSeedGivesBitIdenticalLossAndWeights) {
  TrainOptions options;
  options.epochs = 2;
  options.batch = 50;
  options.seed = 3;
  options.augment.crop_padding = 2;
  options.augment.horizontal_flip = true;
  std::vector<float> losses[2];
  Model models[2] = {mlp(3), mlp(3)};
  for (int run = 0; run < 2; ++run) {
    auto summary = train_classifier(models[run], fashion(data::Split::kTrain, 1000), options);
    ASSERT_TRUE(summary.ok()) << summary.status().message();
    for (const auto& e : summary->epochs) losses[run].push_back(e.loss);
  }
  ASSERT_EQ(losses[0].size(), 2u);
  EXPECT_EQ(std::memcmp(losses[0].data(), losses[1].data(), 2 * sizeof(float)), 0)
      << losses[0][1] << " vs " << losses[1][1];
  for (const auto& [name, w] : models[0].graph.initializers) {
    const Tensor& other = models[1].graph.initializers.at(name);
    EXPECT_EQ(std::memcmp(w.raw(), other.raw(), w.nbytes()), 0) << name;
  }
}

TEST(Trainer, DivergingLossStopsWithTheStep) {
  Model model = mlp(1);
  TrainOptions options;
  options.optimizer.lr = 1e9f;
  options.batch = 100;
  auto summary = train_classifier(model, fashion(data::Split::kTrain, 1000), options);
  ASSERT_FALSE(summary.ok());
  EXPECT_EQ(summary.status().code(), ErrorCode::kNumerical);
  EXPECT_NE(summary.status().message().find("at epoch 1 step"), std::string::npos)
      << summary.status().message();
  EXPECT_NE(summary.status().message().find("lower the learning rate"), std::string::npos);
}

TEST(Trainer, ModelBuiltForOtherImagesIsRejected) {
  auto model = arch::build_model({{"arch", "mlp"}, {"input", {3, 32, 32}}}, 1);
  ASSERT_TRUE(model.ok()) << model.status().message();
  auto eval = evaluate_classifier(*model, fashion(data::Split::kTest, 1000));
  ASSERT_FALSE(eval.ok());
  EXPECT_NE(eval.status().message().find("[1, 3, 32, 32]"), std::string::npos)
      << eval.status().message();
  EXPECT_NE(eval.status().message().find("[1, 1, 28, 28]"), std::string::npos)
      << eval.status().message();
}

TEST(Trainer, CancelledByProgressCallback) {
  Model model = mlp(2);
  TrainOptions options;
  options.batch = 100;
  options.progress_every = 3;
  options.on_progress = [](const TrainProgress& p) { return p.step < 3; };
  auto summary = train_classifier(model, fashion(data::Split::kTrain, 1000), options);
  ASSERT_FALSE(summary.ok());
  EXPECT_EQ(summary.status().code(), ErrorCode::kCancelled);
}

TEST(Trainer, AfterStepSeesEveryStepAfterTheUpdate) {
  Model model = mlp(3);
  TrainOptions options;
  options.batch = 100;
  options.epochs = 2;
  const std::string first_weight = model.learnable_parameters().front();
  const Tensor before = model.graph.initializers.at(first_weight).clone();
  std::vector<int64_t> seen;
  seen.reserve(32);
  bool moved_by_first_call = false;
  options.after_step = [&](int64_t steps_done) {
    if (seen.empty()) {
      const Tensor& now = model.graph.initializers.at(first_weight);
      moved_by_first_call = std::memcmp(now.raw(), before.raw(), now.nbytes()) != 0;
    }
    seen.push_back(steps_done);
  };
  auto summary = train_classifier(model, fashion(data::Split::kTrain, 1000), options);
  ASSERT_TRUE(summary.ok()) << summary.status().message();
  ASSERT_EQ(seen.size(), 20u);  // 10 steps per epoch, 2 epochs, counted across epochs
  for (size_t i = 0; i < seen.size(); ++i) EXPECT_EQ(seen[i], static_cast<int64_t>(i) + 1);
  EXPECT_TRUE(moved_by_first_call) << "after_step must run after the optimizer's update";
}

// An empty test split used to give accuracy 0.0 and loss 0.0 as if measured; an empty training
// split trained nothing and reported success.
TEST(Trainer, AnEmptySplitIsAnErrorNotAccuracyZero) {
  Model model = mlp(5);
  auto none = data::slice(fashion(data::Split::kTest, 10), 0, 0);
  ASSERT_TRUE(none.ok()) << none.status().message();
  ASSERT_EQ(none->size(), 0);
  auto eval = evaluate_classifier(model, *none);
  ASSERT_FALSE(eval.ok()) << "accuracy " << eval->accuracy << " over no images";
  EXPECT_EQ(eval.status().code(), ErrorCode::kInvalidArgument);
  EXPECT_TRUE(test_support::contains(eval.status().message(), "has no images to evaluate on"));
  EXPECT_TRUE(test_support::contains(eval.status().message(), "\"test_size\" of at least 1"));

  TrainOptions options;
  options.epochs = 1;
  auto trained = train_classifier(model, *none, options);
  ASSERT_FALSE(trained.ok());
  EXPECT_TRUE(test_support::contains(trained.status().message(), "has no images to train on"));
  EXPECT_TRUE(test_support::contains(trained.status().message(), "\"train_size\" of at least 1"));
}

}  // namespace
}  // namespace retort::engine
