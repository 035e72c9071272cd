#include "retort/core/json_util.h"

#include <cmath>
#include <limits>

namespace retort {

std::string describe_json(const nlohmann::json& value) {
  constexpr size_t kMaxChars = 40;
  std::string text = value.dump();
  if (text.size() > kMaxChars) text = text.substr(0, kMaxChars - 3) + "...";
  if (value.is_null()) return "null";
  return std::string(value.type_name()) + " " + text;
}

std::string json_pointer_append(std::string_view path, std::string_view key) {
  std::string out(path);
  out += '/';
  for (char c : key) {
    if (c == '~') {
      out += "~0";
    } else if (c == '/') {
      out += "~1";
    } else {
      out += c;
    }
  }
  return out;
}

std::string json_pointer_append(std::string_view path, size_t index) {
  return std::string(path) + "/" + std::to_string(index);
}

std::optional<int64_t> as_integer(const nlohmann::json& v) {
  if (v.is_number_integer() && !v.is_number_unsigned()) return v.get<int64_t>();
  if (v.is_number_unsigned()) {
    const uint64_t u = v.get<uint64_t>();
    if (u > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) return std::nullopt;
    return static_cast<int64_t>(u);
  }
  if (v.is_number_float()) {
    const double d = v.get<double>();
    if (std::isfinite(d) && std::trunc(d) == d && std::fabs(d) < 9.0e15)
      return static_cast<int64_t>(d);
  }
  return std::nullopt;
}

}  // namespace retort
