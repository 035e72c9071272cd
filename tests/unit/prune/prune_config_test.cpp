// The prune stage's parameters: defaults and error messages with their JSON paths.
#include "retort/prune/prune_config.h"

#include <gtest/gtest.h>

#include "prune/prune_test_support.h"

namespace retort::prune {
namespace {

using nlohmann::json;
using testing::contains;

std::string error_of(const json& params) {
  auto c = parse_prune_config(params, "/params");
  return c.ok() ? "" : c.status().message();
}

TEST(PruneConfig, DefaultsAndAFullMagnitudeConfig) {
  auto d = parse_prune_config(json::object(), "/params");
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->method, Method::kMagnitude);
  EXPECT_EQ(d->schedule, ScheduleKind::kOneShot);
  EXPECT_FLOAT_EQ(d->magnitude.sparsity, 0.5f);
  auto c = parse_prune_config(
      {{"method", "magnitude"},
       {"layers", {"fc1", "fc2"}},
       {"magnitude", {{"sparsity", 0.9}, {"layer_sparsity", {{"fc1", 0.92}}}}},
       {"schedule",
        {{"type", "gradual"}, {"start_step", 10}, {"end_step", 100}, {"frequency", 5}}}},
      "/params");
  ASSERT_TRUE(c.ok()) << c.status().message();
  EXPECT_EQ(c->layers, (std::vector<std::string>{"fc1", "fc2"}));
  EXPECT_FLOAT_EQ(c->magnitude.layer_sparsity.at("fc1"), 0.92f);
  EXPECT_EQ(c->cubic.end_step, 100);
  EXPECT_FALSE(c->auto_end_step);
}

TEST(PruneConfig, SparsityOutsideZeroToOneIsAnError) {
  EXPECT_TRUE(contains(error_of({{"magnitude", {{"sparsity", 1.0}}}}),
                       "/params/magnitude/sparsity: sparsity must be in [0, 1), got 1 (1 would "
                       "remove every weight)"));
  EXPECT_TRUE(contains(error_of({{"magnitude", {{"sparsity", -0.1}}}}),
                       "/params/magnitude/sparsity: sparsity must be in [0, 1), got -0.1"));
  EXPECT_TRUE(
      contains(error_of({{"magnitude", {{"layer_sparsity", {{"fc2", 1.5}}}}}}),
               "/params/magnitude/layer_sparsity/fc2: sparsity must be in [0, 1), got 1.5"));
  EXPECT_TRUE(contains(error_of({{"schedule", {{"type", "gradual"}, {"initial_sparsity", 1}}}}),
                       "/params/schedule/initial_sparsity: sparsity must be in [0, 1), got 1"));
}

TEST(PruneConfig, OtherMistakesNameTheirKey) {
  EXPECT_TRUE(contains(error_of({{"method", "random"}}),
                       "/params/method: expected \"magnitude\", \"nm\" or \"structured\""));
  EXPECT_TRUE(contains(error_of({{"method", "nm"}, {"nm", {{"n", 4}, {"m", 4}}}}),
                       "/params/nm: an N:M pattern needs 1 <= N < M, got 4:4"));
  EXPECT_TRUE(contains(error_of({{"method", "nm"}, {"schedule", {{"type", "gradual"}}}}),
                       "supports the \"one_shot\" schedule only"));
  EXPECT_TRUE(
      contains(error_of({{"magnitude", {{"scope", "global"}, {"layer_sparsity", {{"fc1", 0.5}}}}}}),
               "/params/magnitude/layer_sparsity: per-layer sparsities need \"scope\": \"layer\""));
  EXPECT_TRUE(contains(
      error_of({{"schedule", {{"type", "gradual"}, {"start_step", 50}, {"end_step", 20}}}}),
      "/params/schedule/end_step: must be after start_step (50), got 20"));
  EXPECT_TRUE(contains(error_of({{"structured", {{"ratio", 1.0}}}}),
                       "/params/structured/ratio: must be in [0, 1), got 1"));
}

TEST(PruneConfig, AutomaticGradualSteps) {
  auto c = parse_prune_config({{"schedule", {{"type", "gradual"}}}}, "/params");
  ASSERT_TRUE(c.ok());
  resolve_schedule(*c, 1000);
  EXPECT_EQ(c->cubic.start_step, 0);
  EXPECT_EQ(c->cubic.end_step, 750);
  EXPECT_EQ(c->cubic.frequency, 18);
}

}  // namespace
}  // namespace retort::prune
