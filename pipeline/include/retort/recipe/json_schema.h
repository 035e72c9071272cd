// Validates JSON values against the subset of JSON Schema that stage parameters are written
// in, filling in defaults, and reports every problem with its JSON path.
//
// Keywords: "type" (a name or a list: "object", "string", "number", "integer", "boolean",
// "array", "null"), "properties", "required", "additionalProperties" (false: unknown keys are
// errors with a did-you-mean; or a schema for them), "default", "enum", "minimum", "maximum",
// "exclusiveMinimum", "exclusiveMaximum" (numbers, as in draft 2019-09), "items" (one schema for
// every element); also "minItems", "maxItems" and "oneOf" (exactly one alternative must match).
// Other keywords are annotations here: which ones a plugin may use is decided when it is loaded
// (plugin::check_params_schema), so that nothing a plugin writes is silently ignored.
//
// Defaults: an absent property with a "default" gets it, and the default is itself completed
// from its schema; so an object property with "default": {} always appears in the result with
// the defaults of its own properties filled in. An "integer" given as 3.0 becomes 3.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "retort/recipe/diagnostic.h"

namespace retort::recipe {

// Validates `value` (located at JSON pointer `path`) against a well-formed schema (one that
// passed plugin::check_params_schema, or a part of one) and returns it with defaults filled in.
// Every problem found is appended to `problems`, located at the offending value and saying what
// was expected and what was found:
// "/stages/3/params/temperature: expected a number > 0, found number -1".
nlohmann::json apply_schema(const nlohmann::json& schema, const nlohmann::json& value,
                            const std::string& path, std::vector<Diagnostic>* problems);

// What a schema accepts, for messages and `retort plugins`: "a number > 0", "an integer from 1
// to 10", "one of \"sgd\", \"adam\"", "an array of strings", "an object".
std::string describe_schema(const nlohmann::json& schema);

}  // namespace retort::recipe
