#include "retort/arch/spec_reader.h"

#include <algorithm>

namespace retort::arch {
namespace {

using nlohmann::json;

std::string range_text(int64_t min, int64_t max) {
  if (min != SpecReader::kNoMin && max != SpecReader::kNoMax)
    return detail::str_cat(" from ", min, " to ", max);
  if (min != SpecReader::kNoMin) return detail::str_cat(" >= ", min);
  if (max != SpecReader::kNoMax) return detail::str_cat(" <= ", max);
  return "";
}

}  // namespace

Expected<SpecReader> SpecReader::open(const json& value, std::string path, json* resolved) {
  assert(resolved != nullptr);
  if (!value.is_object())
    return make_error(ErrorCode::kInvalidArgument, path.empty() ? "/" : path,
                      ": expected an object {\"key\": value, ...}, found ", describe_json(value));
  if (!resolved->is_object()) *resolved = json::object();
  return SpecReader(&value, std::move(path), resolved);
}

std::string SpecReader::path_of(std::string_view key) const {
  return json_pointer_append(path_, key);
}

const json* SpecReader::find(std::string_view key) {
  known_.insert(std::string(key));
  auto it = value_->find(key);
  return it == value_->end() ? nullptr : &*it;
}

bool SpecReader::has(std::string_view key) {
  return find(key) != nullptr;
}

const json* SpecReader::raw(std::string_view key) {
  return find(key);
}

void SpecReader::resolve(std::string_view key, json value) {
  (*resolved_)[std::string(key)] = std::move(value);
}

Status SpecReader::missing(std::string_view key) const {
  return error(key, "required key is missing");
}

Expected<int64_t> SpecReader::get_int(std::string_view key, std::optional<int64_t> fallback,
                                      int64_t min, int64_t max) {
  const json* v = find(key);
  int64_t result = 0;
  if (v == nullptr) {
    if (!fallback) return missing(key);
    result = *fallback;
  } else {
    auto i = as_integer(*v);
    if (!i)
      return error(key, "expected an integer", range_text(min, max), ", found ", describe_json(*v));
    result = *i;
    if (result < min || result > max)
      return error(key, "expected an integer", range_text(min, max), ", found ", result);
  }
  resolve(key, result);
  return result;
}

Expected<double> SpecReader::get_number(std::string_view key, std::optional<double> fallback) {
  const json* v = find(key);
  double result = 0;
  if (v == nullptr) {
    if (!fallback) return missing(key);
    result = *fallback;
  } else {
    if (!v->is_number()) return error(key, "expected a number, found ", describe_json(*v));
    result = v->get<double>();
  }
  resolve(key, result);
  return result;
}

Expected<bool> SpecReader::get_bool(std::string_view key, std::optional<bool> fallback) {
  const json* v = find(key);
  bool result = false;
  if (v == nullptr) {
    if (!fallback) return missing(key);
    result = *fallback;
  } else {
    if (!v->is_boolean()) return error(key, "expected true or false, found ", describe_json(*v));
    result = v->get<bool>();
  }
  resolve(key, result);
  return result;
}

Expected<std::string> SpecReader::get_string(std::string_view key,
                                             std::optional<std::string> fallback) {
  const json* v = find(key);
  std::string result;
  if (v == nullptr) {
    if (!fallback) return missing(key);
    result = *fallback;
  } else {
    if (!v->is_string()) return error(key, "expected a string, found ", describe_json(*v));
    result = v->get<std::string>();
  }
  resolve(key, result);
  return result;
}

Expected<std::string> SpecReader::get_choice(std::string_view key,
                                             std::optional<std::string> fallback,
                                             const std::vector<std::string>& choices) {
  const json* v = find(key);
  std::string result;
  if (v == nullptr) {
    if (!fallback) return error(key, "required key is missing; use one of: ", join(choices));
    result = *fallback;
  } else {
    if (!v->is_string())
      return error(key, "expected one of the strings ", join(choices), ", found ",
                   describe_json(*v));
    result = v->get<std::string>();
    if (std::find(choices.begin(), choices.end(), result) == choices.end())
      return error(key, "unknown value '", result, "'", did_you_mean(result, choices),
                   "; use one of: ", join(choices));
  }
  resolve(key, result);
  return result;
}

Expected<std::vector<int64_t>> SpecReader::get_int_list(
    std::string_view key, std::optional<std::vector<int64_t>> fallback, int64_t min,
    std::optional<size_t> size, int64_t max) {
  const json* v = find(key);
  std::vector<int64_t> result;
  const std::string what =
      detail::str_cat(size ? detail::str_cat("an array of ", *size, " integers")
                           : std::string("an array of integers"),
                      range_text(min, max));
  if (v == nullptr) {
    if (!fallback) return missing(key);
    result = *fallback;
  } else {
    if (!v->is_array()) return error(key, "expected ", what, ", found ", describe_json(*v));
    if (size && v->size() != *size)
      return error(key, "expected ", what, ", found ", v->size(), " value",
                   v->size() == 1 ? "" : "s");
    for (size_t i = 0; i < v->size(); ++i) {
      const json& item = (*v)[i];
      const std::string item_path = detail::str_cat(path_of(key), "/", i);
      auto n = as_integer(item);
      if (!n)
        return make_error(ErrorCode::kInvalidArgument, item_path, ": expected an integer",
                          range_text(min, max), ", found ", describe_json(item));
      if (*n < min || *n > max)
        return make_error(ErrorCode::kInvalidArgument, item_path, ": expected an integer",
                          range_text(min, max), ", found ", *n);
      result.push_back(*n);
    }
  }
  resolve(key, result);
  return result;
}

Expected<std::vector<double>> SpecReader::get_number_or_list(std::string_view key, double fallback,
                                                             size_t size) {
  const json* v = find(key);
  std::vector<double> result;
  if (v == nullptr) {
    result.assign(size, fallback);
    resolve(key, fallback);
    return result;
  }
  if (v->is_number()) {
    result.assign(size, v->get<double>());
    resolve(key, *v);
    return result;
  }
  if (!v->is_array())
    return error(key, "expected a number or an array of ", size,
                 " numbers (one per channel), found ", describe_json(*v));
  if (v->size() != size)
    return error(key, "has ", v->size(), " value", v->size() == 1 ? "" : "s", " but the input has ",
                 size, " channel", size == 1 ? "" : "s",
                 "; give one number for all channels or one per channel");
  for (size_t i = 0; i < v->size(); ++i) {
    const json& item = (*v)[i];
    if (!item.is_number())
      return make_error(ErrorCode::kInvalidArgument, path_of(key), "/", i,
                        ": expected a number, found ", describe_json(item));
    result.push_back(item.get<double>());
  }
  resolve(key, result);
  return result;
}

Expected<std::optional<std::vector<std::string>>> SpecReader::get_optional_string_list(
    std::string_view key) {
  const json* v = find(key);
  if (v == nullptr) return std::optional<std::vector<std::string>>();
  if (!v->is_array()) return error(key, "expected an array of strings, found ", describe_json(*v));
  std::vector<std::string> result;
  for (size_t i = 0; i < v->size(); ++i) {
    const json& item = (*v)[i];
    if (!item.is_string())
      return make_error(ErrorCode::kInvalidArgument, path_of(key), "/", i,
                        ": expected a string, found ", describe_json(item));
    result.push_back(item.get<std::string>());
  }
  resolve(key, result);
  return std::optional<std::vector<std::string>>(std::move(result));
}

Expected<SpecReader> SpecReader::get_object(std::string_view key, const json* fallback) {
  const json* v = find(key);
  if (v == nullptr) {
    if (fallback == nullptr) return missing(key);
    v = fallback;
  }
  json& slot = (*resolved_)[std::string(key)];
  slot = json::object();
  return open(*v, path_of(key), &slot);
}

Expected<std::vector<SpecReader>> SpecReader::get_object_list(std::string_view key,
                                                              const json* fallback,
                                                              size_t min_size) {
  const json* v = find(key);
  if (v == nullptr) {
    if (fallback == nullptr) return missing(key);
    v = fallback;
  }
  if (!v->is_array()) return error(key, "expected an array of objects, found ", describe_json(*v));
  if (v->size() < min_size)
    return error(key, "expected at least ", min_size, " entr", min_size == 1 ? "y" : "ies",
                 ", found ", v->size());
  // Size the resolved array first: element addresses must not move while readers hold them.
  json& slot = (*resolved_)[std::string(key)];
  slot = json::array();
  for (size_t i = 0; i < v->size(); ++i) slot.push_back(json::object());
  std::vector<SpecReader> readers;
  for (size_t i = 0; i < v->size(); ++i) {
    RETORT_ASSIGN_OR_RETURN(SpecReader reader,
                            open((*v)[i], detail::str_cat(path_of(key), "/", i), &slot[i]));
    readers.push_back(std::move(reader));
  }
  return readers;
}

Status SpecReader::finish(std::string_view what) const {
  const std::vector<std::string> known = known_keys();
  for (const auto& [key, _] : value_->items()) {
    if (known_.count(key)) continue;
    return make_error(ErrorCode::kInvalidArgument, path_of(key), ": unknown key for ", what,
                      did_you_mean(key, known), "; known keys: ", join(known));
  }
  return Status::Ok();
}

}  // namespace retort::arch
