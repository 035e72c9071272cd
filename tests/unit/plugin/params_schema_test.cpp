// The params-schema subset: what a plugin may declare, and the message for each mistake.
#include "retort/core/json_schema.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace retort::plugin {
namespace {

using nlohmann::json;

TEST(ParamsSchemaTest, AcceptsTheSubset) {
  json schema = json::parse(R"({
    "type": "object", "title": "t", "description": "d", "additionalProperties": false,
    "required": ["epochs"],
    "properties": {
      "epochs": {"type": "integer", "minimum": 1, "maximum": 1000, "default": 2},
      "lr": {"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 10, "default": 0.1},
      "optimizer": {"type": "string", "enum": ["sgd", "adamw"], "default": "sgd"},
      "hidden": {"type": "array", "items": {"type": "integer", "minimum": 1}, "default": [8]},
      "seed": {"type": ["integer", "null"], "default": null},
      "extra": {"type": "object", "additionalProperties": {"type": "number"}},
      "anything": {}
    }})");
  Status s = check_params_schema(schema);
  EXPECT_TRUE(s.ok()) << s.message();
  EXPECT_TRUE(check_params_schema(json::parse(R"({"type": "object"})")).ok());
}

// The loader and the recipe validator share one checker: every keyword the validator acts on
// (minItems, maxItems, oneOf too) is accepted, and a checked schema's defaults validate.
TEST(ParamsSchemaTest, AcceptsEveryKeywordTheValidatorUses) {
  const json schema = json::parse(R"({
    "type": "object", "additionalProperties": false,
    "properties": {
      "sizes": {"type": "array", "items": {"type": "integer", "minimum": 1}, "minItems": 1,
                "maxItems": 3, "default": [1, 2]},
      "size": {"oneOf": [{"type": "integer", "minimum": 1}, {"enum": ["all"]}], "default": "all"},
      "augment": {"type": "object", "default": {},
                  "properties": {"flip": {"type": "boolean", "default": true}}}
    }})");
  Status s = check_params_schema(schema);
  ASSERT_TRUE(s.ok()) << s.message();
  std::vector<Diagnostic> problems;
  const json params = apply_schema(schema, json::object(), "/stages/0/params", &problems);
  EXPECT_TRUE(problems.empty()) << format_diagnostics(problems, "");
  EXPECT_EQ(params, json::parse(R"({"sizes": [1, 2], "size": "all", "augment": {"flip": true}})"));
  // The same schema rejects a bad value with the validator's message and path.
  apply_schema(schema, json{{"sizes", json::array()}}, "/stages/0/params", &problems);
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_EQ(problems[0].format(""),
            "/stages/0/params/sizes: expected an array whose items are an integer >= 1 with 1 "
            "to 3 items, found 0 items");
}

TEST(ParamsSchemaTest, ChecksSchemasOfAnyRootType) {
  EXPECT_TRUE(check_schema(json::parse(R"({"type": "array", "items": {"type": "string"}})")).ok());
  EXPECT_EQ(check_schema(json::parse(R"({"type": "array", "items": 1})")).message(),
            "/items: expected a schema (a JSON object), found 1");
  EXPECT_EQ(check_schema(json::parse(R"({"maximum": 1, "default": 2})")).message(),
            "/default: the default 2 is above maximum 1");
}

TEST(ParamsSchemaTest, KeywordsAreSorted) {
  const auto& k = schema_keywords();
  EXPECT_TRUE(std::is_sorted(k.begin(), k.end()));
  EXPECT_EQ(k.size(), 16u);
}

struct BadSchema {
  const char* schema;
  const char* message;
};

class BadSchemaTest : public ::testing::TestWithParam<BadSchema> {};

TEST_P(BadSchemaTest, NamesPlaceAndProblem) {
  Status s = check_params_schema(json::parse(GetParam().schema));
  EXPECT_EQ(s.code(), ErrorCode::kInvalidArgument);
  EXPECT_THAT(s.message(), ::testing::StartsWith(GetParam().message));
}

INSTANTIATE_TEST_SUITE_P(
    Table, BadSchemaTest,
    ::testing::Values(
        BadSchema{R"([1])", "(root): expected a JSON object schema, found [1]"},
        BadSchema{
            R"({})",
            "/type: the params schema must be {\"type\": \"object\", ...}, found no \"type\""},
        BadSchema{R"({"type": "string"})",
                  "/type: the params schema must be {\"type\": \"object\", ...}, found \"type\": "
                  "\"string\""},
        BadSchema{R"({"type": "object", "pattern": "x"})",
                  "/pattern: unsupported keyword 'pattern'; retort validates only: "
                  "additionalProperties, default, description, enum,"},
        BadSchema{R"({"type": "object", "properties": {"a/b": {"type": "int"}}})",
                  "/properties/a~1b/type: unknown type \"int\"; use object, array, string, number, "
                  "integer, boolean or null"},
        BadSchema{R"({"type": "object", "properties": {"a": {"type": []}}})",
                  "/properties/a/type: expected a type name or a non-empty list of them, found []"},
        BadSchema{R"({"type": "object", "properties": {"a": {"type": ["string", "string"]}}})",
                  "/properties/a/type/1: type \"string\" listed twice"},
        BadSchema{R"({"type": "object", "properties": []})",
                  "/properties: expected an object mapping parameter names to schemas, found []"},
        BadSchema{R"({"type": "object", "properties": {"a": 3}})",
                  "/properties/a: expected a schema (a JSON object), found 3"},
        BadSchema{R"({"type": "object", "properties": {"a": {"minimum": "0"}}})",
                  "/properties/a/minimum: expected a number, found \"0\""},
        BadSchema{R"({"type": "object", "properties": {"a": {"minimum": 2, "maximum": 1}}})",
                  "/properties/a/minimum: minimum 2 is greater than maximum 1"},
        BadSchema{R"({"type": "object", "properties": {"a": {"enum": []}}})",
                  "/properties/a/enum: expected a non-empty list of values, found []"},
        BadSchema{R"({"type": "object", "description": 1})",
                  "/description: expected a string, found 1"},
        BadSchema{R"({"type": "object", "required": "a"})",
                  "/required: expected a list of property names"},
        BadSchema{R"({"type": "object", "properties": {"a": {}}, "required": ["a", "a"]})",
                  "/required/1: 'a' is listed twice"},
        BadSchema{R"({"type": "object", "properties": {"a": {}}, "required": ["b"]})",
                  "/required/0: required property 'b' is not declared in \"properties\""},
        BadSchema{R"({"type": "object", "additionalProperties": "no"})",
                  "/additionalProperties: expected a schema (a JSON object), found \"no\""},
        BadSchema{
            R"({"type": "object", "properties": {"h": {"type": "array", "items": {"type": "x"}}}})",
            "/properties/h/items/type: unknown type \"x\""},
        BadSchema{R"({"type": "object", "properties": {"e": {"type": "integer", "default": 1.5}}})",
                  "/properties/e/default: the default 1.5 is not of type \"integer\""},
        BadSchema{R"({"type": "object", "properties": {"o": {"enum": ["a"], "default": "b"}}})",
                  "/properties/o/default: the default \"b\" is not one of the enum [\"a\"]"},
        BadSchema{R"({"type": "object", "properties": {"n": {"minimum": 1, "default": 0}}})",
                  "/properties/n/default: the default 0 is below minimum 1"},
        BadSchema{
            R"({"type": "object", "properties": {"n": {"exclusiveMaximum": 1, "default": 1}}})",
            "/properties/n/default: the default 1 is not below exclusiveMaximum 1"},
        BadSchema{R"({"type": "object", "properties": {"a": {"type": "array", "minItems": -1}}})",
                  "/properties/a/minItems: expected a whole number >= 0, found -1"},
        BadSchema{R"({"type": "object", "properties": {"a": {"maxItems": 1.5}}})",
                  "/properties/a/maxItems: expected a whole number >= 0, found 1.5"},
        BadSchema{R"({"type": "object", "properties": {"a": {"minItems": 3, "maxItems": 2}}})",
                  "/properties/a/minItems: minItems 3 is greater than maxItems 2"},
        BadSchema{
            R"({"type": "object", "properties": {"a": {"oneOf": []}}})",
            "/properties/a/oneOf: expected a non-empty list of alternative schemas, found []"},
        BadSchema{R"({"type": "object", "properties": {"a": {"oneOf": [{}, {"type": "x"}]}}})",
                  "/properties/a/oneOf/1/type: unknown type \"x\""},
        // Defaults are checked by the validator itself, nested values and all keywords included.
        BadSchema{R"({"type": "object", "properties": {"h": {"type": "array",
                     "items": {"type": "integer", "minimum": 1}, "default": [0]}}})",
                  "/properties/h/default: the default [0] does not match its own schema: /0: "
                  "expected an integer >= 1, found number 0"},
        BadSchema{
            R"({"type": "object", "properties": {"h": {"type": "array", "minItems": 2, "default": [1]}}})",
            "/properties/h/default: the default [1] does not match its own schema: "
            "expected an array with at least 2 items, found 1 item"},
        BadSchema{R"({"type": "object", "properties": {"s": {"oneOf": [{"type": "integer"},
                     {"enum": ["all"]}], "default": "some"}}})",
                  "/properties/s/default: the default \"some\" does not match its own schema: "
                  "expected an integer or \"all\", found string \"some\""},
        BadSchema{R"({"type": "object", "properties": {"o": {"type": "object",
                     "properties": {"k": {}}, "required": ["k"], "default": {}}}})",
                  "/properties/o/default: the default {} does not match its own schema: /k: "
                  "required key is missing; give any value"}));

}  // namespace
}  // namespace retort::plugin
