// N:M patterns hold in every group, along the right dimension, keeping the largest |w|.
#include "retort/prune/nm_pattern.h"

#include <gtest/gtest.h>

#include <cmath>

#include "prune/prune_test_support.h"

namespace retort::prune {
namespace {

using testing::contains;
using testing::single_layer;

// Checks by brute force over the [outer, inputs, inner] index formula written out per op:
// each group has exactly N kept, and every kept |w| >= every masked |w| in its group.
void expect_pattern(const Model& model, const LayerMask& m, NmPattern p,
                    const std::function<int64_t(int64_t o, int64_t k, int64_t i)>& index) {
  const PrunableLayer& l = m.layer;
  int64_t groups = 0;
  for (int64_t o = 0; o < l.outer; ++o)
    for (int64_t g = 0; g < l.inputs / p.m; ++g)
      for (int64_t i = 0; i < l.inner; ++i) {
        int64_t kept = 0;
        float min_kept = INFINITY, max_masked = 0;
        for (int64_t j = 0; j < p.m; ++j) {
          const int64_t at = index(o, g * p.m + j, i);
          const float a = std::fabs(m.weight[at]);
          if (m.keep[static_cast<size_t>(at)] != 0.0f) {
            ++kept;
            min_kept = std::min(min_kept, a);
          } else {
            max_masked = std::max(max_masked, a);
          }
        }
        ASSERT_EQ(kept, p.n) << "group " << o << "/" << g << "/" << i;
        ASSERT_GE(min_kept, max_masked);
        ++groups;
      }
  EXPECT_EQ(groups * p.m, l.numel());
  EXPECT_TRUE(satisfies_nm(l, m.weight, p));  // after apply (the caller applies)
  (void)model;
}

TEST(PruneNm, TwoOfFourAlongKOfAGemmWithTransB) {
  Model model = single_layer("Gemm", {6, 16}, 1);  // [N, K]
  auto masks = MaskSet::create(model, find_prunable_layers(model));
  ASSERT_TRUE(masks.ok());
  LayerMask& m = masks->layers()[0];
  EXPECT_EQ(m.layer.inputs, 16);
  compute_nm_mask(m, {2, 4});
  masks->apply();
  // Row-major [N, K]: groups are 4 consecutive elements of a row.
  expect_pattern(model, m, {2, 4}, [](int64_t o, int64_t k, int64_t) { return o * 16 + k; });
  EXPECT_DOUBLE_EQ(masks->sparsity(), 0.5);
}

TEST(PruneNm, AlongTheRowsOfAGemmWithoutTransBAndAMatMul) {
  for (const char* op : {"Gemm", "MatMul"}) {
    Model model = single_layer(op, {12, 5}, 0);  // [K, N]
    auto masks = MaskSet::create(model, find_prunable_layers(model));
    ASSERT_TRUE(masks.ok());
    LayerMask& m = masks->layers()[0];
    EXPECT_EQ(m.layer.inputs, 12) << op;
    compute_nm_mask(m, {1, 4});
    masks->apply();
    expect_pattern(model, m, {1, 4}, [](int64_t, int64_t k, int64_t i) { return k * 5 + i; });
    // Not along the other dimension: a row of 5 holds more than one non-zero somewhere.
    const PrunableLayer wrong{"x", "Gemm", "w", {12, 5}, 12, 5, 1};
    EXPECT_FALSE(satisfies_nm(wrong, m.weight, {1, 5})) << op;
  }
}

TEST(PruneNm, GroupsOfConsecutiveInputChannelsOfAConv) {
  Model model = single_layer("Conv", {3, 8, 3, 3}, 0);
  auto masks = MaskSet::create(model, find_prunable_layers(model));
  ASSERT_TRUE(masks.ok());
  LayerMask& m = masks->layers()[0];
  EXPECT_EQ(m.layer.inputs, 8);
  EXPECT_EQ(m.layer.inner, 9);
  compute_nm_mask(m, {2, 4});
  masks->apply();
  // [O, C, kh, kw]: at each (o, kh, kw), channels c..c+3.
  expect_pattern(model, m, {2, 4}, [](int64_t o, int64_t c, int64_t hw) {
    return ((o * 8 + c) * 3 + hw / 3) * 3 + hw % 3;
  });
}

TEST(PruneNm, OtherPatterns) {
  for (NmPattern p : {NmPattern{1, 2}, NmPattern{4, 8}, NmPattern{2, 8}, NmPattern{3, 4}}) {
    Model model = single_layer("Gemm", {5, 32}, 1, static_cast<uint64_t>(p.n * 10 + p.m));
    auto masks = MaskSet::create(model, find_prunable_layers(model));
    ASSERT_TRUE(masks.ok());
    LayerMask& m = masks->layers()[0];
    compute_nm_mask(m, p);
    masks->apply();
    expect_pattern(model, m, p, [](int64_t o, int64_t k, int64_t) { return o * 32 + k; });
    EXPECT_DOUBLE_EQ(masks->sparsity(), 1.0 - static_cast<double>(p.n) / p.m);
  }
}

TEST(PruneNm, BadPatternsAndLayersThatDoNotFit) {
  EXPECT_TRUE(contains(check_nm_pattern({4, 4}, "/params/nm").message(),
                       "/params/nm: an N:M pattern needs 1 <= N < M, got 4:4"));
  EXPECT_FALSE(check_nm_pattern({0, 4}, "").ok());
  EXPECT_TRUE(check_nm_pattern({2, 4}, "").ok());
  Model model = single_layer("Conv", {4, 6, 3, 3}, 0);
  EXPECT_FALSE(nm_fits(find_prunable_layers(model)[0], {2, 4}));
  EXPECT_TRUE(nm_fits(find_prunable_layers(model)[0], {1, 3}));
}

}  // namespace
}  // namespace retort::prune
