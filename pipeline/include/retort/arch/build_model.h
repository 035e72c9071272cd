// Built-in architectures: a Model (IR graph with initialised weights) from a JSON spec.
//
// Every model takes raw NCHW float32 pixels in [0, 1] as graph input "input" [N, C, H, W]
// and starts with the training normalisation baked in: Sub "normalize.sub" (initializer
// "normalize.mean", [1, C, 1, 1]) then Div "normalize.div" ("normalize.std", [1, C, 1, 1]).
// Its output is "logits" [N, classes]. Metadata: "retort.input" (the input convention),
// "retort.arch" (the resolved spec: the given one with every default filled in; building it
// again with the same seed gives the same model), "retort.classes" (a JSON list of class
// names, when the spec has "class_names").
//
// Common keys of every spec:
//   "arch"        required; one of known_architectures()
//   "input"       [C, H, W], default [1, 28, 28]
//   "classes"     default 10 (or the length of "class_names")
//   "class_names" optional list of strings, one per class
//   "normalize"   {"mean": number or [C numbers], "std": ...}, default Fashion-MNIST
//                 (0.2860, 0.3530)
//   "init"        "kaiming" (normal, default) | "kaiming_uniform" | "xavier" (uniform) |
//                 "xavier_normal"; biases start at 0, batch-norm scale 1, bias 0, running
//                 mean 0, variance 1.
// Architectures and their keys are listed in families.h. Unknown keys are errors.
//
// Layer names are stable (pruning and distillation hints refer to them); see families.h.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "retort/core/status.h"
#include "retort/graph/input_convention.h"
#include "retort/graph/model.h"

namespace retort::arch {

inline constexpr const char* kInputConvention =
    kRawPixelsConvention;  // retort/graph/input_convention.h
// Node names of the baked-in normalisation and the initializers they read (listed in the
// model's kConstantsKey metadata, so they are never trained).
inline constexpr const char* kNormalizeSub = "normalize.sub";
inline constexpr const char* kNormalizeDiv = "normalize.div";
inline constexpr const char* kNormalizeMean = "normalize.mean";
inline constexpr const char* kNormalizeStd = "normalize.std";
inline constexpr double kFashionMnistMean = 0.2860;
inline constexpr double kFashionMnistStd = 0.3530;

// Builds the model of `spec`; weights are drawn from `seed` (each weight from its own stream
// derived from the seed and its name). Errors are kInvalidArgument and start with the JSON
// pointer of the offending value, prefixed by `json_path` (e.g. "/models/student" when the
// spec sits inside a recipe): "/models/student/hidden/1: expected an integer >= 1, found ...".
Expected<Model> build_model(const nlohmann::json& spec, uint64_t seed,
                            const std::string& json_path = "");

// Checks a spec without drawing weights and returns it with every default filled in (what
// "retort.arch" will hold). A spec that passes builds.
Expected<nlohmann::json> resolve_spec(const nlohmann::json& spec,
                                      const std::string& json_path = "");

// Names accepted by "arch", sorted.
std::vector<std::string> known_architectures();

}  // namespace retort::arch
