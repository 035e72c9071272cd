#include "retort/data/dataset.h"

#include <gtest/gtest.h>

#include "retort/data/idx.h"
#include "test_support.h"

namespace retort::data {
namespace {

using ::retort::data::testing::contains;
using ::retort::data::testing::TempDir;

// N images of 1x2x2 where image i holds i + 0.1 * k, labels i % classes.
Dataset tiny(int64_t n, int64_t classes) {
  Dataset ds;
  ds.images = Tensor(DType::kFloat32, {n, 1, 2, 2});
  for (int64_t i = 0; i < n; ++i) {
    for (int k = 0; k < 4; ++k)
      ds.images.data<float>()[i * 4 + k] = static_cast<float>(i) + 0.1f * k;
    ds.labels.push_back(static_cast<int32_t>(i % classes));
  }
  ds.num_classes = classes;
  for (int64_t c = 0; c < classes; ++c)
    ds.class_names.push_back(std::string("c").append(std::to_string(c)));
  ds.name = "tiny";
  return ds;
}

TEST(Dataset, LoadsIdxPairScaledWithOneChannel) {
  TempDir dir;
  Tensor images = Tensor::from_vector<uint8_t>({2, 2, 3}, {0, 51, 255, 1, 2, 3, 4, 5, 6, 7, 8, 9});
  Tensor labels = Tensor::from_vector<uint8_t>({2}, {3, 1});
  ASSERT_TRUE(write_idx(dir.file("img.gz"), images).ok());
  ASSERT_TRUE(write_idx(dir.file("lab.gz"), labels).ok());
  Expected<Dataset> ds = load_idx_dataset(dir.file("img.gz"), dir.file("lab.gz"), "pair");
  ASSERT_TRUE(ds.ok()) << ds.status().message();
  EXPECT_EQ(ds->images.shape(), (Shape{2, 1, 2, 3}));
  EXPECT_EQ(ds->images.data<float>()[1], 0.2f);
  EXPECT_EQ(ds->images.data<float>()[2], 1.0f);
  EXPECT_EQ(ds->labels, (std::vector<int32_t>{3, 1}));
  EXPECT_EQ(ds->num_classes, 4);
  EXPECT_EQ(ds->class_names, (std::vector<std::string>{"0", "1", "2", "3"}));
  EXPECT_TRUE(validate(*ds).ok());

  Expected<Dataset> named =
      load_idx_dataset(dir.file("img.gz"), dir.file("lab.gz"), "pair", {"a", "b", "c"});
  ASSERT_FALSE(named.ok());
  EXPECT_TRUE(contains(named.status().message(), "label 3 is outside the 3 classes"));
}

TEST(Dataset, MismatchedCountsAndSwappedFilesAreReported) {
  TempDir dir;
  ASSERT_TRUE(write_idx(dir.file("img"), Tensor(DType::kUInt8, {3, 2, 2})).ok());
  ASSERT_TRUE(write_idx(dir.file("lab"), Tensor(DType::kUInt8, {2})).ok());
  Expected<Dataset> ds = load_idx_dataset(dir.file("img"), dir.file("lab"), "pair");
  ASSERT_FALSE(ds.ok());
  EXPECT_TRUE(contains(ds.status().message(), "holds 3 images"));
  EXPECT_TRUE(contains(ds.status().message(), "holds 2 labels"));
  EXPECT_TRUE(contains(ds.status().message(), dir.file("lab")));

  ds = load_idx_dataset(dir.file("lab"), dir.file("img"), "swapped");
  ASSERT_FALSE(ds.ok());
  EXPECT_TRUE(contains(ds.status().message(), dir.file("lab")));
  EXPECT_TRUE(contains(ds.status().message(), "found 0x00000801 (uint8, 1 dim)"));
  EXPECT_TRUE(contains(ds.status().message(), "expected 0x00000803 (uint8, 3 dims)"));
}

TEST(Dataset, ImagesHeaderClaimingMoreThanTheFileHoldsFailsBeforeAllocating) {
  // 2^20 labels, and an images header that claims 2^20 images of 1024x1024 (4 TiB as float32)
  // over 16 bytes of pixels. The float32 images were allocated from the header before a pixel
  // was read: std::bad_alloc.
  TempDir dir;
  ASSERT_TRUE(write_idx(dir.file("lab"), Tensor(DType::kUInt8, {int64_t{1} << 20})).ok());
  std::vector<unsigned char> images = {0, 0, 8, 3, 0, 16, 0, 0, 0, 0, 4, 0, 0, 0, 4, 0};
  images.resize(images.size() + 16, 7);
  const std::string path = dir.write("img", images);
  Expected<Dataset> ds = load_idx_dataset(path, dir.file("lab"), "hostile");
  ASSERT_FALSE(ds.ok());
  EXPECT_TRUE(contains(ds.status().message(), path));
  EXPECT_TRUE(contains(ds.status().message(), "truncated"));
  EXPECT_TRUE(contains(ds.status().message(), "[1048576, 1024, 1024]"));
}

TEST(Dataset, SliceCopiesTheRangeAndRejectsOutOfRange) {
  Dataset ds = tiny(10, 3);
  Expected<Dataset> part = slice(ds, 7, 3);
  ASSERT_TRUE(part.ok()) << part.status().message();
  EXPECT_EQ(part->size(), 3);
  EXPECT_EQ(part->name, "tiny[7:10]");
  EXPECT_EQ(part->labels, (std::vector<int32_t>{1, 2, 0}));
  EXPECT_EQ(part->sample(0)[1], 7.1f);
  EXPECT_EQ(slice(ds, 10, 0)->size(), 0);

  Expected<Dataset> bad = slice(ds, 8, 5);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), ErrorCode::kInvalidArgument);
  EXPECT_TRUE(contains(bad.status().message(), "[8, 13) are out of range for 10 samples"));
  EXPECT_FALSE(slice(ds, -1, 2).ok());
}

TEST(Dataset, FilterClassesKeepsLabelsAndRejectsUnknownClasses) {
  Dataset ds = tiny(7, 3);
  Expected<Dataset> kept = filter_classes(ds, {1});
  ASSERT_TRUE(kept.ok()) << kept.status().message();
  EXPECT_EQ(kept->labels, (std::vector<int32_t>{0, 2, 0, 2, 0}));
  EXPECT_EQ(kept->sample(1)[0], 2.0f);  // sample 2 follows sample 0
  EXPECT_EQ(kept->num_classes, 3);
  EXPECT_EQ(kept->name, "tiny without c1");
  EXPECT_EQ(class_histogram(*kept), (std::vector<int64_t>{3, 0, 2}));

  Expected<Dataset> bad = filter_classes(ds, {3});
  ASSERT_FALSE(bad.ok());
  EXPECT_TRUE(contains(bad.status().message(), "class 3 does not exist; classes are 0..2"));
}

TEST(Dataset, ChannelStatsPerChannel) {
  Dataset ds;
  // Two samples, two channels of 1x2: channel 0 holds {0, 1, 0, 1}, channel 1 holds {0.5} x 4.
  ds.images = Tensor::from_vector<float>({2, 2, 1, 2}, {0, 1, 0.5f, 0.5f, 0, 1, 0.5f, 0.5f});
  ds.labels = {0, 0};
  ds.num_classes = 1;
  ds.class_names = {"only"};
  Expected<ChannelStats> stats = channel_stats(ds);
  ASSERT_TRUE(stats.ok()) << stats.status().message();
  EXPECT_FLOAT_EQ(stats->mean[0], 0.5f);
  EXPECT_FLOAT_EQ(stats->stddev[0], 0.5f);
  EXPECT_FLOAT_EQ(stats->mean[1], 0.5f);
  EXPECT_FLOAT_EQ(stats->stddev[1], 0.0f);
}

TEST(Dataset, ValidateNamesTheProblem) {
  Dataset ds = tiny(4, 2);
  ds.labels[2] = 5;
  Status s = validate(ds);
  ASSERT_FALSE(s.ok());
  EXPECT_TRUE(contains(s.message(), "label 5 of sample 2 is outside [0, 2)"));
  ds.labels.pop_back();
  EXPECT_TRUE(contains(validate(ds).message(), "4 images but 3 labels"));
}

}  // namespace
}  // namespace retort::data
