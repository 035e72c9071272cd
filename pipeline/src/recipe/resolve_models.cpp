#include <algorithm>
#include <filesystem>

#include "recipe/sections.h"
#include "retort/arch/build_model.h"
#include "retort/core/json_util.h"
#include "retort/core/text.h"
#include "retort/graph/onnx_io.h"

namespace retort::recipe::detail {
namespace {

using nlohmann::json;

// Model names appear in references "models.<name>", so no dots.
bool valid_model_name(const std::string& name) {
  return !name.empty() && std::all_of(name.begin(), name.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-';
  });
}

// resolve_spec's error is "<json pointer>: <what>"; split it so the pointer becomes `where`.
void add_spec_error(const std::string& message, const std::string& fallback_where,
                    const Checker& checker) {
  const size_t colon = message.find(": ");
  if (!message.empty() && message[0] == '/' && colon != std::string::npos) {
    checker.add(message.substr(0, colon), message.substr(colon + 2));
  } else {
    checker.add(fallback_where, message);
  }
}

std::optional<json> resolve_onnx(const json& spec, const std::string& where,
                                 const Checker& checker) {
  checker.check_keys(spec, where, {"onnx"}, "an ONNX model");
  const json& path = spec["onnx"];
  const std::string path_where = json_pointer_append(where, "onnx");
  if (!path.is_string() || path.get<std::string>().empty()) {
    checker.add(path_where, "expected the path of an ONNX file, found " + describe_json(path));
    return std::nullopt;
  }
  const std::string file = checker.absolute(path.get<std::string>());
  std::error_code ec;
  if (!std::filesystem::is_regular_file(file, ec)) {
    checker.add(path_where, "ONNX file '" + file + "' not found" +
                                (std::filesystem::path(path.get<std::string>()).is_relative()
                                     ? " (relative paths start at the recipe's folder)"
                                     : ""));
    return std::nullopt;
  }
  // Reading it now turns a corrupt or unsupported file into a recipe error, not a failed run.
  // Lenient on old opsets: a stage may still accept those.
  OnnxLoadOptions options;
  options.upgrade_unchanged_opset = true;
  if (auto model = load_onnx(file, options); !model.ok()) {
    checker.add(path_where, model.status().message());
    return std::nullopt;
  }
  return json{{"onnx", file}};
}

// A model trained on the recipe's data must take its images and have an output per class.
void check_against_data(const json& resolved, const std::string& where, const DataFacts& facts,
                        const Checker& checker) {
  if (facts.image_shape && resolved.contains("input") &&
      resolved["input"].get<std::vector<int64_t>>() != *facts.image_shape) {
    checker.add(json_pointer_append(where, "input"),
                "the model takes images " + resolved["input"].dump() +
                    " but the recipe's data has images " + json(*facts.image_shape).dump() +
                    " [C, H, W]; set \"input\": " + json(*facts.image_shape).dump());
  }
  if (facts.num_classes && resolved.contains("classes") &&
      resolved["classes"].get<int64_t>() < *facts.num_classes) {
    checker.add(json_pointer_append(where, "classes"),
                "the model has " + resolved["classes"].dump() + " outputs but the data has " +
                    std::to_string(*facts.num_classes) +
                    " classes; set \"classes\": " + std::to_string(*facts.num_classes));
  }
}

}  // namespace

std::map<std::string, json> resolve_models(const json* models, const DataFacts& facts,
                                           const Checker& checker) {
  std::map<std::string, json> out;
  if (models == nullptr) return out;
  if (!models->is_object()) {
    checker.add("/models",
                "expected an object of named models such as {\"cnn\": {\"arch\": "
                "\"cnn\"}}, found " +
                    describe_json(*models));
    return out;
  }
  for (const auto& [name, spec] : models->items()) {
    const std::string where = json_pointer_append("/models", name);
    if (!valid_model_name(name)) {
      checker.add(where, "invalid model name '" + name +
                             "'; use letters, digits, '_' and '-' (it is referenced as "
                             "\"models.<name>\")");
      continue;
    }
    // A model with problems stays listed (as written) so that references to it are not
    // reported as dangling too.
    out[name] = spec;
    if (!spec.is_object()) {
      checker.add(where,
                  "expected an architecture spec {\"arch\": ...} or {\"onnx\": PATH}, "
                  "found " +
                      describe_json(spec));
      continue;
    }
    if (spec.contains("onnx")) {
      if (auto resolved = resolve_onnx(spec, where, checker)) out[name] = *resolved;
      continue;
    }
    auto resolved = arch::resolve_spec(spec, where);
    if (!resolved.ok()) {
      add_spec_error(resolved.status().message(), where, checker);
      continue;
    }
    check_against_data(*resolved, where, facts, checker);
    out[name] = *resolved;
  }
  return out;
}

}  // namespace retort::recipe::detail
