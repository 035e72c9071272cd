#include "retort/bench/seeded_recipe.h"

#include <gtest/gtest.h>

namespace retort::bench {
namespace {

using nlohmann::json;

const json kRecipe = json::parse(R"({
  "version": 1, "seed": 7, "data": {"dataset": "fashion-mnist", "train_size": 20000},
  "stages": [
    {"id": "teacher", "type": "train", "params": {"epochs": 60, "batch": 128}},
    {"id": "student", "type": "distill", "seed": 3, "params": {"epochs": 30}},
    {"id": "pruned", "type": "prune",
     "params": {"fine_tune": {"epochs": 5, "schedule": {"type": "cosine"}},
                "latency_iterations": 50}},
    {"id": "int8", "type": "quantize",
     "params": {"calibration_images": 4096, "train": {"epochs": 3}}},
    {"id": "evaluate", "type": "evaluate", "params": {"latency_iterations": 50}},
    {"id": "export", "type": "export", "params": {"path": "runs/pipeline/student.onnx"}}]})");

TEST(RecipeForSeed, SetsTheRecipeSeedAndLeavesEverythingElse) {
  const json r = recipe_for_seed(kRecipe, 2, nullptr);
  EXPECT_EQ(r["seed"], 2);
  json expected = kRecipe;
  expected["seed"] = 2;
  EXPECT_EQ(r, expected);
  EXPECT_EQ(r["stages"][1]["seed"], 3);  // a stage's own seed stays pinned
}

TEST(RecipeForSeed, ExportsGoIntoTheReplicationsFolder) {
  const json r = recipe_for_seed(kRecipe, 2, nullptr, "runs/bench/demo/seed-2");
  EXPECT_EQ(r["stages"][5]["params"]["path"], "runs/bench/demo/seed-2/student.onnx");
  EXPECT_EQ(r["stages"][4]["params"], kRecipe["stages"][4]["params"]);
}

TEST(RecipeForSeed, QuickCapsDataEpochsCalibrationAndLatencyRuns) {
  QuickOptions quick;
  quick.train_size = 1000;
  quick.test_size = 500;
  quick.epochs = 2;
  quick.latency_iterations = 4;
  const json r = recipe_for_seed(kRecipe, 1, &quick);
  EXPECT_EQ(r["seed"], 1);
  EXPECT_EQ(r["data"]["train_size"], 1000);
  EXPECT_EQ(r["data"]["test_size"], 500);  // absent meant the whole split
  EXPECT_EQ(r["data"]["dataset"], "fashion-mnist");
  EXPECT_EQ(r["stages"][0]["params"]["epochs"], 2);
  EXPECT_EQ(r["stages"][0]["params"]["batch"], 128);
  EXPECT_EQ(r["stages"][1]["params"]["epochs"], 2);
  EXPECT_EQ(r["stages"][2]["params"]["fine_tune"]["epochs"], 2);
  EXPECT_EQ(r["stages"][2]["params"]["fine_tune"]["schedule"]["type"], "cosine");
  EXPECT_EQ(r["stages"][2]["params"]["latency_iterations"], 4);
  EXPECT_EQ(r["stages"][3]["params"]["calibration_images"], 1000);
  EXPECT_EQ(r["stages"][3]["params"]["train"]["epochs"], 2);
  EXPECT_EQ(r["stages"][4]["params"]["latency_iterations"], 4);

  // Smaller values than the caps are kept.
  json small = kRecipe;
  small["data"]["train_size"] = 300;
  small["stages"][0]["params"]["epochs"] = 1;
  const json s = recipe_for_seed(small, 1, &quick);
  EXPECT_EQ(s["data"]["train_size"], 300);
  EXPECT_EQ(s["stages"][0]["params"]["epochs"], 1);
  EXPECT_EQ(s["stages"][3]["params"]["calibration_images"], 300);
}

}  // namespace
}  // namespace retort::bench
