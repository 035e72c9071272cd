// Masks hold through real training: SGD with momentum and weight decay, AdamW, and distillation.
#include "retort/prune/masks.h"

#include <gtest/gtest.h>

#include "prune/prune_test_support.h"
#include "retort/prune/magnitude.h"
#include "retort/prune/pruning.h"

namespace retort::prune {
namespace {

using testing::build;
using testing::fashion;

const nlohmann::json kMlp = {{"arch", "mlp"}, {"hidden", {48, 32}}};

struct Snapshot {
  std::map<std::string, std::vector<float>> weights;
};

Snapshot snapshot(const MaskSet& masks) {
  Snapshot s;
  for (const LayerMask& m : masks.layers())
    s.weights[m.layer.node] = std::vector<float>(m.weight, m.weight + m.keep.size());
  return s;
}

enum class Enforce { kNone, kWeights, kGradients };

// Trains a magnitude-masked MLP with `ft` and checks that every masked weight is exactly zero
// and that the unmasked ones moved. kWeights re-applies the masks after every step; kGradients
// only zeroes the pruned weights' gradients before every step (so their momentum stays zero).
void expect_masks_hold(FineTune ft, Enforce mode) {
  const bool enforce = mode != Enforce::kNone;
  Model model = build(kMlp, 3);
  auto masks = MaskSet::create(model, find_prunable_layers(model));
  ASSERT_TRUE(masks.ok()) << masks.status().message();
  MagnitudeOptions mo;
  mo.sparsity = 0.7f;
  auto pruner = MagnitudePruner::create(*masks, mo);
  ASSERT_TRUE(pruner.ok()) << pruner.status().message();
  pruner->update_final();
  masks->apply();
  const Snapshot before = snapshot(*masks);
  int64_t calls = 0;
  auto trained = fine_tune(
      model, fashion(data::Split::kTrain, 1024), ft,
      [&](int64_t step) {
        ++calls;
        EXPECT_EQ(step, calls);
        if (mode == Enforce::kWeights) masks->apply();
      },
      mode == Enforce::kGradients ? &*masks : nullptr);
  ASSERT_TRUE(trained.ok()) << trained.status().message();
  EXPECT_EQ(calls, trained->steps);
  EXPECT_GE(trained->steps, 60);
  int64_t masked = 0, masked_nonzero = 0, kept = 0, moved = 0;
  for (const LayerMask& m : masks->layers()) {
    const std::vector<float>& w0 = before.weights.at(m.layer.node);
    for (size_t i = 0; i < m.keep.size(); ++i) {
      if (m.keep[i] == 0.0f) {
        ++masked;
        masked_nonzero += m.weight[i] != 0.0f ? 1 : 0;
      } else {
        ++kept;
        moved += m.weight[i] != w0[i] ? 1 : 0;
      }
    }
  }
  ASSERT_GT(masked, 0);
  if (enforce) {
    EXPECT_EQ(masked_nonzero, 0) << "masked weights that are not exactly zero";
  } else {
    // The control: without the hook, momentum and weight decay revive pruned weights.
    EXPECT_GT(masked_nonzero, masked / 2);
  }
  EXPECT_GT(moved, kept * 9 / 10) << "the unmasked weights did not train";
}

FineTune sgd_options() {
  FineTune ft;
  ft.options.train.epochs = 5;
  ft.options.train.batch = 64;
  ft.options.train.seed = 7;
  ft.options.train.optimizer.lr = 0.05f;
  ft.options.train.optimizer.momentum = 0.9f;
  ft.options.train.optimizer.weight_decay = 5e-4f;
  return ft;
}

TEST(PruneMasks, HoldThroughSgdWithMomentumAndWeightDecay) {
  expect_masks_hold(sgd_options(), Enforce::kWeights);
}

TEST(PruneMasks, WithoutEnforcementMomentumRevivesPrunedWeights) {
  expect_masks_hold(sgd_options(), Enforce::kNone);
}

TEST(PruneMasks, MaskedGradientsAloneKeepPrunedWeightsAtZero) {
  expect_masks_hold(sgd_options(), Enforce::kGradients);
}

TEST(PruneMasks, HoldThroughAdamW) {
  FineTune ft = sgd_options();
  ft.options.train.epochs = 4;
  ft.options.train.optimizer.type = "adamw";
  ft.options.train.optimizer.lr = 0.002f;
  ft.options.train.optimizer.weight_decay = 0.01f;
  expect_masks_hold(ft, Enforce::kWeights);
  expect_masks_hold(ft, Enforce::kGradients);
}

TEST(PruneMasks, HoldThroughDistillation) {
  Model teacher = build({{"arch", "mlp"}, {"hidden", {64}}}, 11);
  FineTune ft = sgd_options();
  ft.options.train.epochs = 4;
  ft.options.kd = distill::KdTerm{};
  ft.teachers = {&teacher};
  expect_masks_hold(ft, Enforce::kWeights);
  expect_masks_hold(ft, Enforce::kGradients);
}

TEST(PruneMasks, ApplyZeroesExactlyTheMaskedElements) {
  Model model = testing::single_layer("Gemm", {4, 8}, 1);
  auto masks = MaskSet::create(model, find_prunable_layers(model));
  ASSERT_TRUE(masks.ok());
  LayerMask& m = masks->layers()[0];
  for (size_t i = 0; i < m.keep.size(); ++i) m.keep[i] = i % 3 == 0 ? 0.0f : 1.0f;
  const std::vector<float> w0(m.weight, m.weight + 32);
  masks->apply();
  for (size_t i = 0; i < 32; ++i) EXPECT_EQ(m.weight[i], i % 3 == 0 ? 0.0f : w0[i]) << i;
  EXPECT_EQ(m.pruned(), 11);
  EXPECT_NEAR(masks->sparsity(), 11.0 / 32, 1e-12);
}

}  // namespace
}  // namespace retort::prune
