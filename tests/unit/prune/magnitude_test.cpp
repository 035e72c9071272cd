// Magnitude pruning picks the smallest |w|: per layer, globally, and with Han et al.'s rule.
#include "retort/prune/magnitude.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "prune/prune_test_support.h"

namespace retort::prune {
namespace {

using testing::build;
using testing::contains;

const nlohmann::json kLenet = {{"arch", "lenet-300-100"}};

// Every masked |w| is <= every kept |w| of the same layer; returns the masked count.
int64_t expect_smallest_masked(const LayerMask& m) {
  float max_masked = 0, min_kept = INFINITY;
  int64_t masked = 0;
  for (size_t i = 0; i < m.keep.size(); ++i) {
    const float a = std::fabs(m.weight[i]);
    if (m.keep[i] == 0.0f) {
      max_masked = std::max(max_masked, a);
      ++masked;
    } else {
      min_kept = std::min(min_kept, a);
    }
  }
  EXPECT_LE(max_masked, min_kept) << m.layer.node;
  return masked;
}

TEST(PruneMagnitude, LayerScopeMasksTheSmallestWeightsOfEachLayer) {
  Model model = build(kLenet, 1);
  auto masks = MaskSet::create(model, find_prunable_layers(model));
  ASSERT_TRUE(masks.ok());
  ASSERT_EQ(masks->layers().size(), 3u);
  MagnitudeOptions o;
  o.sparsity = 0.5f;
  o.layer_sparsity = {{"fc1", 0.92f}, {"fc2", 0.91f}, {"fc3", 0.74f}};  // Han et al.'s ratios
  auto p = MagnitudePruner::create(*masks, o);
  ASSERT_TRUE(p.ok()) << p.status().message();
  p->update_final();
  EXPECT_EQ(expect_smallest_masked(masks->layers()[0]), std::llround(0.92 * 784 * 300));
  EXPECT_EQ(expect_smallest_masked(masks->layers()[1]), std::llround(0.91 * 300 * 100));
  EXPECT_EQ(expect_smallest_masked(masks->layers()[2]), std::llround(0.74 * 100 * 10));
  // Weights are untouched until apply(); then exactly the masked ones are zero.
  EXPECT_EQ(model.nonzero_parameters(), model.parameter_count() - 410);  // biases start at 0
  masks->apply();
  for (const LayerMask& m : masks->layers())
    for (size_t i = 0; i < m.keep.size(); ++i) ASSERT_EQ(m.weight[i] == 0.0f, m.keep[i] == 0.0f);
}

TEST(PruneMagnitude, GlobalScopeUsesOneThresholdAcrossLayers) {
  Model model = build(kLenet, 2);
  // Scale fc2 down so a global threshold takes much more of it than of the others.
  for (float& v : model.graph.initializers.at("fc2.weight").span<float>()) v *= 0.1f;
  auto masks = MaskSet::create(model, find_prunable_layers(model));
  ASSERT_TRUE(masks.ok());
  MagnitudeOptions o;
  o.scope = MagnitudeOptions::Scope::kGlobal;
  o.sparsity = 0.6f;
  auto p = MagnitudePruner::create(*masks, o);
  ASSERT_TRUE(p.ok());
  p->update_final();
  float max_masked = 0, min_kept = INFINITY;
  int64_t masked = 0, total = 0;
  for (const LayerMask& m : masks->layers()) {
    total += static_cast<int64_t>(m.keep.size());
    for (size_t i = 0; i < m.keep.size(); ++i) {
      const float a = std::fabs(m.weight[i]);
      if (m.keep[i] == 0.0f) {
        max_masked = std::max(max_masked, a);
        ++masked;
      } else {
        min_kept = std::min(min_kept, a);
      }
    }
  }
  EXPECT_LE(max_masked, min_kept);
  EXPECT_EQ(masked, std::llround(0.6 * total));
  const double fc1 = static_cast<double>(masks->layers()[0].pruned()) / (784 * 300);
  const double fc2 = static_cast<double>(masks->layers()[1].pruned()) / (300 * 100);
  EXPECT_GT(fc2, 0.95);  // the small layer goes almost entirely
  EXPECT_LT(fc1, 0.6);
}

TEST(PruneMagnitude, HanRuleMasksBelowQualityTimesStd) {
  Model model = build(kLenet, 3);
  auto masks = MaskSet::create(model, find_prunable_layers(model));
  ASSERT_TRUE(masks.ok());
  MagnitudeOptions o;
  o.han_rule = true;
  o.quality = 0.8f;
  o.layer_quality = {{"fc3", 1.5f}};
  auto p = MagnitudePruner::create(*masks, o);
  ASSERT_TRUE(p.ok());
  p->update_final();
  for (size_t l = 0; l < 3; ++l) {
    const LayerMask& m = masks->layers()[l];
    double sum = 0, sq = 0;
    const double n = static_cast<double>(m.keep.size());
    for (size_t i = 0; i < m.keep.size(); ++i) sum += m.weight[i];
    const double mean = sum / n;
    for (size_t i = 0; i < m.keep.size(); ++i) sq += (m.weight[i] - mean) * (m.weight[i] - mean);
    const double std = std::sqrt(sq / n);
    EXPECT_NEAR(p->layer_std(l), std, 1e-6 * std);
    const double threshold = (l == 2 ? 1.5 : 0.8) * std;
    int64_t wrong = 0, masked = 0;
    for (size_t i = 0; i < m.keep.size(); ++i) {
      const bool below = std::fabs(m.weight[i]) < threshold;
      // Allow float rounding right at the threshold.
      if (std::fabs(std::fabs(m.weight[i]) - threshold) > 1e-6 * threshold)
        wrong += below != (m.keep[i] == 0.0f) ? 1 : 0;
      masked += m.keep[i] == 0.0f ? 1 : 0;
    }
    EXPECT_EQ(wrong, 0) << m.layer.node;
    // Normal weights: P(|w| < 0.8 std) = 0.576, P(|w| < 1.5 std) = 0.866.
    EXPECT_NEAR(static_cast<double>(masked) / n, l == 2 ? 0.866 : 0.576, l == 2 ? 0.06 : 0.02);
  }
}

TEST(PruneMagnitude, RepeatedUpdatesKeepEarlierMasksAndGrow) {
  Model model = build(kLenet, 4);
  auto masks = MaskSet::create(model, find_prunable_layers(model));
  ASSERT_TRUE(masks.ok());
  MagnitudeOptions o;
  o.sparsity = 0.8f;
  auto p = MagnitudePruner::create(*masks, o);
  ASSERT_TRUE(p.ok());
  p->update([](double f) { return f / 2; });
  masks->apply();
  const std::vector<float> first = masks->layers()[0].keep;
  p->update_final();
  const std::vector<float>& second = masks->layers()[0].keep;
  for (size_t i = 0; i < first.size(); ++i) {
    if (first[i] == 0.0f) {
      ASSERT_EQ(second[i], 0.0f) << i;
    }
  }
  EXPECT_NEAR(masks->sparsity(), 0.8, 1e-4);
}

TEST(PruneMagnitude, BadTargetsAreRejectedWithThePath) {
  Model model = build(kLenet, 1);
  auto masks = MaskSet::create(model, find_prunable_layers(model));
  ASSERT_TRUE(masks.ok());
  MagnitudeOptions o;
  o.sparsity = 1.0f;
  auto one = MagnitudePruner::create(*masks, o, "/params/magnitude");
  ASSERT_FALSE(one.ok());
  EXPECT_TRUE(contains(one.status().message(),
                       "/params/magnitude/sparsity: sparsity must be in [0, 1), got 1"));
  o.sparsity = -0.1f;
  auto negative = MagnitudePruner::create(*masks, o, "/params/magnitude");
  ASSERT_FALSE(negative.ok());
  EXPECT_TRUE(contains(negative.status().message(), "sparsity must be in [0, 1), got -0.1"));
  o.sparsity = 0.5f;
  o.layer_sparsity = {{"fc9", 0.5f}};
  auto unknown = MagnitudePruner::create(*masks, o, "/params/magnitude");
  ASSERT_FALSE(unknown.ok());
  EXPECT_TRUE(contains(unknown.status().message(), "/params/magnitude/layer_sparsity/fc9"));
  EXPECT_TRUE(contains(unknown.status().message(), "the prunable layers are: fc1, fc2, fc3"));
}

TEST(PruneLayers, OnlyConvGemmMatMulWeightsAreListedByNodeName) {
  Model cnn = build({{"arch", "cnn"},
                     {"blocks", {{{"conv", 8}, {"pool", 2}, {"bn", true}}, {{"conv", 16}}}},
                     {"fc", {32}}},
                    1);
  auto layers = find_prunable_layers(cnn);
  EXPECT_EQ(layer_names(layers), "conv1, conv2, fc1, fc2");
  EXPECT_EQ(layers[0].outer, 8);
  EXPECT_EQ(layers[0].inputs, 1);
  EXPECT_EQ(layers[0].inner, 9);
  EXPECT_EQ(layers[1].inputs, 8);
  EXPECT_EQ(layers[2].op, "Gemm");
  EXPECT_EQ(layers[2].inputs * layers[2].outer, layers[2].numel());  // transB=1: [N, K]
  auto bad = select_layers(cnn, {"conv1", "conv1.bn"}, "/params/layers");
  ASSERT_FALSE(bad.ok());
  EXPECT_TRUE(contains(bad.status().message(),
                       "/params/layers: no prunable layer named 'conv1.bn'; the prunable layers "
                       "are: conv1, conv2, fc1, fc2"));
}

}  // namespace
}  // namespace retort::prune
