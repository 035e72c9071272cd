// The messages a recipe author sees for a bad model spec: what is wrong, where (JSON pointer),
// and how to fix it.
#include <gtest/gtest.h>

#include "arch/arch_test_util.h"
#include "retort/arch/build_model.h"

namespace retort::arch {
namespace {

using nlohmann::json;
using testing::error_of;

// Assertions that print the whole message when they fail (GoogleTest alone, no gmock).
::testing::AssertionResult StartsWith(const std::string& message, const std::string& prefix) {
  if (message.rfind(prefix, 0) == 0) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure()
         << "message:  " << message << "\nexpected prefix: " << prefix;
}
::testing::AssertionResult Contains(const std::string& message, const std::string& part) {
  if (message.find(part) != std::string::npos) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure()
         << "message:  " << message << "\nexpected to contain: " << part;
}
::testing::AssertionResult Lacks(const std::string& message, const std::string& part) {
  if (message.find(part) == std::string::npos) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure()
         << "message:  " << message << "\nexpected not to contain: " << part;
}

TEST(SpecErrors, SpecMustBeAnObject) {
  const std::string message = error_of(json::array({1, 2}));
  EXPECT_TRUE(StartsWith(message, "/: expected an object"));
  EXPECT_TRUE(Contains(message, "found array [1,2]"));
}

TEST(SpecErrors, MissingArchListsTheKnownOnes) {
  EXPECT_EQ(error_of({{"hidden", {10}}}),
            "/arch: required key is missing; say which architecture to build, one of: cnn, "
            "lenet-300-100, lenet5, mlp, plain-cnn, resnet");
}

TEST(SpecErrors, UnknownArchSuggestsAndLists) {
  EXPECT_EQ(error_of({{"arch", "rsnet"}}),
            "/arch: unknown architecture 'rsnet' (did you mean 'resnet'?); known architectures: "
            "cnn, lenet-300-100, lenet5, mlp, plain-cnn, resnet");
  const std::string far = error_of({{"arch", "transformer"}});
  EXPECT_TRUE(Contains(far, "unknown architecture 'transformer'; known architectures: cnn,"));
  EXPECT_TRUE(Lacks(far, "did you mean"));
  const std::string not_a_name = error_of({{"arch", 5}});
  EXPECT_TRUE(StartsWith(not_a_name, "/arch: expected the name of an architecture"));
  EXPECT_TRUE(Contains(not_a_name, "found number 5"));
}

TEST(SpecErrors, UnknownKeySuggestsTheClosestAndListsKnownKeys) {
  EXPECT_EQ(error_of({{"arch", "mlp"}, {"hiden", {64}}}),
            "/hiden: unknown key for architecture 'mlp' (did you mean 'hidden'?); known keys: "
            "activation, arch, class_names, classes, dropout, hidden, init, input, normalize");
  const std::string resnet = error_of({{"arch", "resnet"}, {"hidden", {64}}});
  EXPECT_TRUE(StartsWith(resnet, "/hidden: unknown key for architecture 'resnet'"));
  EXPECT_TRUE(Contains(resnet,
                       "known keys: arch, class_names, classes, depth, init, input, "
                       "normalize, width"));
  EXPECT_TRUE(StartsWith(error_of({{"arch", "lenet5"}, {"dropout", 0.5}}),
                         "/dropout: unknown key for architecture 'lenet5'"));
}

TEST(SpecErrors, UnknownKeyInANestedObjectHasItsFullPath) {
  json spec = {{"arch", "cnn"}, {"blocks", {{{"conv", 8}}, {{"conv", 16}, {"kernal", 5}}}}};
  const std::string block = error_of(spec);
  EXPECT_TRUE(StartsWith(block, "/blocks/1/kernal: unknown key for a conv block"));
  EXPECT_TRUE(Contains(block, "(did you mean 'kernel'?)"));
  const std::string normalize =
      error_of({{"arch", "mlp"}, {"normalize", {{"mean", 0.5}, {"stdev", 0.2}}}});
  EXPECT_TRUE(StartsWith(normalize, "/normalize/stdev: unknown key for \"normalize\""));
  EXPECT_TRUE(Contains(normalize, "did you mean 'std'?"));
}

TEST(SpecErrors, WrongTypeSaysExpectedAndFound) {
  EXPECT_EQ(error_of({{"arch", "mlp"}, {"hidden", "256"}}),
            "/hidden: expected an array of integers from 1 to 1048576, found string \"256\"");
  EXPECT_EQ(error_of({{"arch", "mlp"}, {"hidden", {256, "128"}}}),
            "/hidden/1: expected an integer from 1 to 1048576, found string \"128\"");
  EXPECT_EQ(error_of({{"arch", "mlp"}, {"hidden", {256, 0}}}),
            "/hidden/1: expected an integer from 1 to 1048576, found 0");
  EXPECT_EQ(error_of({{"arch", "mlp"}, {"classes", 2.5}}),
            "/classes: expected an integer from 1 to 1048576, found number 2.5");
  EXPECT_EQ(error_of({{"arch", "cnn"}, {"blocks", {{{"conv", 8}, {"bn", "yes"}}}}}),
            "/blocks/0/bn: expected true or false, found string \"yes\"");
  EXPECT_EQ(error_of({{"arch", "mlp"}, {"dropout", "0.5"}}),
            "/dropout: expected a number, found string \"0.5\"");
  EXPECT_EQ(error_of({{"arch", "cnn"}, {"blocks", json::array({8})}}),
            "/blocks/0: expected an object {\"key\": value, ...}, found number 8");
  EXPECT_EQ(error_of({{"arch", "cnn"}, {"blocks", {{"conv", 8}}}}),
            "/blocks: expected an array of objects, found object {\"conv\":8}");
}

TEST(SpecErrors, BadValues) {
  EXPECT_EQ(error_of({{"arch", "resnet"}, {"depth", 7}}),
            "/depth: resnet depth must be 6n+2 with n >= 1 (8, 14, 20, 32, 44, 56, 110, up to "
            "1202), found 7");
  const std::string plain = error_of({{"arch", "plain-cnn"}, {"depth", 5}});
  EXPECT_TRUE(StartsWith(plain,
                         "/depth: plain-cnn depth is the number of conv layers and must "
                         "be even, from 2 to 20"));
  EXPECT_TRUE(Contains(plain, "found 5"));
  EXPECT_EQ(error_of({{"arch", "mlp"}, {"dropout", 1.0}}),
            "/dropout: expected a drop probability in [0, 1), found 1; use 0 for no dropout");
  EXPECT_EQ(error_of({{"arch", "mlp"}, {"activation", "tanh"}}),
            "/activation: unknown value 'tanh'; use one of: relu");
  const std::string init = error_of({{"arch", "mlp"}, {"init", "kaimin"}});
  EXPECT_TRUE(StartsWith(init,
                         "/init: unknown value 'kaimin' (did you mean 'kaiming'?); use one "
                         "of: kaiming, kaiming_normal, kaiming_uniform, xavier"));
  EXPECT_TRUE(Contains(init, "xavier_normal"));
  EXPECT_EQ(error_of({{"arch", "mlp"}, {"input", {28, 28}}}),
            "/input: expected an array of 3 integers from 1 to 65536, found 2 values");
  EXPECT_EQ(error_of({{"arch", "mlp"}, {"classes", 0}}),
            "/classes: expected an integer from 1 to 1048576, found 0");
}

TEST(SpecErrors, ClassNamesMustMatchClasses) {
  EXPECT_EQ(error_of({{"arch", "mlp"}, {"classes", 10}, {"class_names", {"a", "b", "c"}}}),
            "/class_names: has 3 names but \"classes\" is 10; give one name per class (or drop "
            "\"classes\")");
  EXPECT_EQ(error_of({{"arch", "mlp"}, {"class_names", {"a", 2}}}),
            "/class_names/1: expected a string, found number 2");
}

TEST(SpecErrors, Normalization) {
  EXPECT_EQ(error_of({{"arch", "mlp"},
                      {"input", {3, 32, 32}},
                      {"normalize", {{"mean", {0.5}}, {"std", 0.25}}}}),
            "/normalize/mean: has 1 value but the input has 3 channels; give one number for all "
            "channels or one per channel");
  EXPECT_EQ(error_of({{"arch", "mlp"}, {"normalize", {{"mean", 0.5}, {"std", 0}}}}),
            "/normalize/std: every standard deviation must be > 0, found 0");
  EXPECT_TRUE(StartsWith(error_of({{"arch", "mlp"}, {"normalize", 0.5}}),
                         "/normalize: expected an object"));
  EXPECT_EQ(error_of({{"arch", "mlp"},
                      {"input", {2, 8, 8}},
                      {"normalize", {{"mean", {0.5, "x"}}, {"std", 1}}}}),
            "/normalize/mean/1: expected a number, found string \"x\"");
}

TEST(SpecErrors, ConvBlocks) {
  EXPECT_EQ(error_of({{"arch", "cnn"}, {"blocks", json::array()}}),
            "/blocks: expected at least 1 entry, found 0");
  EXPECT_EQ(error_of({{"arch", "cnn"}, {"blocks", {{{"kernel", 3}}}}}),
            "/blocks/0/conv: required key is missing");
  EXPECT_EQ(error_of({{"arch", "cnn"}, {"blocks", {{{"conv", 8}, {"pad", "sam"}}}}}),
            "/blocks/0/pad: unknown padding 'sam' (did you mean 'same'?); use \"same\", \"valid\" "
            "or a number of pixels >= 0");
  EXPECT_EQ(
      error_of({{"arch", "cnn"}, {"blocks", {{{"conv", 8}, {"pad", -1}}}}}),
      "/blocks/0/pad: expected \"same\", \"valid\" or an integer from 0 to 65536, found number -1");
  EXPECT_EQ(error_of({{"arch", "cnn"}, {"blocks", {{{"conv", 8}, {"pool", 1}}}}}),
            "/blocks/0/pool: a 1x1 pooling window does nothing; use 0 for no pooling or a "
            "window >= 2");
}

TEST(SpecErrors, ShapeErrorsNameTheBlockAndLayer) {
  json block = {{"conv", 4}, {"pool", 2}};
  json spec = {{"arch", "cnn"}, {"blocks", {block, block, block, block, block}}};
  // 28 -> 14 -> 7 -> 3 -> 1, then a 2x2 window on 1x1.
  EXPECT_EQ(error_of(spec),
            "/blocks/4: layer 'conv5.pool': a 2x2 pooling window does not fit the 1x1 feature "
            "map; pool less often or use a larger input");
  EXPECT_TRUE(StartsWith(error_of({{"arch", "cnn"},
                                   {"blocks", {{{"conv", 4}, {"kernel", 9}, {"pad", 0}}}},
                                   {"input", {1, 8, 8}}}),
                         "/blocks/0: layer 'conv1': a 9x9 kernel does not fit the 8x8 feature map "
                         "(padded to 8x8)"));
  EXPECT_TRUE(StartsWith(error_of({{"arch", "lenet5"}, {"input", {1, 8, 8}}}),
                         "/input: layer 'conv2': a 5x5 kernel does not fit the 4x4 feature map"));
}

TEST(SpecErrors, PathsArePrefixedInsideARecipe) {
  EXPECT_EQ(
      error_of({{"arch", "mlp"}, {"hidden", {256, "128"}}}, "/models/student"),
      "/models/student/hidden/1: expected an integer from 1 to 1048576, found string \"128\"");
  EXPECT_TRUE(StartsWith(
      error_of({{"arch", "cnn"}, {"blocks", {{{"conv", 8}, {"kernal", 5}}}}}, "/models/teacher"),
      "/models/teacher/blocks/0/kernal: unknown key"));
}

TEST(SpecErrors, ResolveSpecReportsTheSameErrors) {
  auto resolved = resolve_spec({{"arch", "resnet"}, {"depth", 9}});
  ASSERT_FALSE(resolved.ok());
  EXPECT_TRUE(StartsWith(resolved.status().message(), "/depth: resnet depth must be 6n+2"));
}

}  // namespace
}  // namespace retort::arch
