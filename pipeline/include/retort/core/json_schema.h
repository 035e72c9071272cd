// retort's one JSON-schema checker: the subset of JSON Schema that stage parameters are written
// in. Both sides of it share one set of keywords:
//
//  - check_schema() says whether a schema is well formed and uses only keywords retort
//    validates; the plugin loader runs it (through check_params_schema) on every stage type's
//    params schema, so that the validator never meets a keyword it would silently ignore.
//  - apply_schema() validates a value against a checked schema, fills in defaults and reports
//    every problem with its JSON path; recipe validation runs it on every stage's "params".
//
// Keywords: "type" (a name or a list: "object", "array", "string", "number", "integer",
// "boolean", "null"), "properties", "required", "additionalProperties" (false: unknown keys
// are errors with a did-you-mean; or a schema for them), "default", "enum", "minimum",
// "maximum", "exclusiveMinimum", "exclusiveMaximum" (numbers, as in draft 2019-09), "items"
// (one schema for every element), "minItems", "maxItems", "oneOf" (exactly one alternative
// must match), and the annotations "description" and "title".
//
// Defaults: an absent property with a "default" gets it, and the default is itself completed
// from its schema; so an object property with "default": {} always appears in the result with
// the defaults of its own properties filled in. An "integer" given as 3.0 becomes 3. A schema
// whose default its own schema rejects is not well formed (every recipe leaving it out would
// be invalid).
#pragma once

#include <string>
#include <vector>

#include "nlohmann/json.hpp"
#include "retort/core/diagnostic.h"
#include "retort/core/status.h"

namespace retort {

// The keywords above, sorted.
const std::vector<std::string>& schema_keywords();

// kInvalidArgument naming the JSON pointer inside the schema of the first problem:
// "/properties/lr/minimum: expected a number, found \"0\"" ("(root)" for the schema itself).
Status check_schema(const nlohmann::json& schema);
// A stage's params schema: check_schema() of a root that must be {"type": "object", ...}.
Status check_params_schema(const nlohmann::json& schema);

// Validates `value` (located at JSON pointer `path`) against a well-formed schema (one that
// passed check_schema, or a part of one) and returns it with defaults filled in. Every problem
// found is appended to `problems`, located at the offending value and saying what was expected
// and what was found: "/stages/3/params/temperature: expected a number > 0, found number -1".
nlohmann::json apply_schema(const nlohmann::json& schema, const nlohmann::json& value,
                            const std::string& path, std::vector<Diagnostic>* problems);

// What a schema accepts, for messages and `retort plugins`: "a number > 0", "an integer from 1
// to 10", "one of \"sgd\", \"adam\"", "an array of strings", "an object".
std::string describe_schema(const nlohmann::json& schema);

}  // namespace retort
