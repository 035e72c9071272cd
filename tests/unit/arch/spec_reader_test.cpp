#include "retort/arch/spec_reader.h"

#include <gtest/gtest.h>

namespace retort::arch {
namespace {

using nlohmann::json;

TEST(SpecReader, ClosestMatchFindsTyposOnly) {
  const std::vector<std::string> keys = {"hidden", "dropout", "activation", "input"};
  EXPECT_EQ(closest_match("hiden", keys), "hidden");
  EXPECT_EQ(closest_match("Dropuot", keys), "dropout");
  EXPECT_EQ(closest_match("inputs", keys), "input");
  EXPECT_EQ(closest_match("layers", keys), std::nullopt);
  EXPECT_EQ(closest_match("x", keys), std::nullopt);
  EXPECT_EQ(did_you_mean("activaton", keys), " (did you mean 'activation'?)");
  EXPECT_EQ(did_you_mean("zzz", keys), "");
}

TEST(SpecReader, DescribesFoundValues) {
  EXPECT_EQ(describe_json(json("256")), "string \"256\"");
  EXPECT_EQ(describe_json(json(1.5)), "number 1.5");
  EXPECT_EQ(describe_json(json(true)), "boolean true");
  EXPECT_EQ(describe_json(json(nullptr)), "null");
  EXPECT_EQ(describe_json(json::array({1, 2})), "array [1,2]");
  const std::string long_text(100, 'a');
  EXPECT_LE(describe_json(json(long_text)).size(), 50u);
}

TEST(SpecReader, ResolvesDefaultsAndRejectsUnreadKeys) {
  const json spec = {{"a", 3}, {"b", {{"c", true}}}, {"weird/key", 1}};
  json resolved;
  auto reader = SpecReader::open(spec, "/root", &resolved);
  ASSERT_TRUE(reader.ok());
  EXPECT_EQ(*reader->get_int("a", 1, 1, 5), 3);
  EXPECT_EQ(*reader->get_int("missing", 7), 7);
  auto nested = reader->get_object("b", nullptr);
  ASSERT_TRUE(nested.ok());
  EXPECT_EQ(*nested->get_bool("c", false), true);
  EXPECT_TRUE(nested->finish("b").ok());
  EXPECT_EQ(resolved, json({{"a", 3}, {"missing", 7}, {"b", {{"c", true}}}}));

  Status unknown = reader->finish("the test object");
  ASSERT_FALSE(unknown.ok());
  // JSON pointer escaping: '/' in a key is "~1".
  EXPECT_EQ(unknown.message(),
            "/root/weird~1key: unknown key for the test object; known keys: a, b, missing");
  EXPECT_EQ(reader->get_int("a", 1, 4, 5).status().message(),
            "/root/a: expected an integer from 4 to 5, found 3");
}

TEST(SpecReader, WholeFloatsCountAsIntegers) {
  const json spec = {{"n", 3.0}, {"list", {1.0, 2}}};
  json resolved;
  auto reader = SpecReader::open(spec, "", &resolved);
  ASSERT_TRUE(reader.ok());
  EXPECT_EQ(*reader->get_int("n", std::nullopt), 3);
  EXPECT_EQ(*reader->get_int_list("list", std::nullopt), (std::vector<int64_t>{1, 2}));
  EXPECT_EQ(resolved["n"], json(3));
}

}  // namespace
}  // namespace retort::arch
