// load_data_section: the class names a recipe's data section gives its datasets. Runs on a
// small stand-in for the Fashion-MNIST folder (uncompressed IDX files under the .gz names,
// which the reader accepts), so that it is fast and needs no installed data.
#include "retort/data/data_section.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <tuple>
#include <vector>

#include "retort/data/fashion_mnist.h"
#include "test_support.h"

namespace retort::data {
namespace {

using nlohmann::json;
using ::retort::data::testing::TempDir;

std::vector<unsigned char> be32(uint32_t v) {
  return {static_cast<unsigned char>(v >> 24), static_cast<unsigned char>(v >> 16),
          static_cast<unsigned char>(v >> 8), static_cast<unsigned char>(v)};
}

// `count` 28x28 images (pixel value = sample index) and labels 0..9 repeating.
void write_split(const TempDir& dir, Split split, uint32_t count) {
  std::vector<unsigned char> images = be32(0x00000803);
  for (uint32_t d : {count, 28u, 28u}) {
    auto b = be32(d);
    images.insert(images.end(), b.begin(), b.end());
  }
  for (uint32_t i = 0; i < count; ++i)
    images.insert(images.end(), 28 * 28, static_cast<unsigned char>(i));
  std::vector<unsigned char> labels = be32(0x00000801);
  auto n = be32(count);
  labels.insert(labels.end(), n.begin(), n.end());
  for (uint32_t i = 0; i < count; ++i) labels.push_back(static_cast<unsigned char>(i % 10));
  const std::string prefix = split == Split::kTrain ? "train" : "t10k";
  dir.write(prefix + "-images-idx3-ubyte.gz", images);
  dir.write(prefix + "-labels-idx1-ubyte.gz", labels);
}

class DataSectionTest : public ::testing::Test {
 protected:
  DataSectionTest() {
    write_split(dir_, Split::kTrain, 20);
    write_split(dir_, Split::kTest, 10);
  }
  json section(json extra = json::object()) const {
    json s = {{"dataset", "fashion-mnist"}, {"dir", dir_.file("")}};
    s.update(extra);
    return s;
  }

  TempDir dir_;
};

const std::vector<std::string> kRenamed = {"top",    "trousers", "jumper",  "dress",   "coat",
                                           "sandal", "shirt",    "trainer", "handbag", "boot"};

TEST_F(DataSectionTest, FashionMnistCarriesItsClassNames) {
  auto splits = load_data_section(section());
  ASSERT_TRUE(splits.ok()) << splits.status().message();
  const std::vector<std::string> expected = {"T-shirt/top", "Trouser",   "Pullover", "Dress",
                                             "Coat",        "Sandal",    "Shirt",    "Sneaker",
                                             "Bag",         "Ankle boot"};
  EXPECT_EQ((*splits)->train.class_names, expected);
  EXPECT_EQ((*splits)->test.class_names, expected);
  EXPECT_EQ((*splits)->train.size(), 20);
  EXPECT_EQ((*splits)->test.num_classes, 10);
}

TEST_F(DataSectionTest, RecipeClassNamesOverrideTheDefault) {
  auto splits = load_data_section(section({{"class_names", kRenamed}, {"train_size", 5}}));
  ASSERT_TRUE(splits.ok()) << splits.status().message();
  EXPECT_EQ((*splits)->train.class_names, kRenamed);  // kept through the train_size slice
  EXPECT_EQ((*splits)->train.size(), 5);
  EXPECT_EQ((*splits)->test.class_names, kRenamed);
  EXPECT_EQ((*splits)->test.num_classes, 10);
}

TEST_F(DataSectionTest, ClassNamesAreValidatedWithTheirJsonPath) {
  auto count = load_data_section(section({{"class_names", {"a", "b", "c"}}}));
  ASSERT_FALSE(count.ok());
  EXPECT_EQ(count.status().code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(count.status().message(),
            "/data/class_names: Fashion-MNIST has 10 classes but 3 names are given; give one "
            "name per class");

  json mixed = kRenamed;
  mixed[1] = 1;
  auto typed = load_data_section(section({{"class_names", mixed}}));
  ASSERT_FALSE(typed.ok());
  EXPECT_EQ(typed.status().message(),
            "/data/class_names/1: expected a class name (a string), found number 1");

  auto scalar = load_data_section(section({{"class_names", "top"}}));
  ASSERT_FALSE(scalar.ok());
  EXPECT_EQ(scalar.status().message(),
            "/data/class_names: expected a non-empty array of strings, found string \"top\"");
}

TEST_F(DataSectionTest, IdxDatasetsTakeTheGivenNames) {
  const json idx = {{"dataset", "idx"},
                    {"train_images", fashion_mnist_images_path(Split::kTrain, dir_.file(""))},
                    {"train_labels", fashion_mnist_labels_path(Split::kTrain, dir_.file(""))},
                    {"test_images", fashion_mnist_images_path(Split::kTest, dir_.file(""))},
                    {"test_labels", fashion_mnist_labels_path(Split::kTest, dir_.file(""))},
                    {"class_names", kRenamed}};
  auto splits = load_data_section(idx);
  ASSERT_TRUE(splits.ok()) << splits.status().message();
  EXPECT_EQ((*splits)->train.class_names, kRenamed);
  json unnamed = idx;
  unnamed.erase("class_names");
  auto numbered = load_data_section(unnamed);
  ASSERT_TRUE(numbered.ok()) << numbered.status().message();
  EXPECT_EQ((*numbered)->test.class_names.front(), "0");
  EXPECT_EQ((*numbered)->test.class_names.back(), "9");
}

// A size below 1 or not a whole number used to give an empty split (or throw); it gets the
// message the recipe check gives.
TEST_F(DataSectionTest, SizesBelowOneAreRejectedWithTheRecipeMessage) {
  for (const auto& [key, value, found] : std::vector<std::tuple<std::string, json, std::string>>{
           {"test_size", 0, "number 0"},
           {"test_size", -3, "number -3"},
           {"train_size", "ten", "string \"ten\""},
           {"train_size", 2.5, "number 2.5"}}) {
    SCOPED_TRACE(key + " = " + value.dump());
    auto splits = load_data_section(section({{key, value}}));
    ASSERT_FALSE(splits.ok());
    EXPECT_EQ(splits.status().code(), ErrorCode::kInvalidArgument);
    EXPECT_NE(splits.status().message().find("/data/" + key + ": expected an integer >= 1, found " +
                                             found),
              std::string::npos)
        << splits.status().message();
  }
  auto one = load_data_section(section({{"test_size", 1}}));
  ASSERT_TRUE(one.ok()) << one.status().message();
  EXPECT_EQ((*one)->test.size(), 1);
}

}  // namespace
}  // namespace retort::data
