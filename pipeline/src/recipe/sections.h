// The pieces of recipe validation, one per section of the file; shared between the files of
// pipeline/src/recipe only. Each piece appends every problem it finds and carries on, so that
// one pass reports them all.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "retort/plugin/registry.h"
#include "retort/recipe/diagnostic.h"
#include "retort/recipe/recipe.h"

namespace retort::recipe::detail {

struct Checker {
  std::string base_dir;  // relative paths in the recipe are relative to this (absolute) folder
  std::vector<Diagnostic>* problems;

  void add(const std::string& where, std::string message) const {
    problems->push_back({where.empty() ? "/" : where, std::move(message)});
  }
  // Reports every key of `object` not in `known`, with a did-you-mean. `what` names the object
  // for the message ("a stage").
  void check_keys(const nlohmann::json& object, const std::string& path,
                  const std::vector<std::string>& known, const std::string& what) const;
  // `path` made absolute against base_dir and normalised.
  std::string absolute(const std::string& path) const;
  // A whole number >= `min` at `where`, or nullopt (reported).
  std::optional<uint64_t> unsigned_at(const nlohmann::json& value, const std::string& where,
                                      uint64_t min) const;
};

// What the data section implies for checking models against it.
struct DataFacts {
  std::optional<std::vector<int64_t>> image_shape;  // [C, H, W] when the files could be read
  std::optional<int64_t> num_classes;               // when known (names given or labels read)
};

// "data": checked, defaults filled, paths absolute, the IDX headers read.
nlohmann::json resolve_data(const nlohmann::json* data, const Checker& checker, DataFacts* facts);

// "models": each an architecture spec (resolved) or {"onnx": absolute path}.
std::map<std::string, nlohmann::json> resolve_models(const nlohmann::json* models,
                                                     const DataFacts& facts,
                                                     const Checker& checker);

// "stages": keys, ids, types, params against each type's schema, inputs and their references,
// port kinds and cycles.
std::vector<StageSpec> resolve_stages(const nlohmann::json* stages, uint64_t recipe_seed,
                                      const std::map<std::string, nlohmann::json>& models,
                                      const plugin::StageRegistry& registry,
                                      const Checker& checker);

// Where an expanded stage came from: the index of the construct in "stages" and, per input
// port of the expanded stage, the path under the construct's "inputs" that bound it.
struct StageOrigin {
  size_t index = 0;
  std::map<std::string, std::string> input_paths;  // "student" -> "assistants/0"
};

// Recipe constructs that stand for several stages, expanded into plain stage objects so the
// graph, cache and report show each step:
//   "ta_chain"   (Mirzadeh et al.) inputs teacher, assistants [..], student; params are a
//                distill stage's. Stages <id>-ta1 .. <id>-taN, then <id> for the student.
//   "born_again" (Furlanello et al.) inputs teacher, student; params "generations" N plus a
//                distill stage's. Stages <id>-gen1 .. <id>-gen(N-1), then <id> (generation N),
//                each distilled from the previous one, with seed + generation - 1.
// Other stages pass through. `origins` gets one entry per returned stage.
nlohmann::json expand_constructs(const nlohmann::json& stages, uint64_t recipe_seed,
                                 const Checker& checker, std::vector<StageOrigin>* origins);
// Rewrites "/stages/K/..." of problems[first..] from expanded indices to the recipe's own.
void map_to_origins(std::vector<Diagnostic>& problems, size_t first,
                    const std::vector<StageOrigin>& origins);

// Parses JSON text; a syntax error is reported as "line L, column C".
std::optional<nlohmann::json> parse_json_text(const std::string& text, const Checker& checker);

}  // namespace retort::recipe::detail
