// The subset of JSON Schema that a stage's "params" may be described with. The loader checks
// every stage type's schema against it, so a recipe validator never meets a keyword it would
// silently ignore.
//
// Keywords: type ("object", "array", "string", "number", "integer", "boolean", "null", or a
// list of those), properties, required, additionalProperties (bool or schema), default, enum,
// minimum, maximum, exclusiveMinimum, exclusiveMaximum (numbers), items (schema), description,
// title. The root must be {"type": "object", ...}.
#pragma once

#include <string>
#include <vector>

#include "nlohmann/json.hpp"
#include "retort/core/status.h"

namespace retort::plugin {

// The keywords above, sorted.
const std::vector<std::string>& params_schema_keywords();

// kInvalidArgument naming the JSON pointer inside the schema of the first problem:
// "/properties/lr/minimum: expected a number, found \"0\"".
Status check_params_schema(const nlohmann::json& schema);

}  // namespace retort::plugin
