#include "retort/data/batch_loader.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <numeric>
#include <set>
#include <vector>

#include <omp.h>

#include "retort/core/cpu_budget.h"
#include "test_support.h"

namespace retort::data {
namespace {

using ::retort::data::testing::contains;

// n samples of 1 x side x side; every pixel of every sample is a distinct value in (0, 1].
Dataset counting(int64_t n, int64_t side = 4) {
  Dataset ds;
  ds.images = Tensor(DType::kFloat32, {n, 1, side, side});
  const int64_t total = ds.images.numel();
  for (int64_t i = 0; i < total; ++i) {
    ds.images.data<float>()[i] = static_cast<float>(i + 1) / static_cast<float>(total);
  }
  for (int64_t i = 0; i < n; ++i) ds.labels.push_back(static_cast<int32_t>(i % 10));
  ds.num_classes = 10;
  for (int c = 0; c < 10; ++c) ds.class_names.push_back(std::to_string(c));
  ds.name = "counting";
  return ds;
}

// Everything a batch delivers, copied out.
struct Seen {
  std::vector<int64_t> indices;
  std::vector<int32_t> labels;
  std::vector<float> images;
  int64_t size = 0;
  bool operator==(const Seen&) const = default;
};

std::vector<Seen> run_epoch(BatchLoader& loader, int epoch) {
  loader.start_epoch(epoch);
  std::vector<Seen> out;
  Batch batch;
  while (loader.next(batch)) {
    EXPECT_EQ(batch.epoch, epoch);
    EXPECT_EQ(batch.index, static_cast<int64_t>(out.size()));
    Seen s;
    s.indices.assign(batch.indices, batch.indices + batch.size);
    s.labels.assign(batch.labels, batch.labels + batch.capacity);
    s.images.assign(batch.image_span().begin(), batch.image_span().end());
    s.size = batch.size;
    out.push_back(std::move(s));
  }
  EXPECT_EQ(static_cast<int64_t>(out.size()), loader.batches_per_epoch());
  return out;
}

std::unique_ptr<BatchLoader> make_loader(const Dataset& ds, const LoaderOptions& options) {
  Expected<std::unique_ptr<BatchLoader>> loader = BatchLoader::create(ds, options);
  EXPECT_TRUE(loader.ok()) << loader.status().message();
  return loader.ok() ? std::move(loader).value() : nullptr;
}

LoaderOptions augmented(uint64_t seed, int prefetch) {
  LoaderOptions o;
  o.batch_size = 16;
  o.seed = seed;
  o.prefetch = prefetch;
  o.augment = {1, true};
  return o;
}

TEST(BatchLoader, SameSeedSameBatchesDifferentSeedOrEpochDifferent) {
  const Dataset ds = counting(100);
  auto a = make_loader(ds, augmented(7, 2));
  auto b = make_loader(ds, augmented(7, 2));
  auto c = make_loader(ds, augmented(8, 2));
  ASSERT_TRUE(a && b && c);
  const auto a0 = run_epoch(*a, 0);
  EXPECT_EQ(a0, run_epoch(*b, 0));
  EXPECT_EQ(run_epoch(*a, 1), run_epoch(*b, 1));
  EXPECT_NE(a0[0].indices, run_epoch(*c, 0)[0].indices);
  EXPECT_NE(a0[0].indices, run_epoch(*a, 1)[0].indices);  // reshuffled per epoch
  EXPECT_EQ(a0, run_epoch(*a, 0));                        // epoch 0 again: same batches
}

TEST(BatchLoader, EverySampleOncePerEpochWithAShortZeroPaddedLastBatch) {
  const Dataset ds = counting(103);
  LoaderOptions o;
  o.batch_size = 10;
  o.seed = 3;
  auto loader = make_loader(ds, o);
  ASSERT_TRUE(loader);
  EXPECT_EQ(loader->batches_per_epoch(), 11);
  for (int epoch : {0, 1}) {
    const auto batches = run_epoch(*loader, epoch);
    ASSERT_EQ(batches.size(), 11u);
    std::vector<int64_t> all;
    for (const Seen& s : batches) {
      all.insert(all.end(), s.indices.begin(), s.indices.end());
      for (int64_t r = 0; r < s.size; ++r) {
        const int64_t i = s.indices[r];
        EXPECT_EQ(s.labels[r], ds.labels[i]);
        EXPECT_TRUE(std::equal(ds.sample(i), ds.sample(i + 1), s.images.begin() + r * 16));
      }
    }
    EXPECT_EQ(batches.back().size, 3);
    EXPECT_EQ(batches[9].size, 10);
    std::vector<int64_t> expected(103);
    std::iota(expected.begin(), expected.end(), 0);
    EXPECT_NE(all, expected);  // shuffled
    std::sort(all.begin(), all.end());
    EXPECT_EQ(all, expected);
    // Rows 3..9 of the last batch are zeros.
    const Seen& last = batches.back();
    EXPECT_TRUE(std::all_of(last.images.begin() + std::ptrdiff_t{3} * 16, last.images.end(),
                            [](float v) { return v == 0.0f; }));
    EXPECT_TRUE(
        std::all_of(last.labels.begin() + 3, last.labels.end(), [](int32_t v) { return v == 0; }));
  }
}

TEST(BatchLoader, DropLastAndUnshuffledOrder) {
  const Dataset ds = counting(103);
  LoaderOptions o;
  o.batch_size = 10;
  o.drop_last = true;
  o.shuffle = false;
  auto loader = make_loader(ds, o);
  ASSERT_TRUE(loader);
  EXPECT_EQ(loader->batches_per_epoch(), 10);
  const auto batches = run_epoch(*loader, 4);
  ASSERT_EQ(batches.size(), 10u);
  for (size_t b = 0; b < batches.size(); ++b) {
    EXPECT_EQ(batches[b].size, 10);
    EXPECT_EQ(batches[b].indices.front(), static_cast<int64_t>(b) * 10);
    EXPECT_EQ(batches[b].indices.back(), static_cast<int64_t>(b) * 10 + 9);
  }
}

TEST(BatchLoader, PrefetchGivesTheSameBatchesAsNoPrefetch) {
  const Dataset ds = counting(75);
  auto sync = make_loader(ds, augmented(11, 0));
  auto one = make_loader(ds, augmented(11, 1));
  auto three = make_loader(ds, augmented(11, 3));
  ASSERT_TRUE(sync && one && three);
  for (int epoch : {0, 1, 2}) {
    const auto expected = run_epoch(*sync, epoch);
    EXPECT_EQ(run_epoch(*one, epoch), expected);
    EXPECT_EQ(run_epoch(*three, epoch), expected);
  }
  // Abandoning an epoch half-way and starting another gives that epoch's batches.
  Batch batch;
  three->start_epoch(0);
  ASSERT_TRUE(three->next(batch));
  ASSERT_TRUE(three->next(batch));
  EXPECT_EQ(run_epoch(*three, 1), run_epoch(*sync, 1));
  // next() without start_epoch() begins epoch 0.
  auto fresh = make_loader(ds, augmented(11, 2));
  ASSERT_TRUE(fresh->next(batch));
  EXPECT_EQ(batch.epoch, 0);
  EXPECT_EQ(std::vector<float>(batch.image_span().begin(), batch.image_span().end()),
            run_epoch(*sync, 0)[0].images);
}

TEST(BatchLoader, BatchesSplitOverTheCallersTeamAreTheOnesOneThreadMakes) {
  // 28x28 samples, batch 64: 50,176 floats, enough for next() to split the rows over the
  // OpenMP team. Whatever the team, the same crops, flips and rows.
  const Dataset ds = counting(150, 28);
  LoaderOptions o = augmented(13, 0);
  o.batch_size = 64;
  const int saved = omp_get_max_threads();
  omp_set_num_threads(1);
  auto single = make_loader(ds, o);
  ASSERT_TRUE(single);
  const auto expected0 = run_epoch(*single, 0), expected1 = run_epoch(*single, 1);
  omp_set_num_threads(3);  // an odd split of the 64 rows
  auto team = make_loader(ds, o);
  ASSERT_TRUE(team);
  const auto got0 = run_epoch(*team, 0), got1 = run_epoch(*team, 1);
  omp_set_num_threads(saved);
  EXPECT_EQ(got0, expected0);
  EXPECT_EQ(got1, expected1);
  EXPECT_NE(expected0[0].images, expected1[0].images);  // augmentation and order did vary
}

TEST(BatchLoader, AutoPrefetchUsesAWorkerOnlyWhenTheComputeLeavesACpu) {
  const Dataset ds = counting(40);
  LoaderOptions o;
  o.batch_size = 8;
  ASSERT_EQ(o.prefetch, LoaderOptions::kAutoPrefetch);
  {
    const ComputeThreadsScope every_cpu(usable_cpus());
    auto loader = make_loader(ds, o);
    ASSERT_TRUE(loader);
    EXPECT_EQ(loader->options().prefetch, 0);
  }
  if (usable_cpus() > 1) {
    const ComputeThreadsScope all_but_one(usable_cpus() - 1);
    auto loader = make_loader(ds, o);
    ASSERT_TRUE(loader);
    EXPECT_EQ(loader->options().prefetch, 2);
  }
  o.prefetch = 3;  // an explicit count is kept
  const ComputeThreadsScope every_cpu(usable_cpus());
  auto loader = make_loader(ds, o);
  ASSERT_TRUE(loader);
  EXPECT_EQ(loader->options().prefetch, 3);
}

TEST(BatchLoader, AugmentedRowsAreCropsAndFlipsOfTheirSample) {
  const int64_t side = 5;
  const Dataset ds = counting(8, side);
  LoaderOptions o = augmented(5, 2);
  o.batch_size = 8;
  o.augment = {2, true};
  auto loader = make_loader(ds, o);
  ASSERT_TRUE(loader);
  const int64_t pixels = side * side;
  std::set<std::tuple<int64_t, int64_t, bool>> used;
  for (int epoch = 0; epoch < 40; ++epoch) {
    const auto batches = run_epoch(*loader, epoch);
    ASSERT_EQ(batches.size(), 1u);
    const Seen& s = batches[0];
    for (int64_t r = 0; r < s.size; ++r) {
      const std::vector<float> row(s.images.begin() + r * pixels,
                                   s.images.begin() + (r + 1) * pixels);
      // Exactly one of the 5 x 5 x 2 candidate transforms gives this row (pixels are distinct
      // and non-zero, so the zero padding tells the shifts apart).
      int matches = 0;
      for (int64_t dy = -2; dy <= 2; ++dy) {
        for (int64_t dx = -2; dx <= 2; ++dx) {
          for (bool flip : {false, true}) {
            std::vector<float> candidate(pixels);
            apply_transform({dy, dx, flip}, ds.sample(s.indices[r]), candidate.data(), 1, side,
                            side);
            if (candidate == row) {
              ++matches;
              used.insert({dy, dx, flip});
            }
          }
        }
      }
      EXPECT_EQ(matches, 1) << "epoch " << epoch << " row " << r;
    }
  }
  EXPECT_GT(used.size(), 40u);  // 320 draws cover most of the 50 transforms
  EXPECT_TRUE(used.count({0, 0, true}) && used.count({0, 0, false}));
}

TEST(BatchLoader, BuffersAreAllocatedOnceAndReused) {
  const Dataset ds = counting(64);
  LoaderOptions o = augmented(1, 2);
  o.batch_size = 4;
  auto loader = make_loader(ds, o);
  ASSERT_TRUE(loader);
  std::set<const float*> image_buffers;
  std::set<const int32_t*> label_buffers;
  Batch batch;
  for (int epoch = 0; epoch < 3; ++epoch) {
    loader->start_epoch(epoch);
    while (loader->next(batch)) {
      image_buffers.insert(batch.images);
      label_buffers.insert(batch.labels);
    }
  }
  EXPECT_EQ(image_buffers.size(), 3u);  // prefetch + 1 slots
  EXPECT_EQ(label_buffers.size(), 3u);
}

TEST(BatchLoader, CopyToCallerBuffers) {
  const Dataset ds = counting(6);
  LoaderOptions o;
  o.batch_size = 4;
  o.shuffle = false;
  auto loader = make_loader(ds, o);
  ASSERT_TRUE(loader);
  Batch batch;
  ASSERT_TRUE(loader->next(batch));
  std::vector<float> images(size_t{4} * 16, -1.0f);
  std::vector<int32_t> labels(4, -1);
  ASSERT_TRUE(batch.copy_to(images, labels).ok());
  EXPECT_TRUE(std::equal(ds.sample(0), ds.sample(4), images.begin()));
  EXPECT_EQ(labels, (std::vector<int32_t>{0, 1, 2, 3}));
  std::vector<float> small(10);
  Status s = batch.copy_to(small, labels);
  ASSERT_FALSE(s.ok());
  EXPECT_TRUE(contains(s.message(), "this batch needs 64 and 4"));
}

TEST(BatchLoader, RejectsBadOptionsWithTheValue) {
  const Dataset ds = counting(10);
  LoaderOptions o;
  o.batch_size = 0;
  EXPECT_TRUE(contains(BatchLoader::create(ds, o).status().message(), "batch_size is 0"));
  o.batch_size = 4;
  o.augment.crop_padding = 4;
  EXPECT_TRUE(contains(BatchLoader::create(ds, o).status().message(),
                       "crop_padding is 4 for 4x4 images; use 0 (no crop) to 3"));
  o.augment.crop_padding = 0;
  o.batch_size = 11;
  o.drop_last = true;
  EXPECT_TRUE(contains(BatchLoader::create(ds, o).status().message(), "leaves no batch"));
  o.drop_last = false;
  o.prefetch = 9;
  EXPECT_TRUE(contains(BatchLoader::create(ds, o).status().message(), "prefetch is 9"));
  o.prefetch = -2;
  EXPECT_TRUE(contains(BatchLoader::create(ds, o).status().message(),
                       "prefetch is -2; use 0 (no background work) to 8, or "
                       "LoaderOptions::kAutoPrefetch (-1)"));
}

TEST(BatchLoader, DestroyingMidEpochWaitsForPrefetch) {
  const Dataset ds = counting(200, 8);
  for (int prefetch : {1, 4}) {
    LoaderOptions o = augmented(2, prefetch);
    o.batch_size = 2;
    auto loader = make_loader(ds, o);
    ASSERT_TRUE(loader);
    Batch batch;
    ASSERT_TRUE(loader->next(batch));
    loader.reset();  // must not crash or hang with tasks queued
  }
}

}  // namespace
}  // namespace retort::data
