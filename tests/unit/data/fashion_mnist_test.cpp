// Reads the real Fashion-MNIST files (Debian's dataset-fashion-mnist). The test images are
// loaded once for the suite; the 60,000 training images are not loaded, to keep tests fast.
#include "retort/data/fashion_mnist.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <memory>
#include <numeric>

#include "retort/data/idx.h"
#include "test_support.h"

namespace retort::data {
namespace {

using ::retort::data::testing::contains;
using ::retort::data::testing::TempDir;

class FashionMnistTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    Expected<Dataset> loaded = load_fashion_mnist(Split::kTest, RETORT_FASHION_MNIST_DIR);
    ASSERT_TRUE(loaded.ok()) << loaded.status().message();
    test_set_ = new Dataset(std::move(loaded).value());
  }
  static void TearDownTestSuite() {
    delete test_set_;
    test_set_ = nullptr;
  }
  void SetUp() override {
    ASSERT_NE(test_set_, nullptr) << "the Fashion-MNIST test split did not load";
  }
  static const Dataset& test_set() { return *test_set_; }

 private:
  static Dataset* test_set_;
};
Dataset* FashionMnistTest::test_set_ = nullptr;

TEST_F(FashionMnistTest, TestSplitHasKnownShapeAndLabels) {
  const Dataset& ds = test_set();
  EXPECT_EQ(ds.name, "fashion-mnist/test");
  EXPECT_EQ(ds.images.dtype(), DType::kFloat32);
  EXPECT_EQ(ds.images.shape(), (Shape{10000, 1, 28, 28}));
  ASSERT_EQ(ds.labels.size(), 10000u);
  // The first and last labels of t10k-labels-idx1-ubyte.
  EXPECT_EQ(std::vector<int32_t>(ds.labels.begin(), ds.labels.begin() + 10),
            (std::vector<int32_t>{9, 2, 1, 1, 6, 1, 4, 6, 5, 7}));
  EXPECT_EQ(std::vector<int32_t>(ds.labels.end() - 3, ds.labels.end()),
            (std::vector<int32_t>{8, 1, 5}));
  EXPECT_EQ(ds.num_classes, 10);
  ASSERT_EQ(ds.class_names.size(), 10u);
  EXPECT_EQ(ds.class_names[ds.labels[0]], "Ankle boot");
  EXPECT_EQ(ds.class_names[0], "T-shirt/top");
  EXPECT_EQ(class_histogram(ds), std::vector<int64_t>(10, 1000));
}

TEST_F(FashionMnistTest, PixelsAreScaledBytes) {
  const Dataset& ds = test_set();
  const auto pixels = ds.images.span<float>();
  const auto [lo, hi] = std::minmax_element(pixels.begin(), pixels.end());
  EXPECT_EQ(*lo, 0.0f);
  EXPECT_EQ(*hi, 1.0f);
  // Every value is a byte / 255.
  for (size_t i = 0; i < pixels.size(); i += 997) {
    const float byte = pixels[i] * 255.0f;
    EXPECT_NEAR(byte, std::round(byte), 1e-3) << i;
  }
  // The first image's bytes sum to 33456.
  const double sum = std::accumulate(ds.sample(0), ds.sample(1), 0.0);
  EXPECT_NEAR(sum * 255.0, 33456.0, 1e-2);
}

TEST_F(FashionMnistTest, ChannelStatsMatchTheTestSet) {
  Expected<ChannelStats> stats = channel_stats(test_set());
  ASSERT_TRUE(stats.ok()) << stats.status().message();
  ASSERT_EQ(stats->mean.size(), 1u);
  EXPECT_NEAR(stats->mean[0], 0.28685, 1e-4);
  EXPECT_NEAR(stats->stddev[0], 0.35244, 1e-4);
}

TEST_F(FashionMnistTest, LeavingOutAClassDropsExactlyItsSamples) {
  Expected<Dataset> without = filter_classes(test_set(), {5});
  ASSERT_TRUE(without.ok()) << without.status().message();
  EXPECT_EQ(without->size(), 9000);
  EXPECT_EQ(without->num_classes, 10);
  EXPECT_EQ(without->name, "fashion-mnist/test without Sandal");
  std::vector<int64_t> expected(10, 1000);
  expected[5] = 0;
  EXPECT_EQ(class_histogram(*without), expected);
  // Sample 0 (Ankle boot) stays first and keeps its pixels.
  EXPECT_EQ(without->labels[0], 9);
  EXPECT_TRUE(std::equal(test_set().sample(0), test_set().sample(1), without->sample(0)));
}

TEST(FashionMnist, TrainLabelsAreBalanced) {
  Expected<Tensor> labels =
      read_idx(fashion_mnist_labels_path(Split::kTrain, RETORT_FASHION_MNIST_DIR));
  ASSERT_TRUE(labels.ok()) << labels.status().message();
  ASSERT_EQ(labels->shape(), (Shape{60000}));
  const uint8_t* l = labels->data<uint8_t>();
  EXPECT_EQ(std::vector<int>(l, l + 5), (std::vector<int>{9, 0, 0, 3, 0}));
  std::vector<int> counts(10, 0);
  for (int64_t i = 0; i < labels->numel(); ++i) ++counts.at(l[i]);
  EXPECT_EQ(counts, std::vector<int>(10, 6000));
}

TEST(FashionMnist, DefaultDirComesFromTheEnvironment) {
  const char* saved = std::getenv("RETORT_FASHION_MNIST_DIR");
  const std::string restore = saved ? saved : "";
  ::setenv("RETORT_FASHION_MNIST_DIR", "/data/fmnist", 1);
  EXPECT_EQ(default_fashion_mnist_dir(), "/data/fmnist");
  ::unsetenv("RETORT_FASHION_MNIST_DIR");
  EXPECT_EQ(default_fashion_mnist_dir(), "/usr/share/datasets/fashion-mnist");
  if (saved) ::setenv("RETORT_FASHION_MNIST_DIR", restore.c_str(), 1);
}

TEST(FashionMnist, MissingFolderSaysHowToGetTheData) {
  TempDir dir;
  Expected<Dataset> ds = load_fashion_mnist(Split::kTest, dir.file("nowhere"));
  ASSERT_FALSE(ds.ok());
  EXPECT_EQ(ds.status().code(), ErrorCode::kNotFound);
  EXPECT_TRUE(contains(ds.status().message(), "t10k-images-idx3-ubyte.gz"));
  EXPECT_TRUE(contains(ds.status().message(), "dataset-fashion-mnist"));
  EXPECT_TRUE(contains(ds.status().message(), "RETORT_FASHION_MNIST_DIR"));
}

}  // namespace
}  // namespace retort::data
