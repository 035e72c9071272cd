// Helpers shared by the arch tests.
#pragma once

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "retort/arch/build_model.h"

namespace retort::arch::testing {

// Builds `spec`, failing the test (with the error) when it does not build.
inline Model build_or_fail(const nlohmann::json& spec, uint64_t seed = 0) {
  auto model = build_model(spec, seed);
  EXPECT_TRUE(model.ok()) << spec.dump() << ": " << model.status().message();
  return model.ok() ? std::move(model).value() : Model{};
}

// The error message of a spec that must not build.
inline std::string error_of(const nlohmann::json& spec, const std::string& json_path = "") {
  auto model = build_model(spec, 0, json_path);
  EXPECT_FALSE(model.ok()) << spec.dump() << " built but should not";
  if (model.ok()) return "";
  EXPECT_EQ(model.status().code(), ErrorCode::kInvalidArgument);
  return model.status().message();
}

// Learnable parameters by name suffix (weights, biases, batch-norm scales), independent of
// Model::learnable_parameters() so that the two check each other.
inline int64_t learnable_parameters(const Model& model) {
  int64_t n = 0;
  auto ends_with = [](const std::string& s, const std::string& suffix) {
    return s.size() >= suffix.size() &&
           s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
  };
  for (const auto& [name, t] : model.graph.initializers)
    if (ends_with(name, ".weight") || ends_with(name, ".bias") || ends_with(name, ".scale"))
      n += t.numel();
  return n;
}

inline std::vector<std::string> op_types(const Model& model) {
  std::vector<std::string> ops;
  for (const Node& n : model.graph.nodes) ops.push_back(n.op_type);
  return ops;
}

inline std::vector<std::string> node_names(const Model& model) {
  std::vector<std::string> names;
  for (const Node& n : model.graph.nodes) names.push_back(n.name);
  return names;
}

inline const Node* find_node(const Model& model, const std::string& name) {
  for (const Node& n : model.graph.nodes)
    if (n.name == name) return &n;
  return nullptr;
}

}  // namespace retort::arch::testing
