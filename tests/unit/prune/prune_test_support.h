// Shared by the pruning tests: data slices, small models, hand-built weights.
#pragma once

#include <gtest/gtest.h>

#include <map>
#include <random>
#include <string>

#include "nlohmann/json.hpp"
#include "retort/arch/build_model.h"
#include "retort/data/fashion_mnist.h"

namespace retort::prune::testing {

inline const data::Dataset& fashion(data::Split split, int64_t count) {
  static std::map<std::pair<int, int64_t>, data::Dataset> cache;
  const auto key = std::make_pair(static_cast<int>(split), count);
  if (!cache.count(key)) {
    auto all = data::load_fashion_mnist(split, RETORT_FASHION_MNIST_DIR);
    EXPECT_TRUE(all.ok()) << all.status().message();
    auto part = data::slice(*all, 0, count);
    EXPECT_TRUE(part.ok()) << part.status().message();
    cache[key] = *part;
  }
  return cache[key];
}

inline Model build(const nlohmann::json& spec, uint64_t seed) {
  auto m = arch::build_model(spec, seed);
  EXPECT_TRUE(m.ok()) << spec.dump() << ": " << m.status().message();
  return m.ok() ? std::move(m).value() : Model{};
}

inline ::testing::AssertionResult contains(const std::string& text, const std::string& part) {
  if (text.find(part) != std::string::npos) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure()
         << "\"" << text << "\"\n  does not contain \"" << part << "\"";
}

// A graph with one weight node (not runnable: only what the pruning library reads).
inline Model single_layer(const std::string& op, Shape weight_shape, int64_t trans_b,
                          uint64_t seed = 1) {
  Model m;
  Node n;
  n.name = "layer";
  n.op_type = op;
  n.inputs = {"x", "layer.weight"};
  n.outputs = {"y"};
  if (op == "Gemm") n.attributes["transB"] = Attribute::of_int(trans_b);
  m.graph.nodes.push_back(n);
  Tensor w(DType::kFloat32, std::move(weight_shape));
  std::mt19937 rng(static_cast<uint32_t>(seed));
  std::normal_distribution<float> dist(0.0f, 1.0f);
  for (float& v : w.span<float>()) v = dist(rng);
  m.graph.initializers["layer.weight"] = w;
  return m;
}

}  // namespace retort::prune::testing
