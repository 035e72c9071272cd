// Shared by the unit tests: Fashion-MNIST slices (loaded once per process), models built
// from specs, and a substring matcher with a readable failure.
#pragma once

#include <gtest/gtest.h>

#include <map>
#include <string>
#include <utility>

#include "nlohmann/json.hpp"
#include "retort/arch/build_model.h"
#include "retort/data/fashion_mnist.h"

namespace retort::test_support {

// The first `count` images of a split.
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

}  // namespace retort::test_support
