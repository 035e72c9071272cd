// Specs whose numbers would make a model larger than any machine: a recipe is a file, and
// `retort validate` builds the models it names. These used to allocate the weights first
// (std::bad_alloc, an abort) or loop for hours (a resnet of a billion layers); now each is an
// error at the number's place in the recipe.
#include <gtest/gtest.h>

#include "arch/arch_test_util.h"
#include "retort/arch/build_model.h"

namespace retort::arch {
namespace {

using nlohmann::json;

::testing::AssertionResult Contains(const std::string& message, const std::string& part) {
  if (message.find(part) != std::string::npos) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure()
         << "message:  " << message << "\nexpected to contain: " << part;
}

std::string resolve_error(const json& spec) {
  auto resolved = resolve_spec(spec, "/models/big");
  EXPECT_FALSE(resolved.ok()) << spec.dump() << " resolved but should not";
  return resolved.ok() ? "" : resolved.status().message();
}

TEST(SpecSizes, EachSizeHasAnUpperBound) {
  EXPECT_TRUE(Contains(resolve_error({{"arch", "mlp"}, {"hidden", {int64_t{1} << 40}}}),
                       "/models/big/hidden/0: expected an integer from 1 to 1048576, found "
                       "1099511627776"));
  EXPECT_TRUE(Contains(resolve_error({{"arch", "mlp"}, {"classes", int64_t{1} << 40}}),
                       "/models/big/classes: expected an integer from 1 to 1048576"));
  EXPECT_TRUE(Contains(resolve_error({{"arch", "mlp"}, {"input", {1, 1 << 20, 28}}}),
                       "/models/big/input/1: expected an integer from 1 to 65536"));
  EXPECT_TRUE(
      Contains(resolve_error({{"arch", "cnn"}, {"blocks", {{{"conv", 8}, {"kernel", 1 << 30}}}}}),
               "/models/big/blocks/0/kernel: expected an integer from 1 to 65536"));
  EXPECT_TRUE(
      Contains(resolve_error({{"arch", "cnn"}, {"blocks", {{{"conv", 8}, {"pad", 1 << 30}}}}}),
               "/models/big/blocks/0/pad: expected \"same\", \"valid\" or an integer from 0 to "
               "65536"));
  EXPECT_TRUE(Contains(resolve_error({{"arch", "resnet"}, {"depth", 600000002}}),
                       "/models/big/depth: resnet depth must be 6n+2"));
  EXPECT_TRUE(Contains(resolve_error({{"arch", "resnet"}, {"depth", 600000002}}), "up to 1202"));
}

TEST(SpecSizes, WeightsLargerThanTheMachineAreAnErrorNotAnAllocation) {
  // Each number within its bound, the weights 4 TiB (fc2: 2^20 x 2^20 floats; fc1 4 MiB).
  const json two_wide_layers = {
      {"arch", "mlp"}, {"input", {1, 1, 1}}, {"hidden", {1 << 20, 1 << 20}}};
  std::string m = resolve_error(two_wide_layers);
  EXPECT_TRUE(Contains(m,
                       "/models/big: weight 'fc2.weight': float32 [1048576, 1048576] needs "
                       "4.0 TiB, more than the "));
  EXPECT_TRUE(Contains(m, "of memory this machine has; use fewer or smaller layers"));

  // A flattened 65536x65536 input: fc1 has 2^42 weights.
  m = resolve_error({{"arch", "mlp"}, {"input", {1, 1 << 16, 1 << 16}}, {"hidden", {1024}}});
  EXPECT_TRUE(Contains(m, "weight 'fc1.weight': float32 [1024, 4294967296] needs 16.0 TiB"));

  // Shapes whose element count overflows int64: 2^20 x 2^20 x 65536 x 65536.
  m = resolve_error({{"arch", "cnn"},
                     {"input", {1, 1 << 16, 1 << 16}},
                     {"blocks",
                      {{{"conv", 1 << 20}, {"pad", "valid"}, {"kernel", 1}},
                       {{"conv", 1 << 20}, {"pad", "valid"}, {"kernel", 1 << 16}}}}});
  EXPECT_TRUE(Contains(m,
                       "weight 'conv2.weight': float32 [1048576, 1048576, 65536, 65536] "
                       "needs more bytes than 64 bits can count"));

  // build_model says the same, before drawing a random number.
  auto built = build_model(two_wide_layers, 1);
  ASSERT_FALSE(built.ok());
  EXPECT_TRUE(Contains(built.status().message(), "weight 'fc2.weight'"));
}

}  // namespace
}  // namespace retort::arch
