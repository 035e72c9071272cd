#include "retort/data/augment.h"

#include <gtest/gtest.h>

#include <set>
#include <vector>

namespace retort::data {
namespace {

// 1..9 in a 3x3 image:   1 2 3 / 4 5 6 / 7 8 9
const std::vector<float> kImage = {1, 2, 3, 4, 5, 6, 7, 8, 9};

std::vector<float> transformed(const Transform& t, const std::vector<float>& in, int64_t c = 1) {
  std::vector<float> out(in.size(), -1.0f);
  apply_transform(t, in.data(), out.data(), c, 3, 3);
  return out;
}

TEST(Augment, IdentityCopies) {
  EXPECT_EQ(transformed({}, kImage), kImage);
}

TEST(Augment, ShiftsFillWithZeros) {
  // Crop taken one row lower: the image moves up, a zero row enters at the bottom.
  EXPECT_EQ(transformed({1, 0, false}, kImage), (std::vector<float>{4, 5, 6, 7, 8, 9, 0, 0, 0}));
  // Crop taken one column to the left: the image moves right.
  EXPECT_EQ(transformed({0, -1, false}, kImage), (std::vector<float>{0, 1, 2, 0, 4, 5, 0, 7, 8}));
  EXPECT_EQ(transformed({-2, 2, false}, kImage), (std::vector<float>{0, 0, 0, 0, 0, 0, 3, 0, 0}));
  EXPECT_EQ(transformed({3, 0, false}, kImage), std::vector<float>(9, 0.0f));
}

TEST(Augment, FlipMirrorsAfterTheCrop) {
  EXPECT_EQ(transformed({0, 0, true}, kImage), (std::vector<float>{3, 2, 1, 6, 5, 4, 9, 8, 7}));
  // Cropped rows are {2 3 0}, {5 6 0}, {8 9 0}; mirrored: {0 3 2}...
  EXPECT_EQ(transformed({0, 1, true}, kImage), (std::vector<float>{0, 3, 2, 0, 6, 5, 0, 9, 8}));
  EXPECT_EQ(transformed({-1, -1, true}, kImage), (std::vector<float>{0, 0, 0, 2, 1, 0, 5, 4, 0}));
}

TEST(Augment, AppliesToEveryChannel) {
  std::vector<float> two(kImage);
  for (float v : kImage) two.push_back(10 * v);
  const std::vector<float> out = transformed({1, 0, true}, two, 2);
  EXPECT_EQ(std::vector<float>(out.begin(), out.begin() + 9),
            (std::vector<float>{6, 5, 4, 9, 8, 7, 0, 0, 0}));
  EXPECT_EQ(std::vector<float>(out.begin() + 9, out.end()),
            (std::vector<float>{60, 50, 40, 90, 80, 70, 0, 0, 0}));
}

TEST(Augment, DrawsAreSeededAndCoverTheRange) {
  const AugmentOptions options{2, true};
  std::set<int64_t> ys, xs;
  int flips = 0;
  for (uint64_t seed = 0; seed < 2000; ++seed) {
    const Transform t = draw_transform(options, seed);
    const Transform again = draw_transform(options, seed);
    ASSERT_EQ(t.shift_y, again.shift_y);
    ASSERT_EQ(t.shift_x, again.shift_x);
    ASSERT_EQ(t.flip, again.flip);
    ys.insert(t.shift_y);
    xs.insert(t.shift_x);
    flips += t.flip;
  }
  EXPECT_EQ(ys, (std::set<int64_t>{-2, -1, 0, 1, 2}));
  EXPECT_EQ(xs, (std::set<int64_t>{-2, -1, 0, 1, 2}));
  EXPECT_GT(flips, 900);
  EXPECT_LT(flips, 1100);

  for (uint64_t seed = 0; seed < 100; ++seed) {
    const Transform t = draw_transform({0, false}, seed);
    EXPECT_EQ(t.shift_y, 0);
    EXPECT_EQ(t.shift_x, 0);
    EXPECT_FALSE(t.flip);
  }
}

}  // namespace
}  // namespace retort::data
