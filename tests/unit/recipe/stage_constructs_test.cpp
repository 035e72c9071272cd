// ta_chain and born_again expand into distill stages: one per step, chained by references,
// and problems inside them are reported at the construct's own place in the file.
#include <gtest/gtest.h>

#include "recipe/recipe_fixture.h"
#include "retort/recipe/recipe.h"

namespace retort::recipe {
namespace {

using nlohmann::json;
using testing::RecipeFolder;

json with_stages(const json& stages) {
  json r = RecipeFolder::valid_recipe();
  r["stages"] = stages;
  return r;
}

std::vector<std::string> ids(const Recipe& r) {
  std::vector<std::string> out;
  for (const StageSpec& s : r.stages) out.push_back(s.id);
  return out;
}

TEST(StageConstructs, TaChainBecomesOneDistillStagePerStep) {
  std::vector<Diagnostic> problems;
  auto r = RecipeFolder::get().parse(with_stages(json::parse(R"([
      {"id": "teacher", "type": "train", "inputs": {"model": "models.mlp"}},
      {"id": "takd", "type": "ta_chain", "seed": 11,
       "inputs": {"teacher": "teacher.model", "assistants": ["models.mlp", "models.ext"], "student": "models.mlp"},
       "params": {"temperature": 3}},
      {"id": "eval", "type": "evaluate", "inputs": {"models": ["takd-ta1.model", "takd.model"]}}])")),
                                     &problems);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(ids(*r), (std::vector<std::string>{"teacher", "takd-ta1", "takd-ta2", "takd", "eval"}));
  const StageSpec* ta2 = r->stage("takd-ta2");
  ASSERT_NE(ta2, nullptr);
  EXPECT_EQ(ta2->type, "distill");
  EXPECT_EQ(ta2->inputs.at("teacher")[0].text, "takd-ta1.model");
  EXPECT_EQ(ta2->inputs.at("student")[0].text, "models.ext");
  EXPECT_EQ(ta2->params, json({{"temperature", 3}}));
  EXPECT_EQ(ta2->seed, 11u);
  EXPECT_EQ(r->stage("takd")->inputs.at("teacher")[0].text, "takd-ta2.model");
  EXPECT_EQ(r->stage("takd-ta1")->inputs.at("teacher")[0].text, "teacher.model");
  // The resolved recipe lists the expanded stages and is itself valid.
  auto again = RecipeFolder::get().parse(r->resolved_json(), &problems);
  ASSERT_TRUE(again.ok()) << again.status().message();
  EXPECT_EQ(ids(*again), ids(*r));
}

TEST(StageConstructs, BornAgainGenerationsEachGetTheirOwnSeed) {
  std::vector<Diagnostic> problems;
  auto r = RecipeFolder::get().parse(with_stages(json::parse(R"([
      {"id": "teacher", "type": "train", "inputs": {"model": "models.mlp"}},
      {"id": "ban", "type": "born_again", "inputs": {"teacher": "teacher.model", "student": "models.mlp"},
       "params": {"generations": 3, "temperature": 2}}])")),
                                     &problems);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(ids(*r), (std::vector<std::string>{"teacher", "ban-gen1", "ban-gen2", "ban"}));
  EXPECT_EQ(r->stage("ban-gen1")->seed, 7u);
  EXPECT_EQ(r->stage("ban")->seed, 9u);
  EXPECT_EQ(r->stage("ban")->inputs.at("teacher")[0].text, "ban-gen2.model");
  EXPECT_EQ(r->stage("ban")->params, json({{"temperature", 2}}));
}

TEST(StageConstructs, ProblemsPointAtTheConstruct) {
  std::vector<Diagnostic> problems;
  auto r = RecipeFolder::get().parse(with_stages(json::parse(R"([
      {"id": "teacher", "type": "train", "inputs": {"model": "models.mlp"}},
      {"id": "takd", "type": "ta_chain",
       "inputs": {"teacher": "teacher.model", "assistants": ["models.mlp", "models.nope"], "student": "models.mlp"},
       "params": {"temperature": -1}},
      {"id": "ban", "type": "born_again", "inputs": {"teacher": "teacher.model"}, "params": {"generations": 0}},
      {"id": "chain2", "type": "ta_chain", "inputs": {"teacher": "teacher.model", "student": "models.mlp", "assistants": []}}])")),
                                     &problems);
  ASSERT_FALSE(r.ok());
  auto has = [&](const std::string& where, const std::string& text) {
    for (const Diagnostic& d : problems)
      if (d.where == where && d.message.find(text) != std::string::npos) return true;
    return false;
  };
  EXPECT_TRUE(has("/stages/1/inputs/assistants/1", "no model 'nope'")) << r.status().message();
  EXPECT_TRUE(has("/stages/1/params/temperature", "")) << r.status().message();
  EXPECT_TRUE(has("/stages/2/params/generations", "expected an integer from 1 to 20"))
      << r.status().message();
  EXPECT_TRUE(has("/stages/2/inputs", "needs input \"student\"")) << r.status().message();
  EXPECT_TRUE(has("/stages/3/inputs/assistants", "non-empty list")) << r.status().message();
}

}  // namespace
}  // namespace retort::recipe
