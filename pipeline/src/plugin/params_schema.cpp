#include "retort/plugin/params_schema.h"

#include <algorithm>
#include <cmath>
#include <set>

#include "retort/core/json_util.h"

namespace retort::plugin {
namespace {

using nlohmann::json;

const std::set<std::string>& type_names() {
  static const std::set<std::string> kTypes = {"object",  "array",   "string", "number",
                                               "integer", "boolean", "null"};
  return kTypes;
}

std::string brief(const json& value) {
  std::string text = value.dump();
  if (text.size() > 60) text = text.substr(0, 57) + "...";
  return text;
}

Status error_at(const std::string& where, const std::string& what) {
  return make_error(ErrorCode::kInvalidArgument, where.empty() ? "(root)" : where, ": ", what);
}

bool has_type(const json& value, const std::string& type) {
  if (type == "object") return value.is_object();
  if (type == "array") return value.is_array();
  if (type == "string") return value.is_string();
  if (type == "boolean") return value.is_boolean();
  if (type == "null") return value.is_null();
  if (type == "number") return value.is_number();
  if (type == "integer") {
    if (value.is_number_integer()) return true;
    if (!value.is_number_float()) return false;
    double d = value.get<double>();
    return std::isfinite(d) && d == std::floor(d);
  }
  return false;
}

// A default that its own schema rejects would make every recipe that omits it invalid.
Status check_default(const json& schema, const std::string& where) {
  const json& value = schema["default"];
  if (auto it = schema.find("type"); it != schema.end()) {
    std::vector<std::string> types;
    if (it->is_string()) {
      types.push_back(*it);
    } else {
      for (const auto& t : *it) types.push_back(t);
    }
    bool any = std::any_of(types.begin(), types.end(),
                           [&](const std::string& t) { return has_type(value, t); });
    if (!any) {
      return error_at(where + "/default",
                      "the default " + brief(value) + " is not of type " + brief(*it));
    }
  }
  if (auto it = schema.find("enum"); it != schema.end()) {
    if (std::find(it->begin(), it->end(), value) == it->end()) {
      return error_at(where + "/default",
                      "the default " + brief(value) + " is not one of the enum " + brief(*it));
    }
  }
  if (value.is_number()) {
    double v = value.get<double>();
    if (schema.contains("minimum") && v < schema["minimum"].get<double>()) {
      return error_at(where + "/default", "the default " + brief(value) + " is below minimum " +
                                              brief(schema["minimum"]));
    }
    if (schema.contains("maximum") && v > schema["maximum"].get<double>()) {
      return error_at(where + "/default", "the default " + brief(value) + " is above maximum " +
                                              brief(schema["maximum"]));
    }
    if (schema.contains("exclusiveMinimum") && v <= schema["exclusiveMinimum"].get<double>()) {
      return error_at(where + "/default", "the default " + brief(value) +
                                              " is not above exclusiveMinimum " +
                                              brief(schema["exclusiveMinimum"]));
    }
    if (schema.contains("exclusiveMaximum") && v >= schema["exclusiveMaximum"].get<double>()) {
      return error_at(where + "/default", "the default " + brief(value) +
                                              " is not below exclusiveMaximum " +
                                              brief(schema["exclusiveMaximum"]));
    }
  }
  return Status::Ok();
}

Status check_type_keyword(const json& type, const std::string& where) {
  auto valid = [](const json& t) { return t.is_string() && type_names().count(t) != 0; };
  if (type.is_string()) {
    if (!valid(type)) {
      return error_at(where, "unknown type " + brief(type) +
                                 "; use object, array, string, number, integer, boolean or null");
    }
    return Status::Ok();
  }
  if (!type.is_array() || type.empty()) {
    return error_at(where,
                    "expected a type name or a non-empty list of them, found " + brief(type));
  }
  std::set<std::string> seen;
  for (size_t i = 0; i < type.size(); ++i) {
    if (!valid(type[i])) {
      return error_at(where + "/" + std::to_string(i),
                      "unknown type " + brief(type[i]) +
                          "; use object, array, string, number, integer, boolean or null");
    }
    if (!seen.insert(type[i].get<std::string>()).second) {
      return error_at(where + "/" + std::to_string(i), "type " + brief(type[i]) + " listed twice");
    }
  }
  return Status::Ok();
}

Status check_schema(const json& schema, const std::string& where) {
  if (!schema.is_object()) {
    return error_at(where, "expected a schema (a JSON object), found " + brief(schema));
  }
  const auto& keywords = params_schema_keywords();
  for (const auto& [key, value] : schema.items()) {
    if (!std::binary_search(keywords.begin(), keywords.end(), key)) {
      std::string list;
      for (const auto& k : keywords) list += (list.empty() ? "" : ", ") + k;
      return error_at(json_pointer_append(where, key),
                      "unsupported keyword '" + key + "'; retort validates only: " + list);
    }
  }
  if (auto it = schema.find("type"); it != schema.end()) {
    RETORT_RETURN_IF_ERROR(check_type_keyword(*it, where + "/type"));
  }
  for (const char* key : {"description", "title"}) {
    if (auto it = schema.find(key); it != schema.end() && !it->is_string()) {
      return error_at(where + "/" + key, "expected a string, found " + brief(*it));
    }
  }
  for (const char* key : {"minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"}) {
    if (auto it = schema.find(key); it != schema.end() && !it->is_number()) {
      return error_at(where + "/" + key, "expected a number, found " + brief(*it));
    }
  }
  if (schema.contains("minimum") && schema.contains("maximum") &&
      schema["minimum"].get<double>() > schema["maximum"].get<double>()) {
    return error_at(where + "/minimum", "minimum " + brief(schema["minimum"]) +
                                            " is greater than maximum " + brief(schema["maximum"]));
  }
  if (auto it = schema.find("enum"); it != schema.end() && (!it->is_array() || it->empty())) {
    return error_at(where + "/enum", "expected a non-empty list of values, found " + brief(*it));
  }
  if (auto it = schema.find("properties"); it != schema.end()) {
    if (!it->is_object()) {
      return error_at(where + "/properties",
                      "expected an object mapping parameter names to schemas, found " + brief(*it));
    }
    for (const auto& [name, sub] : it->items()) {
      RETORT_RETURN_IF_ERROR(check_schema(sub, json_pointer_append(where + "/properties", name)));
    }
  }
  if (auto it = schema.find("required"); it != schema.end()) {
    if (!it->is_array()) {
      return error_at(where + "/required",
                      "expected a list of property names, found " + brief(*it));
    }
    std::set<std::string> seen;
    for (size_t i = 0; i < it->size(); ++i) {
      const json& name = (*it)[i];
      std::string at = where + "/required/" + std::to_string(i);
      if (!name.is_string()) return error_at(at, "expected a property name, found " + brief(name));
      if (!seen.insert(name.get<std::string>()).second) {
        return error_at(at, "'" + name.get<std::string>() + "' is listed twice");
      }
      if (schema.contains("properties") &&
          !schema["properties"].contains(name.get<std::string>())) {
        return error_at(at, "required property '" + name.get<std::string>() +
                                "' is not declared in \"properties\"");
      }
    }
  }
  if (auto it = schema.find("additionalProperties"); it != schema.end() && !it->is_boolean()) {
    RETORT_RETURN_IF_ERROR(check_schema(*it, where + "/additionalProperties"));
  }
  if (auto it = schema.find("items"); it != schema.end()) {
    RETORT_RETURN_IF_ERROR(check_schema(*it, where + "/items"));
  }
  if (schema.contains("default")) RETORT_RETURN_IF_ERROR(check_default(schema, where));
  return Status::Ok();
}

}  // namespace

const std::vector<std::string>& params_schema_keywords() {
  static const std::vector<std::string> kKeywords = [] {
    std::vector<std::string> k = {
        "type",  "properties",  "required", "additionalProperties", "default",
        "enum",  "minimum",     "maximum",  "exclusiveMinimum",     "exclusiveMaximum",
        "items", "description", "title"};
    std::sort(k.begin(), k.end());
    return k;
  }();
  return kKeywords;
}

Status check_params_schema(const nlohmann::json& schema) {
  if (!schema.is_object()) {
    return error_at("", "expected a JSON object schema, found " + brief(schema));
  }
  auto type = schema.find("type");
  if (type == schema.end() || *type != "object") {
    return error_at(
        "/type",
        std::string("the params schema must be {\"type\": \"object\", ...}, ") +
            (type == schema.end() ? "found no \"type\"" : "found \"type\": " + brief(*type)));
  }
  return check_schema(schema, "");
}

}  // namespace retort::plugin
