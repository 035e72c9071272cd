// The training-loop parameters every training stage shares (train, distill, mutual, ...):
// one schema fragment and one reader, so the stages accept the same keys with the same
// defaults.
#pragma once

#include <string>

#include "nlohmann/json.hpp"
#include "retort/core/status.h"
#include "retort/engine/trainer.h"

// JSON-schema "properties" members (no braces), a string literal so a stage's schema can be
// written as  R"({"type": "object", "properties": {)" RETORT_TRAIN_LOOP_PROPERTIES R"(, ...}})".
// clang-format off
#define RETORT_TRAIN_LOOP_PROPERTIES \
  R"json("epochs": {"type": "integer", "minimum": 1, "default": 5, "description": "passes over the training data"},)json" \
  R"json("batch": {"type": "integer", "minimum": 1, "default": 128},)json" \
  R"json("optimizer": {"type": "object", "additionalProperties": false, "default": {}, "properties": {)json" \
  R"json(  "type": {"type": "string", "enum": ["sgd", "adamw"], "default": "sgd"},)json" \
  R"json(  "lr": {"type": "number", "exclusiveMinimum": 0, "default": 0.05},)json" \
  R"json(  "momentum": {"type": "number", "minimum": 0, "exclusiveMaximum": 1, "default": 0.9},)json" \
  R"json(  "nesterov": {"type": "boolean", "default": false},)json" \
  R"json(  "weight_decay": {"type": "number", "minimum": 0, "default": 0},)json" \
  R"json(  "beta1": {"type": "number", "minimum": 0, "exclusiveMaximum": 1, "default": 0.9, "description": "adamw"},)json" \
  R"json(  "beta2": {"type": "number", "minimum": 0, "exclusiveMaximum": 1, "default": 0.999, "description": "adamw"},)json" \
  R"json(  "eps": {"type": "number", "exclusiveMinimum": 0, "default": 1e-8, "description": "adamw"},)json" \
  R"json(  "clip_grad_norm": {"type": "number", "minimum": 0, "default": 0, "description": "clip the global gradient L2 norm to this before each update; 0: off"}}},)json" \
  R"json("schedule": {"type": "object", "additionalProperties": false, "default": {}, "properties": {)json" \
  R"json(  "type": {"type": "string", "enum": ["constant", "step", "cosine"], "default": "cosine"},)json" \
  R"json(  "warmup_steps": {"type": "integer", "minimum": 0, "default": 0},)json" \
  R"json(  "step_size": {"type": "integer", "minimum": 1, "default": 1000},)json" \
  R"json(  "gamma": {"type": "number", "minimum": 0, "maximum": 1, "default": 0.1},)json" \
  R"json(  "min_factor": {"type": "number", "minimum": 0, "maximum": 1, "default": 0}}},)json" \
  R"json("augment": {"type": "object", "additionalProperties": false, "default": {}, "properties": {)json" \
  R"json(  "crop_padding": {"type": "integer", "minimum": 0, "default": 0},)json" \
  R"json(  "horizontal_flip": {"type": "boolean", "default": false}}})json"
// clang-format on

namespace retort::engine {

// Reads the keys of RETORT_TRAIN_LOOP_PROPERTIES (epochs, batch, optimizer, schedule, augment)
// from a stage's params; `where` is the params' JSON path for messages. Seed and progress are
// the caller's.
Expected<TrainOptions> train_options_from_json(const nlohmann::json& params,
                                               const std::string& where);

}  // namespace retort::engine
