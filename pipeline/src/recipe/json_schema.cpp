#include "retort/recipe/json_schema.h"

#include <algorithm>
#include <map>

#include "retort/core/json_util.h"
#include "retort/core/text.h"

namespace retort::recipe {
namespace {

using nlohmann::json;

std::string root_if_empty(const std::string& path) {
  return path.empty() ? "/" : path;
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

bool is_integer_value(const json& value) {
  return value.is_number_unsigned() || as_integer(value).has_value();
}

bool has_type(const json& value, const std::string& type) {
  if (type == "object") return value.is_object();
  if (type == "array") return value.is_array();
  if (type == "string") return value.is_string();
  if (type == "boolean") return value.is_boolean();
  if (type == "null") return value.is_null();
  if (type == "number") return value.is_number();
  if (type == "integer") return is_integer_value(value);
  return false;
}

bool accepts_type(const json& schema, const json& value) {
  const std::vector<std::string> types = types_of(schema);
  if (types.empty()) return true;
  return std::any_of(types.begin(), types.end(),
                     [&](const std::string& t) { return has_type(value, t); });
}

std::string with_article(const std::string& noun) {
  const bool vowel = !noun.empty() && std::string("aeiou").find(noun[0]) != std::string::npos;
  return (vowel ? "an " : "a ") + noun;
}

std::string number_text(const json& n) {
  return n.dump();
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
    return " from " + number_text(*low) + " to " + number_text(*high);
  std::string out;
  if (low) out += (low_exclusive ? " > " : " >= ") + number_text(*low);
  if (low && high) out += " and";
  if (high) out += (high_exclusive ? " < " : " <= ") + number_text(*high);
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

void add(std::vector<Diagnostic>* problems, const std::string& path, std::string message) {
  problems->push_back({root_if_empty(path), std::move(message)});
}

json validate(const json& schema, const json& value, const std::string& path,
              std::vector<Diagnostic>* problems);

json validate_object(const json& schema, const json& value, const std::string& path,
                     std::vector<Diagnostic>* problems) {
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
              (names.empty() ? "; this object takes no keys" : "; known keys: " + join(names)));
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
              (p == props.end() ? std::string() : "; give " + describe_schema(*p)));
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
                    std::vector<Diagnostic>* problems) {
  const auto size = static_cast<int64_t>(value.size());
  auto min_items = schema.find("minItems");
  auto max_items = schema.find("maxItems");
  if ((min_items != schema.end() && size < min_items->get<int64_t>()) ||
      (max_items != schema.end() && size > max_items->get<int64_t>())) {
    add(problems, path,
        "expected " + describe_schema(schema) + ", found " + std::to_string(size) + " item" +
            (size == 1 ? "" : "s"));
  }
  auto items = schema.find("items");
  if (items == schema.end()) return value;
  json result = json::array();
  for (size_t i = 0; i < value.size(); ++i)
    result.push_back(validate(*items, value[i], json_pointer_append(path, i), problems));
  return result;
}

bool within_bounds(const json& schema, double x) {
  if (auto it = schema.find("minimum"); it != schema.end() && !(x >= it->get<double>()))
    return false;
  if (auto it = schema.find("exclusiveMinimum"); it != schema.end() && !(x > it->get<double>()))
    return false;
  if (auto it = schema.find("maximum"); it != schema.end() && !(x <= it->get<double>()))
    return false;
  if (auto it = schema.find("exclusiveMaximum"); it != schema.end() && !(x < it->get<double>()))
    return false;
  return true;
}

json validate_one_of(const json& alternatives, const json& value, const std::string& path,
                     const json& whole, std::vector<Diagnostic>* problems) {
  std::vector<size_t> passing;
  std::vector<json> results;
  std::vector<std::vector<Diagnostic>> found(alternatives.size());
  for (size_t i = 0; i < alternatives.size(); ++i) {
    results.push_back(validate(alternatives[i], value, path, &found[i]));
    if (found[i].empty()) passing.push_back(i);
  }
  if (passing.size() == 1) return results[passing[0]];
  if (passing.size() > 1) {
    add(problems, path,
        "matches " + std::to_string(passing.size()) + " of the alternatives (" +
            describe_schema(whole) + ") but must match exactly one");
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
    add(problems, path, "expected " + describe_schema(whole) + ", found " + describe_json(value));
  }
  return value;
}

json validate(const json& schema, const json& value, const std::string& path,
              std::vector<Diagnostic>* problems) {
  if (schema.is_boolean()) {
    if (schema == false) add(problems, path, "no value is allowed here; remove it");
    return value;
  }
  if (!accepts_type(schema, value)) {
    add(problems, path, "expected " + describe_schema(schema) + ", found " + describe_json(value));
    return value;
  }
  if (auto e = schema.find("enum"); e != schema.end()) {
    if (std::find(e->begin(), e->end(), value) == e->end()) {
      std::vector<std::string> names;
      for (const json& option : *e)
        if (option.is_string()) names.push_back(option.get<std::string>());
      add(problems, path,
          "expected " + describe_schema(schema) + ", found " + describe_json(value) +
              (value.is_string() ? did_you_mean(value.get<std::string>(), names) : ""));
      return value;
    }
  }
  json result = value;
  if (value.is_number()) {
    if (!within_bounds(schema, value.get<double>())) {
      add(problems, path,
          "expected " + describe_schema(schema) + ", found " + describe_json(value));
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

}  // namespace

json apply_schema(const json& schema, const json& value, const std::string& path,
                  std::vector<Diagnostic>* problems) {
  return validate(schema, value, path, problems);
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

}  // namespace retort::recipe
