#include "retort/core/json_schema.h"

#include <algorithm>
#include <optional>
#include <set>

#include "retort/core/json_util.h"
#include "retort/core/text.h"

namespace retort {
namespace {

using nlohmann::json;

// ---------------------------------------------------------------------------------------------
// What a schema says: types, bounds, descriptions. Used by both the validator and the checker.

const std::vector<std::string>& type_names() {
  static const std::vector<std::string> kTypes = {"object",  "array",   "string", "number",
                                                  "integer", "boolean", "null"};
  return kTypes;
}

// The "type" of a schema as a list; empty when any type is accepted.
std::vector<std::string> types_of(const json& schema) {
  auto it = schema.find("type");
  if (it == schema.end()) return {};
  if (it->is_string()) return {it->get<std::string>()};
  std::vector<std::string> types;
  for (const json& t : *it) types.push_back(t.get<std::string>());
  return types;
}

bool has_type(const json& value, const std::string& type) {
  if (type == "object") return value.is_object();
  if (type == "array") return value.is_array();
  if (type == "string") return value.is_string();
  if (type == "boolean") return value.is_boolean();
  if (type == "null") return value.is_null();
  if (type == "number") return value.is_number();
  if (type == "integer") return value.is_number_unsigned() || as_integer(value).has_value();
  return false;
}

bool accepts_type(const json& schema, const json& value) {
  const std::vector<std::string> types = types_of(schema);
  if (types.empty()) return true;
  return std::any_of(types.begin(), types.end(),
                     [&](const std::string& t) { return has_type(value, t); });
}

// The first bound of `schema` that `x` violates, or nullptr.
const char* violated_bound(const json& schema, double x) {
  if (auto it = schema.find("minimum"); it != schema.end() && !(x >= it->get<double>()))
    return "minimum";
  if (auto it = schema.find("maximum"); it != schema.end() && !(x <= it->get<double>()))
    return "maximum";
  if (auto it = schema.find("exclusiveMinimum"); it != schema.end() && !(x > it->get<double>()))
    return "exclusiveMinimum";
  if (auto it = schema.find("exclusiveMaximum"); it != schema.end() && !(x < it->get<double>()))
    return "exclusiveMaximum";
  return nullptr;
}

std::string with_article(const std::string& noun) {
  const bool vowel = !noun.empty() && std::string("aeiou").find(noun[0]) != std::string::npos;
  return (vowel ? "an " : "a ") + noun;
}

// " > 0", " from 1 to 10", " >= 0 and < 1", or "".
std::string bounds_text(const json& schema) {
  const json* low = nullptr;
  bool low_exclusive = false;
  const json* high = nullptr;
  bool high_exclusive = false;
  // When both forms are given the tighter one wins; on a tie the exclusive one.
  if (auto it = schema.find("minimum"); it != schema.end()) low = &*it;
  if (auto it = schema.find("exclusiveMinimum"); it != schema.end()) {
    if (low == nullptr || it->get<double>() >= low->get<double>()) {
      low = &*it;
      low_exclusive = true;
    }
  }
  if (auto it = schema.find("maximum"); it != schema.end()) high = &*it;
  if (auto it = schema.find("exclusiveMaximum"); it != schema.end()) {
    if (high == nullptr || it->get<double>() <= high->get<double>()) {
      high = &*it;
      high_exclusive = true;
    }
  }
  if (low && high && !low_exclusive && !high_exclusive)
    return " from " + low->dump() + " to " + high->dump();
  std::string out;
  if (low) out += (low_exclusive ? " > " : " >= ") + low->dump();
  if (low && high) out += " and";
  if (high) out += (high_exclusive ? " < " : " <= ") + high->dump();
  return out;
}

// " with at least 2 items", " with exactly 3 items", or "".
std::string count_text(const json& schema) {
  auto items = [](const json& n) { return n.dump() + (n == 1 ? " item" : " items"); };
  auto min_items = schema.find("minItems");
  auto max_items = schema.find("maxItems");
  const bool has_min = min_items != schema.end() && *min_items != 0;
  const bool has_max = max_items != schema.end();
  if (has_min && has_max && *min_items == *max_items) return " with exactly " + items(*min_items);
  if (has_min && has_max) return " with " + min_items->dump() + " to " + items(*max_items);
  if (has_min) return " with at least " + items(*min_items);
  if (has_max) return " with at most " + items(*max_items);
  return "";
}

std::string describe_type(const json& schema, const std::string& type) {
  if (type == "number" || type == "integer") return with_article(type) + bounds_text(schema);
  if (type == "array") {
    std::string out = "an array";
    auto items = schema.find("items");
    if (items != schema.end() && items->is_object() && !items->empty()) {
      const std::vector<std::string> item_types = types_of(*items);
      const bool plain = item_types.size() == 1 && item_types[0] != "null" &&
                         !items->contains("enum") && !items->contains("oneOf") &&
                         bounds_text(*items).empty() && count_text(*items).empty();
      out += plain ? " of " + item_types[0] + "s" : " whose items are " + describe_schema(*items);
    }
    return out + count_text(schema);
  }
  if (type == "null") return "null";
  return with_article(type);
}

// ---------------------------------------------------------------------------------------------
// The validator. Each problem also names the schema keyword it violates, so that the checker
// can word a bad default in terms of the keyword ("the default 0 is below minimum 1").

struct Problem {
  std::string where;    // JSON pointer of the offending value ("" for the value itself)
  std::string message;  // "expected ..., found ..."
  std::string keyword;  // "type", "minimum", "required", ...
};
using Problems = std::vector<Problem>;

void add(Problems* problems, const std::string& path, std::string message, const char* keyword) {
  problems->push_back({path, std::move(message), keyword});
}

json validate(const json& schema, const json& value, const std::string& path, Problems* problems);

json validate_object(const json& schema, const json& value, const std::string& path,
                     Problems* problems) {
  static const json kNoProperties = json::object();
  auto props_it = schema.find("properties");
  const json& props = props_it == schema.end() ? kNoProperties : *props_it;
  auto additional_it = schema.find("additionalProperties");
  const json* additional = additional_it == schema.end() ? nullptr : &*additional_it;
  std::vector<std::string> names;
  for (const auto& [name, unused] : props.items()) names.push_back(name);

  json result = json::object();
  for (const auto& [key, item] : value.items()) {
    const std::string child = json_pointer_append(path, key);
    if (auto p = props.find(key); p != props.end()) {
      result[key] = validate(*p, item, child, problems);
    } else if (additional != nullptr && *additional == false) {
      add(problems, child,
          "unknown key" + did_you_mean(key, names) +
              (names.empty() ? "; this object takes no keys" : "; known keys: " + join(names)),
          "additionalProperties");
      result[key] = item;
    } else if (additional != nullptr && additional->is_object()) {
      result[key] = validate(*additional, item, child, problems);
    } else {
      result[key] = item;
    }
  }
  if (auto required = schema.find("required"); required != schema.end()) {
    for (const json& name_json : *required) {
      const std::string name = name_json.get<std::string>();
      if (value.contains(name)) continue;
      auto p = props.find(name);
      add(problems, json_pointer_append(path, name),
          "required key is missing" +
              (p == props.end() ? std::string() : "; give " + describe_schema(*p)),
          "required");
    }
  }
  for (const auto& [name, prop] : props.items()) {
    if (value.contains(name) || !prop.is_object()) continue;
    if (auto d = prop.find("default"); d != prop.end())
      result[name] = validate(prop, *d, json_pointer_append(path, name), problems);
  }
  return result;
}

json validate_array(const json& schema, const json& value, const std::string& path,
                    Problems* problems) {
  const auto size = static_cast<int64_t>(value.size());
  auto min_items = schema.find("minItems");
  auto max_items = schema.find("maxItems");
  const bool too_few = min_items != schema.end() && size < min_items->get<int64_t>();
  const bool too_many = max_items != schema.end() && size > max_items->get<int64_t>();
  if (too_few || too_many) {
    add(problems, path,
        "expected " + describe_schema(schema) + ", found " + std::to_string(size) + " item" +
            (size == 1 ? "" : "s"),
        too_few ? "minItems" : "maxItems");
  }
  auto items = schema.find("items");
  if (items == schema.end()) return value;
  json result = json::array();
  for (size_t i = 0; i < value.size(); ++i)
    result.push_back(validate(*items, value[i], json_pointer_append(path, i), problems));
  return result;
}

json validate_one_of(const json& alternatives, const json& value, const std::string& path,
                     const json& whole, Problems* problems) {
  std::vector<size_t> passing;
  std::vector<json> results;
  std::vector<Problems> found(alternatives.size());
  for (size_t i = 0; i < alternatives.size(); ++i) {
    results.push_back(validate(alternatives[i], value, path, &found[i]));
    if (found[i].empty()) passing.push_back(i);
  }
  if (passing.size() == 1) return results[passing[0]];
  if (passing.size() > 1) {
    add(problems, path,
        "matches " + std::to_string(passing.size()) + " of the alternatives (" +
            describe_schema(whole) + ") but must match exactly one",
        "oneOf");
    return value;
  }
  // No match: when only one alternative takes this kind of value, its complaint is the
  // precise one ("> 0" rather than "a number or a string").
  std::vector<size_t> same_type;
  for (size_t i = 0; i < alternatives.size(); ++i)
    if (accepts_type(alternatives[i], value) && !types_of(alternatives[i]).empty())
      same_type.push_back(i);
  if (same_type.size() == 1) {
    problems->insert(problems->end(), found[same_type[0]].begin(), found[same_type[0]].end());
  } else {
    add(problems, path, "expected " + describe_schema(whole) + ", found " + describe_json(value),
        "oneOf");
  }
  return value;
}

json validate(const json& schema, const json& value, const std::string& path, Problems* problems) {
  if (schema.is_boolean()) {
    if (schema == false) add(problems, path, "no value is allowed here; remove it", "false");
    return value;
  }
  if (!accepts_type(schema, value)) {
    add(problems, path, "expected " + describe_schema(schema) + ", found " + describe_json(value),
        "type");
    return value;
  }
  if (auto e = schema.find("enum"); e != schema.end()) {
    if (std::find(e->begin(), e->end(), value) == e->end()) {
      std::vector<std::string> names;
      for (const json& option : *e)
        if (option.is_string()) names.push_back(option.get<std::string>());
      add(problems, path,
          "expected " + describe_schema(schema) + ", found " + describe_json(value) +
              (value.is_string() ? did_you_mean(value.get<std::string>(), names) : ""),
          "enum");
      return value;
    }
  }
  json result = value;
  if (value.is_number()) {
    if (const char* bound = violated_bound(schema, value.get<double>())) {
      add(problems, path, "expected " + describe_schema(schema) + ", found " + describe_json(value),
          bound);
      return value;
    }
    const std::vector<std::string> types = types_of(schema);
    const bool integer_only = std::find(types.begin(), types.end(), "integer") != types.end() &&
                              std::find(types.begin(), types.end(), "number") == types.end();
    if (integer_only && value.is_number_float()) result = *as_integer(value);
  } else if (value.is_object()) {
    result = validate_object(schema, value, path, problems);
  } else if (value.is_array()) {
    result = validate_array(schema, value, path, problems);
  }
  if (auto one_of = schema.find("oneOf"); one_of != schema.end())
    result = validate_one_of(*one_of, result, path, schema, problems);
  return result;
}

// ---------------------------------------------------------------------------------------------
// The checker: is a schema well formed, in the keywords above?

std::string brief(const json& value) {
  std::string text = value.dump();
  if (text.size() > 60) text = text.substr(0, 57) + "...";
  return text;
}

Status error_at(const std::string& where, const std::string& what) {
  return make_error(ErrorCode::kInvalidArgument, where.empty() ? "(root)" : where, ": ", what);
}

bool is_type_name(const json& t) {
  return t.is_string() && std::find(type_names().begin(), type_names().end(),
                                    t.get<std::string>()) != type_names().end();
}

Status check_type_keyword(const json& type, const std::string& where) {
  const std::string known = "; use object, array, string, number, integer, boolean or null";
  if (type.is_string()) {
    if (!is_type_name(type)) return error_at(where, "unknown type " + brief(type) + known);
    return Status::Ok();
  }
  if (!type.is_array() || type.empty()) {
    return error_at(where,
                    "expected a type name or a non-empty list of them, found " + brief(type));
  }
  std::set<std::string> seen;
  for (size_t i = 0; i < type.size(); ++i) {
    const std::string at = json_pointer_append(where, i);
    if (!is_type_name(type[i])) return error_at(at, "unknown type " + brief(type[i]) + known);
    if (!seen.insert(type[i].get<std::string>()).second) {
      return error_at(at, "type " + brief(type[i]) + " listed twice");
    }
  }
  return Status::Ok();
}

// A default that its own schema rejects would make every recipe that leaves it out invalid.
// The validator decides; the message names the keyword when the default itself breaks one.
Status check_default(const json& schema, const std::string& where) {
  const json& value = schema["default"];
  Problems found;
  validate(schema, value, "", &found);
  if (found.empty()) return Status::Ok();
  const Problem& p = found.front();
  const std::string at = where + "/default";
  const std::string the_default = "the default " + brief(value);
  if (p.where.empty() && schema.contains(p.keyword)) {
    const json& limit = schema[p.keyword];
    if (p.keyword == "type") return error_at(at, the_default + " is not of type " + brief(limit));
    if (p.keyword == "enum") {
      return error_at(at, the_default + " is not one of the enum " + brief(limit));
    }
    if (p.keyword == "minimum")
      return error_at(at, the_default + " is below minimum " + brief(limit));
    if (p.keyword == "maximum")
      return error_at(at, the_default + " is above maximum " + brief(limit));
    if (p.keyword == "exclusiveMinimum") {
      return error_at(at, the_default + " is not above exclusiveMinimum " + brief(limit));
    }
    if (p.keyword == "exclusiveMaximum") {
      return error_at(at, the_default + " is not below exclusiveMaximum " + brief(limit));
    }
  }
  return error_at(at, the_default + " does not match its own schema: " +
                          (p.where.empty() ? "" : p.where + ": ") + p.message);
}

Status check_count(const json& schema, const char* key, const std::string& where) {
  auto it = schema.find(key);
  if (it == schema.end()) return Status::Ok();
  const std::optional<int64_t> n = it->is_number() ? as_integer(*it) : std::nullopt;
  if (!n || *n < 0) {
    return error_at(where + "/" + key, "expected a whole number >= 0, found " + brief(*it));
  }
  return Status::Ok();
}

Status check_subschema(const json& schema, const std::string& where) {
  if (!schema.is_object()) {
    return error_at(where, "expected a schema (a JSON object), found " + brief(schema));
  }
  const auto& keywords = schema_keywords();
  for (const auto& [key, value] : schema.items()) {
    if (!std::binary_search(keywords.begin(), keywords.end(), key)) {
      return error_at(
          json_pointer_append(where, key),
          "unsupported keyword '" + key + "'; retort validates only: " + join(keywords));
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
  RETORT_RETURN_IF_ERROR(check_count(schema, "minItems", where));
  RETORT_RETURN_IF_ERROR(check_count(schema, "maxItems", where));
  if (schema.contains("minItems") && schema.contains("maxItems") &&
      schema["minItems"].get<double>() > schema["maxItems"].get<double>()) {
    return error_at(where + "/minItems", "minItems " + brief(schema["minItems"]) +
                                             " is greater than maxItems " +
                                             brief(schema["maxItems"]));
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
      RETORT_RETURN_IF_ERROR(
          check_subschema(sub, json_pointer_append(where + "/properties", name)));
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
      const std::string at = where + "/required/" + std::to_string(i);
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
    RETORT_RETURN_IF_ERROR(check_subschema(*it, where + "/additionalProperties"));
  }
  if (auto it = schema.find("items"); it != schema.end()) {
    RETORT_RETURN_IF_ERROR(check_subschema(*it, where + "/items"));
  }
  if (auto it = schema.find("oneOf"); it != schema.end()) {
    if (!it->is_array() || it->empty()) {
      return error_at(where + "/oneOf",
                      "expected a non-empty list of alternative schemas, found " + brief(*it));
    }
    for (size_t i = 0; i < it->size(); ++i) {
      RETORT_RETURN_IF_ERROR(check_subschema((*it)[i], json_pointer_append(where + "/oneOf", i)));
    }
  }
  if (schema.contains("default")) RETORT_RETURN_IF_ERROR(check_default(schema, where));
  return Status::Ok();
}

}  // namespace

const std::vector<std::string>& schema_keywords() {
  static const std::vector<std::string> kKeywords = [] {
    std::vector<std::string> k = {"type",
                                  "properties",
                                  "required",
                                  "additionalProperties",
                                  "default",
                                  "enum",
                                  "minimum",
                                  "maximum",
                                  "exclusiveMinimum",
                                  "exclusiveMaximum",
                                  "items",
                                  "minItems",
                                  "maxItems",
                                  "oneOf",
                                  "description",
                                  "title"};
    std::sort(k.begin(), k.end());
    return k;
  }();
  return kKeywords;
}

Status check_schema(const json& schema) {
  return check_subschema(schema, "");
}

Status check_params_schema(const json& schema) {
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
  return check_schema(schema);
}

json apply_schema(const json& schema, const json& value, const std::string& path,
                  std::vector<Diagnostic>* problems) {
  Problems found;
  json result = validate(schema, value, path, &found);
  for (Problem& p : found) {
    problems->push_back({p.where.empty() ? "/" : std::move(p.where), std::move(p.message)});
  }
  return result;
}

std::string describe_schema(const json& schema) {
  if (!schema.is_object()) return schema == false ? "nothing" : "any value";
  if (auto e = schema.find("enum"); e != schema.end() && e->is_array()) {
    std::vector<std::string> options;
    for (const json& option : *e) options.push_back(option.dump());
    return options.size() == 1 ? options[0] : "one of " + join(options);
  }
  std::vector<std::string> parts;
  for (const std::string& type : types_of(schema)) parts.push_back(describe_type(schema, type));
  if (auto one_of = schema.find("oneOf"); parts.empty() && one_of != schema.end()) {
    for (const json& alternative : *one_of) parts.push_back(describe_schema(alternative));
  }
  if (parts.empty()) return schema.contains("properties") ? "an object" : "any value";
  return join(parts, " or ");
}

}  // namespace retort
