#include "retort/core/text.h"

#include <gtest/gtest.h>

#include "retort/core/json_util.h"

namespace retort {
namespace {

TEST(Text, ClosestMatchTakesTyposAndLongerSpellings) {
  const std::vector<std::string> keys = {"batch", "epochs", "optimizer", "lr"};
  EXPECT_EQ(closest_match("epoch", keys), "epochs");
  EXPECT_EQ(closest_match("optimiser", keys), "optimizer");
  EXPECT_EQ(closest_match("batchsize", keys), "batch");  // a name with more after it
  EXPECT_EQ(closest_match("batch_size", keys), "batch");
  EXPECT_EQ(closest_match("optim", keys), "optimizer");  // a shortened name
  EXPECT_EQ(closest_match("momentum", keys), std::nullopt);
  EXPECT_EQ(closest_match("lr_decay", keys), std::nullopt);  // too short a prefix to guess
  EXPECT_EQ(did_you_mean("epoch", keys), " (did you mean 'epochs'?)");
  EXPECT_EQ(join({"a", "b", "c"}), "a, b, c");
  EXPECT_EQ(join({"a", "b"}, " -> "), "a -> b");
}

TEST(JsonUtil, PointersEscapeAndIntegersAreWhole) {
  EXPECT_EQ(json_pointer_append("/stages/0", "params"), "/stages/0/params");
  EXPECT_EQ(json_pointer_append("", "a/b~c"), "/a~1b~0c");
  EXPECT_EQ(json_pointer_append("/stages", size_t{3}), "/stages/3");
  EXPECT_EQ(as_integer(nlohmann::json(3.0)), 3);
  EXPECT_EQ(as_integer(nlohmann::json(-2)), -2);
  EXPECT_EQ(as_integer(nlohmann::json(2.5)), std::nullopt);
  EXPECT_EQ(as_integer(nlohmann::json("3")), std::nullopt);
  EXPECT_EQ(as_integer(nlohmann::json(uint64_t{1} << 63)), std::nullopt);  // beyond int64
  EXPECT_EQ(describe_json(nlohmann::json("x")), "string \"x\"");
}

}  // namespace
}  // namespace retort
