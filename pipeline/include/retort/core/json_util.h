// Small JSON helpers shared by everything that reads user-written JSON (model specs, recipes).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace retort {

// A short description of a JSON value for "found ..." messages: `string "256"`, `number 1.5`,
// `boolean true`, `null`, `array [1, 2]`, `object {"a": 1}` (long values are shortened).
std::string describe_json(const nlohmann::json& value);

// The JSON pointer of `key` inside the value at `path` (RFC 6901 escaping of '~' and '/'):
// json_pointer_append("/stages/0", "params") == "/stages/0/params".
std::string json_pointer_append(std::string_view path, std::string_view key);
std::string json_pointer_append(std::string_view path, size_t index);

// The value as a whole number if it is one (3.0 counts as 3), else nullopt.
std::optional<int64_t> as_integer(const nlohmann::json& value);

}  // namespace retort
