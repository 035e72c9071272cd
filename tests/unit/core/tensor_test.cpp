#include "retort/core/tensor.h"

#include <gtest/gtest.h>

#include <cstdint>

namespace retort {
namespace {

TEST(Tensor, ZeroInitialisedAlignedAndShared) {
  Tensor t(DType::kFloat32, {2, 3, 5});
  EXPECT_EQ(t.numel(), 30);
  EXPECT_EQ(t.nbytes(), 120u);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(t.raw()) % 64, 0u);
  for (float v : t.span<float>()) EXPECT_EQ(v, 0.0f);
  Tensor alias = t;
  alias.data<float>()[7] = 3.5f;
  EXPECT_EQ(t.data<float>()[7], 3.5f);
  Tensor copy = t.clone();
  copy.data<float>()[7] = 1.0f;
  EXPECT_EQ(t.data<float>()[7], 3.5f);
  EXPECT_EQ(shape_to_string(t.reshaped({6, 5}).shape()), "[6, 5]");
}

TEST(Tensor, IntegerValuesWidenToInt64) {
  Tensor t = Tensor::from_vector<int32_t>({3}, {-1, 0, 7});
  EXPECT_EQ(t.to_int64_vector(), (std::vector<int64_t>{-1, 0, 7}));
}

}  // namespace
}  // namespace retort
