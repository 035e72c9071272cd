// A recipe: data, models and a graph of stages, as JSON (version 1).
//
//   {
//     "version": 1,
//     "seed": 1,
//     "data": {"dataset": "fashion-mnist", "train_size": 5000, "test_size": 1000},
//     "models": {"cnn": {"arch": "cnn"}, "ext": {"onnx": "teachers/resnet.onnx"}},
//     "stages": [
//       {"id": "teacher", "type": "train", "inputs": {"model": "models.cnn"},
//        "params": {"epochs": 2}},
//       {"id": "eval", "type": "evaluate", "inputs": {"models": ["teacher.model", "models.ext"]}}
//     ]
//   }
//
// Top-level keys: "version" (required, 1), "seed" (integer >= 0, default 0), "data", "models",
// "stages" (required, non-empty), "description" and "$schema" (for editors; see
// recipes/schema/recipe.schema.json). A stage has "id" (required, unique, [a-z0-9_-]+),
// "type" (required), "inputs", "params", "seed" (default: the recipe's) and "description".
//
// Two recipe constructs stand for several distill stages and are expanded before checking,
// so each step is its own stage in the graph, cache and report (see src/recipe/sections.h):
//   {"id": "takd", "type": "ta_chain", "inputs": {"teacher": .., "assistants": [..],
//    "student": ..}, "params": {distill params}}  -> takd-ta1 .. takd-taN, takd
//   {"id": "ban", "type": "born_again", "inputs": {"teacher": .., "student": ..},
//    "params": {"generations": N, distill params}} -> ban-gen1 .. ban-gen(N-1), ban
//
// An input reference is "<stage-id>.<output-port>" (an edge of the graph) or
// "models.<name>" (a recipe model: an architecture spec or {"onnx": path}); a port that
// accepts several values takes a list (fan-in). Relative paths are relative to the recipe file.
//
// The resolved "data" section (what stages receive) is one of
//   {"dataset": "fashion-mnist", "dir": ABS, "train_size": N, "test_size": M,
//    "class_names": [10 names]}
//   {"dataset": "idx", "train_images": ABS, "train_labels": ABS, "test_images": ABS,
//    "test_labels": ABS, "train_size": N, "test_size": M, "class_names": [...] (if given)}
// where the sizes default to every sample of the files; data::load_data_section loads it.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "nlohmann/json.hpp"
#include "retort/core/status.h"
#include "retort/plugin/registry.h"
#include "retort/recipe/diagnostic.h"

namespace retort::recipe {

inline constexpr int kRecipeVersion = 1;

struct InputRef {
  std::string text;       // as written: "teacher.model" or "models.cnn"
  std::string stage;      // referenced stage id, or empty for a recipe model
  std::string port;       // referenced output port
  std::string model;      // recipe model name, or empty for a stage output
  std::string json_path;  // "/stages/2/inputs/teacher/0", for messages
};

struct StageSpec {
  std::string id;
  std::string type;
  std::map<std::string, std::vector<InputRef>> inputs;  // port -> bound values
  nlohmann::json params;  // validated against the type's schema, defaults filled in
  uint64_t seed = 0;      // the stage's "seed" or the recipe's
  size_t index = 0;       // position in "stages"
};

struct Recipe {
  std::string path;  // the file it came from ("" when parsed from a string)
  std::string name;  // file name without extension ("recipe" without a file)
  int version = kRecipeVersion;
  uint64_t seed = 0;
  nlohmann::json data;                           // resolved: defaults filled, paths made absolute
  std::map<std::string, nlohmann::json> models;  // resolved: {"onnx": absolute path} or a spec
  std::vector<StageSpec> stages;

  const StageSpec* stage(const std::string& id) const;
  // The recipe as JSON with every default filled in (written as recipe.resolved.json). It is a
  // valid recipe itself and resolves to the same thing.
  nlohmann::json resolved_json() const;
};

// Parses and checks a recipe before any compute: JSON syntax (line and column), unknown keys
// (with a did-you-mean), unknown stage types (listing the known ones), params against each
// type's schema (JSON path, expected, found), dangling references, cycles (naming the cycle),
// port kinds, missing files. Reports every problem found, not just the first: on failure
// `problems` (may be null) holds them all and the result is an error (kParse for a syntax
// error, kNotFound for an unreadable file, else kInvalidArgument) listing them, one per line.
Expected<Recipe> load_recipe(const std::string& path, const plugin::StageRegistry& registry,
                             std::vector<Diagnostic>* problems);
// `origin_path` is where the text came from: it names the recipe in messages and relative
// paths are resolved against its folder (the current folder when it is empty).
Expected<Recipe> parse_recipe(const std::string& text, const std::string& origin_path,
                              const plugin::StageRegistry& registry,
                              std::vector<Diagnostic>* problems);

// A "data" section given outside a recipe (retort eval/train --data), checked by the same rules
// with the same messages as a recipe's, defaults filled in and paths made absolute against
// `base_dir` (the current folder when empty): the resolved section data::load_data_section
// takes. On failure `problems` (may be null) holds every problem, each at "/data/...", and the
// error lists them one per line, each prefixed with `origin` ("--data: /data/test_size: ...").
Expected<nlohmann::json> resolve_data_section(const nlohmann::json& section,
                                              const std::string& origin,
                                              const std::string& base_dir = "",
                                              std::vector<Diagnostic>* problems = nullptr);

// Stage ids in an order where every stage comes after the stages it reads from (ties keep the
// recipe's order).
std::vector<std::string> topological_order(const Recipe& recipe);

}  // namespace retort::recipe
