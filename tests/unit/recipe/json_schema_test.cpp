#include "retort/core/json_schema.h"

#include <gtest/gtest.h>

namespace retort::recipe {
namespace {

using nlohmann::json;

const json kSchema = json::parse(R"({
  "type": "object",
  "additionalProperties": false,
  "required": ["epochs"],
  "properties": {
    "epochs": {"type": "integer", "minimum": 1},
    "lr": {"type": "number", "exclusiveMinimum": 0, "default": 0.1},
    "momentum": {"type": "number", "minimum": 0, "exclusiveMaximum": 1, "default": 0.9},
    "layers": {"type": "integer", "minimum": 1, "maximum": 10, "default": 2},
    "optimizer": {"enum": ["sgd", "adam", "adamw"], "default": "sgd"},
    "augment": {
      "type": "object",
      "additionalProperties": false,
      "default": {},
      "properties": {
        "flip": {"type": "boolean", "default": false},
        "crop": {"type": "integer", "minimum": 0, "default": 2}
      }
    },
    "schedule": {
      "type": "object",
      "properties": {"warmup": {"type": "integer", "default": 0}}
    },
    "drop": {"type": "array", "items": {"type": "integer", "minimum": 0}, "minItems": 1},
    "names": {"type": "array", "items": {"type": "string"}, "maxItems": 2},
    "size": {"oneOf": [{"type": "integer", "minimum": 1}, {"enum": ["all"]}]}
  }
})");

std::vector<Diagnostic> problems_of(const json& value) {
  std::vector<Diagnostic> problems;
  apply_schema(kSchema, value, "/stages/3/params", &problems);
  return problems;
}

// The one problem `value` has, as "where: message".
std::string only_problem(const json& value) {
  const std::vector<Diagnostic> problems = problems_of(value);
  EXPECT_EQ(problems.size(), 1u) << json(value).dump();
  return problems.empty() ? "" : problems[0].where + ": " + problems[0].message;
}

TEST(JsonSchema, FillsDefaultsRecursively) {
  std::vector<Diagnostic> problems;
  const json out =
      apply_schema(kSchema, {{"epochs", 3.0}, {"schedule", json::object()}}, "/p", &problems);
  EXPECT_TRUE(problems.empty());
  EXPECT_EQ(out["epochs"], 3);
  EXPECT_TRUE(out["epochs"].is_number_integer());  // 3.0 becomes the integer 3
  EXPECT_EQ(out["lr"], 0.1);
  EXPECT_EQ(out["optimizer"], "sgd");
  // An absent object with "default": {} is filled from its properties' defaults.
  EXPECT_EQ(out["augment"], json({{"flip", false}, {"crop", 2}}));
  // A given object gets its properties' defaults; an absent one without a default stays out.
  EXPECT_EQ(out["schedule"], json({{"warmup", 0}}));
  EXPECT_FALSE(out.contains("drop"));
}

TEST(JsonSchema, GivenValuesAreKept) {
  std::vector<Diagnostic> problems;
  const json in = {{"epochs", 5}, {"lr", 0.5}, {"augment", {{"flip", true}}}};
  const json out = apply_schema(kSchema, in, "", &problems);
  EXPECT_TRUE(problems.empty());
  EXPECT_EQ(out["lr"], 0.5);
  EXPECT_EQ(out["augment"], json({{"flip", true}, {"crop", 2}}));
}

TEST(JsonSchema, TypeMismatchNamesPathExpectedAndFound) {
  EXPECT_EQ(only_problem({{"epochs", "five"}}),
            "/stages/3/params/epochs: expected an integer >= 1, found string \"five\"");
  EXPECT_EQ(only_problem({{"epochs", 2.5}}),
            "/stages/3/params/epochs: expected an integer >= 1, found number 2.5");
  EXPECT_EQ(only_problem({{"epochs", 1}, {"augment", {{"flip", "yes"}}}}),
            "/stages/3/params/augment/flip: expected a boolean, found string \"yes\"");
}

TEST(JsonSchema, RangesAreDescribed) {
  EXPECT_EQ(only_problem({{"epochs", 1}, {"lr", -1}}),
            "/stages/3/params/lr: expected a number > 0, found number -1");
  EXPECT_EQ(only_problem({{"epochs", 1}, {"momentum", 1}}),
            "/stages/3/params/momentum: expected a number >= 0 and < 1, found number 1");
  EXPECT_EQ(only_problem({{"epochs", 1}, {"layers", 11}}),
            "/stages/3/params/layers: expected an integer from 1 to 10, found number 11");
  EXPECT_EQ(only_problem({{"epochs", 0}}),
            "/stages/3/params/epochs: expected an integer >= 1, found number 0");
}

TEST(JsonSchema, EnumSuggestsTheClosestValue) {
  EXPECT_EQ(only_problem({{"epochs", 1}, {"optimizer", "adma"}}),
            "/stages/3/params/optimizer: expected one of \"sgd\", \"adam\", \"adamw\", found "
            "string \"adma\" (did you mean 'adam'?)");
}

TEST(JsonSchema, UnknownKeysSuggestTheClosestKey) {
  const std::string problem = only_problem({{"epochs", 1}, {"temprature", 2}, {"lr", 0.1}});
  EXPECT_NE(problem.find("/stages/3/params/temprature: unknown key"), std::string::npos) << problem;
  // No close key: no suggestion, but the known keys are listed.
  const std::string far = only_problem({{"epochs", 1}, {"zzzzzzzz", 2}});
  EXPECT_EQ(far.find("did you mean"), std::string::npos) << far;
  EXPECT_NE(far.find("known keys: augment, drop, epochs"), std::string::npos) << far;
  // Nested objects too.
  const std::string nested = only_problem({{"epochs", 1}, {"augment", {{"flp", true}}}});
  EXPECT_NE(nested.find("/stages/3/params/augment/flp: unknown key (did you mean 'flip'?)"),
            std::string::npos)
      << nested;
}

TEST(JsonSchema, RequiredKeysMustBeThere) {
  EXPECT_EQ(only_problem(json::object()),
            "/stages/3/params/epochs: required key is missing; give an integer >= 1");
}

TEST(JsonSchema, ArraysCheckEveryItemAndTheirLength) {
  EXPECT_EQ(only_problem({{"epochs", 1}, {"drop", {1, -2, 3}}}),
            "/stages/3/params/drop/1: expected an integer >= 0, found number -2");
  EXPECT_EQ(only_problem({{"epochs", 1}, {"drop", json::array()}}),
            "/stages/3/params/drop: expected an array whose items are an integer >= 0 with at "
            "least 1 item, found 0 items");
  EXPECT_EQ(only_problem({{"epochs", 1}, {"names", {"a", "b", "c"}}}),
            "/stages/3/params/names: expected an array of strings with at most 2 items, found 3 "
            "items");
}

TEST(JsonSchema, OneOfTakesExactlyOneAlternative) {
  std::vector<Diagnostic> problems;
  EXPECT_EQ(apply_schema(kSchema, {{"epochs", 1}, {"size", "all"}}, "", &problems)["size"], "all");
  EXPECT_EQ(apply_schema(kSchema, {{"epochs", 1}, {"size", 7}}, "", &problems)["size"], 7);
  EXPECT_TRUE(problems.empty());
  // Only the integer alternative takes numbers, so its complaint is the precise one.
  EXPECT_EQ(only_problem({{"epochs", 1}, {"size", 0}}),
            "/stages/3/params/size: expected an integer >= 1, found number 0");
  EXPECT_EQ(only_problem({{"epochs", 1}, {"size", true}}),
            "/stages/3/params/size: expected an integer >= 1 or \"all\", found boolean true");
}

TEST(JsonSchema, ReportsEveryProblemAtOnce) {
  const std::vector<Diagnostic> problems =
      problems_of({{"lr", 0}, {"optimizer", "rmsprop"}, {"drop", {"x"}}, {"extra", 1}});
  std::vector<std::string> where;
  for (const Diagnostic& d : problems) where.push_back(d.where);
  EXPECT_EQ(where, (std::vector<std::string>{"/stages/3/params/drop/0", "/stages/3/params/extra",
                                             "/stages/3/params/lr", "/stages/3/params/optimizer",
                                             "/stages/3/params/epochs"}));
}

TEST(JsonSchema, DescribesSchemas) {
  EXPECT_EQ(describe_schema(json::parse(R"({"type": "number", "minimum": 0, "maximum": 1})")),
            "a number from 0 to 1");
  EXPECT_EQ(describe_schema(json::parse(R"({"type": ["integer", "string"]})")),
            "an integer or a string");
  EXPECT_EQ(describe_schema(json::parse(R"({"type": "array", "items": {"type": "number"},
                                           "minItems": 3, "maxItems": 3})")),
            "an array of numbers with exactly 3 items");
  EXPECT_EQ(describe_schema(json::parse(R"({"enum": ["a"]})")), "\"a\"");
  EXPECT_EQ(describe_schema(json::object()), "any value");
}

}  // namespace
}  // namespace retort::recipe
