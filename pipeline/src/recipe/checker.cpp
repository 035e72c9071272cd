#include <algorithm>
#include <filesystem>

#include "recipe/sections.h"
#include "retort/core/json_util.h"
#include "retort/core/text.h"

namespace retort::recipe::detail {

using nlohmann::json;

void Checker::check_keys(const json& object, const std::string& path,
                         const std::vector<std::string>& known, const std::string& what) const {
  for (const auto& [key, unused] : object.items()) {
    if (std::find(known.begin(), known.end(), key) != known.end()) continue;
    add(json_pointer_append(path, key),
        "unknown key for " + what + did_you_mean(key, known) + "; known keys: " + join(known));
  }
}

std::string Checker::absolute(const std::string& path) const {
  namespace fs = std::filesystem;
  fs::path p(path);
  if (p.is_relative()) p = fs::path(base_dir) / p;
  return p.lexically_normal().string();
}

std::optional<uint64_t> Checker::unsigned_at(const json& value, const std::string& where,
                                             uint64_t min) const {
  if (value.is_number_unsigned() && value.get<uint64_t>() >= min) return value.get<uint64_t>();
  if (auto n = as_integer(value); n && *n >= 0 && static_cast<uint64_t>(*n) >= min)
    return static_cast<uint64_t>(*n);
  add(where, "expected an integer >= " + std::to_string(min) + ", found " + describe_json(value));
  return std::nullopt;
}

}  // namespace retort::recipe::detail
