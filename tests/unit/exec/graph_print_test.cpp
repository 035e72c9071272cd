#include <gtest/gtest.h>

#include "exec_test_support.h"
#include "retort/exec/executor.h"

namespace retort::exec {
namespace {

using testing::contains;
using testing::make_recipe;
using testing::stage;

recipe::Recipe kd_recipe() {
  auto r = make_recipe(
      {stage("teacher", "train", {{"model", {"models.cnn"}}}),
       stage("kd", "distill", {{"teacher", {"teacher.model"}}, {"student", {"models.mlp"}}}),
       stage("eval", "evaluate", {{"models", {"teacher.model", "kd.model"}}})},
      "kd");
  return r;
}

TEST(GraphPrint, TextListsStagesWithTheirInputs) {
  EXPECT_EQ(graph_text(kd_recipe()),
            "teacher (train)\n"
            "  model <- models.cnn\n"
            "kd (distill)\n"
            "  student <- models.mlp\n"
            "  teacher <- teacher.model\n"
            "eval (evaluate)\n"
            "  models <- [teacher.model, kd.model]\n");
}

TEST(GraphPrint, DotHasOneNodePerStageAndPortLabelledEdges) {
  const std::string dot = graph_dot(kd_recipe());
  EXPECT_EQ(dot.rfind("digraph \"kd\" {\n", 0), 0u) << dot;
  EXPECT_TRUE(contains(dot, "  \"teacher\" [label=\"teacher\\ntrain\"];\n"));
  EXPECT_TRUE(contains(dot, "  \"kd\" [label=\"kd\\ndistill\"];\n"));
  EXPECT_TRUE(contains(dot, "  \"eval\" [label=\"eval\\nevaluate\"];\n"));
  EXPECT_TRUE(contains(dot, "  \"models.cnn\" [shape=ellipse, label=\"models.cnn\"];\n"));
  EXPECT_TRUE(contains(dot, "  \"models.cnn\" -> \"teacher\" [label=\"model\"];\n"));
  EXPECT_TRUE(contains(dot, "  \"teacher\" -> \"kd\" [label=\"teacher\"];\n"));
  EXPECT_TRUE(contains(dot, "  \"teacher\" -> \"eval\" [label=\"models\"];\n"));
  EXPECT_TRUE(contains(dot, "  \"kd\" -> \"eval\" [label=\"models\"];\n"));
  EXPECT_EQ(dot.substr(dot.size() - 2), "}\n");
  size_t edges = 0;
  for (size_t p = dot.find("->"); p != std::string::npos; p = dot.find("->", p + 2)) ++edges;
  EXPECT_EQ(edges, 5u);
}

TEST(GraphPrint, DotEscapesQuotes) {
  auto r = make_recipe({stage("a", "make")}, "my \"best\" recipe");
  EXPECT_TRUE(contains(graph_dot(r), "digraph \"my \\\"best\\\" recipe\" {"));
}

}  // namespace
}  // namespace retort::exec
