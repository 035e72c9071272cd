// The prune stage's pruning parameters (method, layers, schedule) read from JSON, checked
// before anything trains. Messages start with the JSON path ("/params/magnitude/sparsity: ...").
//
//   "method": "magnitude" | "nm" | "structured"
//   "layers": ["fc1", ...]            node names to prune (default: every prunable layer)
//   "magnitude": {"sparsity": 0.9, "scope": "layer" | "global", "layer_sparsity": {"fc1": 0.92},
//                 "rule": "sparsity" | "han", "quality": 1.0, "layer_quality": {"fc1": 1.2}}
//   "nm": {"n": 2, "m": 4}
//   "structured": {"criterion": "l1" | "l2" | "bn_scale", "ratio": 0.5, "layer_ratios": {...},
//                  "target_flops_fraction": 0, "min_channels": 1}
//   "schedule": {"type": "one_shot" | "iterative" | "gradual", "rounds": 3,
//                "initial_sparsity": 0, "start_step": 0, "end_step": 0 (auto), "frequency": 0
//                (auto)}
#pragma once

#include <string>
#include <vector>

#include "nlohmann/json.hpp"
#include "retort/core/status.h"
#include "retort/prune/channel_pruning.h"
#include "retort/prune/magnitude.h"
#include "retort/prune/nm_pattern.h"
#include "retort/prune/sparsity_schedule.h"

// The JSON-schema properties of the keys above: a string literal fragment without braces,
// like RETORT_TRAIN_LOOP_PROPERTIES.
// clang-format off
#define RETORT_PRUNE_CONFIG_PROPERTIES \
  R"json(    "method": {"type": "string", "enum": ["magnitude", "nm", "structured"], "default": "magnitude",)json" \
  R"json(               "description": "magnitude: unstructured |w| masks; nm: N:M pattern along the input dimension; structured: whole channels removed from the graph"},)json" \
  R"json(    "layers": {"type": "array", "items": {"type": "string"}, "default": [],)json" \
  R"json(               "description": "node names of the layers to prune (default: every Conv/Gemm/MatMul weight)"},)json" \
  R"json(    "magnitude": {"type": "object", "additionalProperties": false, "default": {}, "properties": {)json" \
  R"json(      "sparsity": {"type": "number", "minimum": 0, "exclusiveMaximum": 1, "default": 0.5,)json" \
  R"json(                   "description": "fraction of weights masked (per layer, or over all layers with scope global)"},)json" \
  R"json(      "scope": {"type": "string", "enum": ["layer", "global"], "default": "layer"},)json" \
  R"json(      "layer_sparsity": {"type": "object", "additionalProperties": {"type": "number"}, "default": {},)json" \
  R"json(                         "description": "per-layer targets by node name"},)json" \
  R"json(      "rule": {"type": "string", "enum": ["sparsity", "han"], "default": "sparsity",)json" \
  R"json(               "description": "han: mask |w| < quality x std(w) per layer (Han et al. 2015)"},)json" \
  R"json(      "quality": {"type": "number", "minimum": 0, "default": 1.0},)json" \
  R"json(      "layer_quality": {"type": "object", "additionalProperties": {"type": "number"}, "default": {}}}},)json" \
  R"json(    "nm": {"type": "object", "additionalProperties": false, "default": {}, "properties": {)json" \
  R"json(      "n": {"type": "integer", "minimum": 1, "default": 2},)json" \
  R"json(      "m": {"type": "integer", "minimum": 2, "default": 4}}},)json" \
  R"json(    "structured": {"type": "object", "additionalProperties": false, "default": {}, "properties": {)json" \
  R"json(      "criterion": {"type": "string", "enum": ["l1", "l2", "bn_scale"], "default": "l1"},)json" \
  R"json(      "ratio": {"type": "number", "minimum": 0, "exclusiveMaximum": 1, "default": 0.5},)json" \
  R"json(      "layer_ratios": {"type": "object", "additionalProperties": {"type": "number"}, "default": {}},)json" \
  R"json(      "target_flops_fraction": {"type": "number", "minimum": 0, "maximum": 1, "default": 0},)json" \
  R"json(      "min_channels": {"type": "integer", "minimum": 1, "default": 1},)json" \
  R"json(      "channel_multiple": {"type": "integer", "minimum": 1, "default": 1,)json" \
  R"json(                           "description": "round each group's kept channel count up to a multiple of this"}}},)json" \
  R"json(    "schedule": {"type": "object", "additionalProperties": false, "default": {}, "properties": {)json" \
  R"json(      "type": {"type": "string", "enum": ["one_shot", "iterative", "gradual"], "default": "one_shot"},)json" \
  R"json(      "rounds": {"type": "integer", "minimum": 1, "default": 3,)json" \
  R"json(                 "description": "iterative: prune-and-retrain rounds (fine_tune.epochs each)"},)json" \
  R"json(      "initial_sparsity": {"type": "number", "minimum": 0, "exclusiveMaximum": 1, "default": 0},)json" \
  R"json(      "start_step": {"type": "integer", "minimum": 0, "default": 0},)json" \
  R"json(      "end_step": {"type": "integer", "minimum": 0, "default": 0,)json" \
  R"json(                   "description": "0: three quarters of the fine-tuning steps"},)json" \
  R"json(      "frequency": {"type": "integer", "minimum": 0, "default": 0,)json" \
  R"json(                    "description": "steps between mask updates; 0: 1/40 of the pruning span"}}})json"
// clang-format on

namespace retort::prune {

enum class Method { kMagnitude, kNm, kStructured };

struct PruneConfig {
  Method method = Method::kMagnitude;
  std::vector<std::string> layers;  // empty: every prunable layer
  MagnitudeOptions magnitude;
  NmPattern nm;
  StructuredOptions structured;
  ScheduleKind schedule = ScheduleKind::kOneShot;
  int rounds = 3;       // iterative
  CubicSchedule cubic;  // gradual; end_step / frequency 0 until resolved
  bool auto_end_step = false;
  bool auto_frequency = false;
};

// `params` is the stage's params object, `where` its JSON path ("/params").
Expected<PruneConfig> parse_prune_config(const nlohmann::json& params, const std::string& where);

// Fills a gradual schedule's automatic values from the fine-tuning length: end_step 3/4 of
// the steps, frequency 1/40 of the steps to the end (at least 1).
void resolve_schedule(PruneConfig& config, int64_t total_steps);

}  // namespace retort::prune
