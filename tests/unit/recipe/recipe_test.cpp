#include "retort/recipe/recipe.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "recipe/recipe_fixture.h"
#include "recipe/test_registry.h"
#include "retort/data/data_section.h"

namespace retort::recipe {
namespace {

using nlohmann::json;
using testing::RecipeFolder;
using testing::test_registry;

Recipe parse_valid(const json& recipe) {
  std::vector<Diagnostic> problems;
  auto parsed = RecipeFolder::get().parse(recipe, &problems);
  EXPECT_TRUE(parsed.ok()) << parsed.status().message();
  EXPECT_TRUE(problems.empty());
  return parsed.ok() ? std::move(parsed).value() : Recipe{};
}

TEST(Recipe, ValidRecipeIsResolved) {
  const Recipe recipe = parse_valid(RecipeFolder::valid_recipe());
  const std::string& dir = RecipeFolder::get().dir();
  EXPECT_EQ(recipe.name, "recipe");
  EXPECT_EQ(recipe.seed, 7u);
  ASSERT_EQ(recipe.stages.size(), 5u);

  // Data: paths absolute (relative to the recipe's folder), the test size filled from the file.
  EXPECT_EQ(recipe.data["train_images"], dir + "/data/train-images.idx.gz");
  EXPECT_EQ(recipe.data["test_labels"], dir + "/data/test-labels.idx");
  EXPECT_EQ(recipe.data["train_size"], 8);
  EXPECT_EQ(recipe.data["test_size"], 6);
  EXPECT_EQ(recipe.data["class_names"], json({"zero", "one", "two"}));

  // Models: the spec with its defaults, the ONNX path absolute.
  EXPECT_EQ(recipe.models.at("ext"), json({{"onnx", dir + "/ext.onnx"}}));
  EXPECT_EQ(recipe.models.at("mlp")["hidden"], json({16}));
  EXPECT_EQ(recipe.models.at("mlp")["init"], "kaiming");
  EXPECT_EQ(recipe.models.at("mlp")["activation"], "relu");

  // Stages: params with defaults, seeds, references.
  const StageSpec* teacher = recipe.stage("teacher");
  ASSERT_NE(teacher, nullptr);
  EXPECT_EQ(teacher->params, json::parse(R"({"epochs": 2, "lr": 0.1, "optimizer": "sgd",
                                             "augment": {"flip": false, "crop": 0}})"));
  EXPECT_EQ(teacher->seed, 7u);
  EXPECT_EQ(recipe.stage("student")->seed, 3u);
  EXPECT_EQ(recipe.stage("kd")->params, json({{"temperature", 2}}));
  EXPECT_EQ(recipe.stage("summary")->params, json::object());
  EXPECT_EQ(recipe.stage("nope"), nullptr);

  const auto& model_ref = teacher->inputs.at("model");
  ASSERT_EQ(model_ref.size(), 1u);
  EXPECT_EQ(model_ref[0].model, "mlp");
  EXPECT_EQ(model_ref[0].stage, "");
  const auto& models = recipe.stage("eval")->inputs.at("models");
  ASSERT_EQ(models.size(), 2u);
  EXPECT_EQ(models[1].stage, "kd");
  EXPECT_EQ(models[1].port, "model");
  EXPECT_EQ(models[1].text, "kd.model");
  EXPECT_EQ(models[1].json_path, "/stages/3/inputs/models/1");
}

TEST(Recipe, ResolvedJsonIsAValidRecipeThatResolvesToItself) {
  const Recipe recipe = parse_valid(RecipeFolder::valid_recipe());
  const json resolved = recipe.resolved_json();
  EXPECT_EQ(resolved["version"], 1);
  EXPECT_EQ(resolved["stages"][1]["params"]["lr"], 0.1);
  EXPECT_EQ(resolved["stages"][1]["seed"], 3);
  EXPECT_EQ(resolved["stages"][0]["seed"], 7);
  EXPECT_EQ(resolved["stages"][3]["inputs"]["models"], json({"teacher.model", "kd.model"}));
  EXPECT_EQ(resolved["stages"][4]["inputs"]["metrics"], "eval.metrics");
  EXPECT_EQ(resolved["models"]["ext"]["onnx"], RecipeFolder::get().dir() + "/ext.onnx");

  // Read back from another folder: the absolute paths still hold.
  std::vector<Diagnostic> problems;
  auto again =
      parse_recipe(resolved.dump(), "/elsewhere/recipe.resolved.json", test_registry(), &problems);
  ASSERT_TRUE(again.ok()) << again.status().message();
  EXPECT_EQ(again->resolved_json(), resolved);
}

TEST(Recipe, TopologicalOrderPutsProducersFirst) {
  json recipe = RecipeFolder::valid_recipe();
  // Listed backwards: every stage before the stages it reads from.
  json reversed = json::array();
  for (auto it = recipe["stages"].rbegin(); it != recipe["stages"].rend(); ++it)
    reversed.push_back(*it);
  recipe["stages"] = reversed;
  const Recipe parsed = parse_valid(recipe);
  EXPECT_EQ(topological_order(parsed),
            (std::vector<std::string>{"student", "teacher", "kd", "eval", "summary"}));
  // Already in order: ties keep the recipe's order.
  EXPECT_EQ(topological_order(parse_valid(RecipeFolder::valid_recipe())),
            (std::vector<std::string>{"teacher", "student", "kd", "eval", "summary"}));
}

TEST(Recipe, LoadsFromAFile) {
  const std::string path = RecipeFolder::get().dir() + "/from-file.json";
  std::ofstream(path) << RecipeFolder::valid_recipe().dump(2);
  std::vector<Diagnostic> problems;
  auto recipe = load_recipe(path, test_registry(), &problems);
  ASSERT_TRUE(recipe.ok()) << recipe.status().message();
  EXPECT_EQ(recipe->path, path);
  EXPECT_EQ(recipe->name, "from-file");
  EXPECT_EQ(recipe->data["train_labels"], RecipeFolder::get().dir() + "/data/train-labels.idx");
}

TEST(Recipe, DefaultDataIsFashionMnist) {
  const char* dir = RETORT_FASHION_MNIST_DIR;
  if (!std::filesystem::exists(std::string(dir) + "/train-images-idx3-ubyte.gz"))
    GTEST_SKIP() << "Fashion-MNIST not installed in " << dir;
  json recipe = RecipeFolder::valid_recipe();
  recipe["data"] = {{"dir", dir}, {"test_size", 500}};
  recipe["models"]["mlp"]["input"] = {1, 28, 28};
  recipe["models"]["mlp"]["classes"] = 10;
  const Recipe parsed = parse_valid(recipe);
  EXPECT_EQ(parsed.data["dataset"], "fashion-mnist");
  EXPECT_EQ(parsed.data["dir"], std::filesystem::path(dir).lexically_normal().string());
  EXPECT_EQ(parsed.data["train_size"], 60000);
  EXPECT_EQ(parsed.data["test_size"], 500);
  EXPECT_EQ(parsed.data["class_names"][0], "T-shirt/top");
  // Fashion-MNIST images are 28x28: the 8x8 default of the test recipe would not fit.
  recipe["models"]["mlp"]["input"] = {1, 8, 8};
  std::vector<Diagnostic> problems;
  ASSERT_FALSE(RecipeFolder::get().parse(recipe, &problems).ok());
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_EQ(problems[0].where, "/models/mlp/input");
}

// The resolved data section is what data::load_data_section (used by the stages) reads.
TEST(Recipe, ResolvedDataLoads) {
  const Recipe recipe = parse_valid(RecipeFolder::valid_recipe());
  auto splits = data::load_data_section(recipe.data);
  ASSERT_TRUE(splits.ok()) << splits.status().message();
  EXPECT_EQ((*splits)->train.size(), 8);
  EXPECT_EQ((*splits)->train.height(), 8);
  EXPECT_EQ((*splits)->train.class_names, (std::vector<std::string>{"zero", "one", "two"}));
  EXPECT_EQ((*splits)->test.size(), 6);
  EXPECT_EQ((*splits)->test.labels[4], 1);
}

TEST(Diagnostic, Formats) {
  EXPECT_EQ((Diagnostic{"/stages/3/params/t", "expected a number"}).format("r.json"),
            "r.json: /stages/3/params/t: expected a number");
  EXPECT_EQ((Diagnostic{"", "cannot read"}).format("r.json"), "r.json: cannot read");
  EXPECT_EQ((Diagnostic{"/seed", "bad"}).format(""), "/seed: bad");
  EXPECT_EQ(format_diagnostics({{"/a", "x"}, {"/b", "y"}}, "f"), "f: /a: x\nf: /b: y\n");
}

}  // namespace
}  // namespace retort::recipe
