#include "retort/exec/report.h"

#include <gtest/gtest.h>

#include "exec_test_support.h"
#include "retort/core/build_info.h"
#include "retort/report/svg_plot.h"

namespace retort::exec {
namespace {

using testing::contains;

TEST(Report, KeyMetricsPickTheUsualNumbersInOrder) {
  nlohmann::json m = {{"threads", 2},        {"latency_ms_median", 0.123456},
                      {"accuracy", 0.87123}, {"params", 1234567},
                      {"loss", 0.35},        {"name", "teacher"}};
  EXPECT_EQ(key_metrics(m),
            "accuracy 0.8712, loss 0.35, params 1,234,567, latency_ms_median 0.1235");
  EXPECT_EQ(key_metrics(nlohmann::json()), "");
  EXPECT_EQ(key_metrics({{"epochs", 3}}), "");
}

TEST(Report, KeyMetricsGroupPerModel) {
  nlohmann::json m = {{"models",
                       {{{"name", "teacher"}, {"accuracy", 0.9}, {"bytes", 4000}},
                        {{"name", "student"}, {"accuracy", 0.85}, {"bytes", 1000}}}},
                      {"threads", 2}};
  EXPECT_EQ(key_metrics(m),
            "teacher: accuracy 0.9, bytes 4,000; student: accuracy 0.85, bytes 1,000");
  nlohmann::json by_name = {{"kd", {{"accuracy", 0.8}}}};
  EXPECT_EQ(key_metrics(by_name), "kd: accuracy 0.8");
}

TEST(Report, MarkdownTableAndErrors) {
  recipe::Recipe recipe = testing::make_recipe({}, "demo");
  RunResult result;
  result.out_dir = "runs/demo";
  result.cancelled = true;
  const std::string this_build(build_commit());
  StageOutcome ran{"t", "train", StageStatus::kRan, 12.34, {{"accuracy", 0.9}}, "", this_build};
  StageOutcome failed{
      "e|x", "export", StageStatus::kFailed, 0.0, nullptr, "stage 'e|x' (export): disk full", ""};
  // Cached results: one computed by this build, one by another (a commit no build has).
  StageOutcome cached_here{"c1", "train", StageStatus::kCached, 0.1, nullptr, "", this_build};
  StageOutcome cached_elsewhere{"c2",    "train", StageStatus::kCached, 0.1,
                                nullptr, "",      "0123456789ab"};
  result.stages = {ran, failed, cached_here, cached_elsewhere};
  const std::string md = report_markdown(recipe, result);
  EXPECT_TRUE(contains(md, "# retort run: demo\n"));
  EXPECT_TRUE(contains(md, "Output folder: `runs/demo`"));
  EXPECT_TRUE(contains(md, ". Written by retort " + build_description() + ".\n"));
  EXPECT_TRUE(contains(md, "**The run was cancelled**"));
  EXPECT_TRUE(contains(md, "| t | train | ran | 12.3 | accuracy 0.9 |\n"));
  EXPECT_TRUE(contains(md, "| e\\|x | export | failed | 0.0 |  |\n"));
  EXPECT_TRUE(contains(md, "| c1 | train | cached | 0.1 |  |\n"));
  EXPECT_TRUE(contains(md, "| c2 | train | cached (commit 0123456789ab) | 0.1 |  |\n"));
  EXPECT_TRUE(contains(md, "## Errors\n\n- **e|x**: stage 'e|x' (export): disk full\n"));

  nlohmann::json j = report_json(recipe, result);
  EXPECT_EQ(j["recipe"], "demo");
  EXPECT_EQ(j["cancelled"], true);
  EXPECT_EQ(j["ok"], false);
  EXPECT_EQ(j["retort"]["version"], RETORT_VERSION);
  EXPECT_EQ(j["retort"]["commit"], this_build);
  EXPECT_EQ(j["stages"][0]["seconds"], 12.34);
  EXPECT_EQ(j["stages"][0]["retort_commit"], this_build);
  EXPECT_EQ(j["stages"][1]["error"], "stage 'e|x' (export): disk full");
  EXPECT_EQ(j["stages"][3]["retort_commit"], "0123456789ab");
}

TEST(Report, ModelsAgainstABaselineGetTheirOwnTable) {
  recipe::Recipe recipe = testing::make_recipe({}, "pipeline");
  RunResult result;
  result.out_dir = "runs/p";
  nlohmann::json metrics = {{"baseline", "teacher.model"},
                            {"models",
                             {{{"name", "teacher.model"},
                               {"accuracy", 0.91},
                               {"accuracy_retained", 100.0},
                               {"bytes", 3300000},
                               {"compression_ratio", 1.0},
                               {"throughput", 14000.0},
                               {"speedup", 1.0},
                               {"latency_ms_median", 0.62}},
                              {{"name", "int8.model"},
                               {"accuracy", 0.8945},
                               {"accuracy_retained", 98.297},
                               {"bytes", 66695},
                               {"compression_ratio", 49.48},
                               {"throughput", 118561.0},
                               {"speedup", 8.22},
                               {"latency_ms_median", 0.132}}}}};
  result.stages = {StageOutcome{"evaluate", "evaluate", StageStatus::kRan, 3.0, metrics, "", ""}};
  const std::string md = report_markdown(recipe, result);
  EXPECT_TRUE(contains(md, "## evaluate: every model against teacher.model"));
  EXPECT_TRUE(contains(
      md, "| teacher.model | 0.9100 | 100.00% | 3300000 | 1.0x | 14000 | 1.00x | 0.620 |"));
  EXPECT_TRUE(
      contains(md, "| int8.model | 0.8945 | 98.30% | 66695 | 49.5x | 118561 | 8.22x | 0.132 |"));
}

TEST(Report, HtmlPageHasTheTablesAndAnAccuracySizePlotWithItsParetoFront) {
  recipe::Recipe recipe = testing::make_recipe({}, "pipe<line>");
  RunResult result;
  result.out_dir = "runs/p";
  // Three models: int8 is smaller and as accurate as pruned, which it dominates.
  nlohmann::json metrics = {
      {"baseline", "teacher.model"},
      {"models",
       {{{"name", "teacher.model"}, {"accuracy", 0.92}, {"bytes", 3300000}},
        {{"name", "pruned.model"}, {"accuracy", 0.91}, {"bytes", 245000}},
        {{"name", "int8.model"}, {"accuracy", 0.91}, {"bytes", 66000}, {"speedup", 7.95}}}}};
  StageOutcome failed{"x", "export", StageStatus::kFailed, 0.0, nullptr, "disk <full>", ""};
  result.stages = {StageOutcome{"evaluate", "evaluate", StageStatus::kRan, 3.0, metrics, "", ""},
                   failed};
  const std::string html = report_html(recipe, result);
  EXPECT_EQ(html.rfind("<!DOCTYPE html>", 0), 0u);
  EXPECT_TRUE(contains(html, "<title>retort run: pipe&lt;line&gt;</title>"));
  EXPECT_TRUE(contains(html, "<td>disk &lt;full&gt;</td>"));
  EXPECT_TRUE(contains(html, ". Written by retort " + build_description() + ".</p>"));
  EXPECT_TRUE(contains(html, "<h2>evaluate: every model against teacher.model</h2>"));
  EXPECT_TRUE(contains(html, "<td class=\"n\">7.95x</td>"));
  // One inline SVG without an XML prolog, labelled points, and the page closes.
  EXPECT_TRUE(contains(html, "<svg"));
  EXPECT_FALSE(contains(html, "<?xml"));
  EXPECT_TRUE(contains(html, "int8.model"));
  EXPECT_TRUE(contains(html, "</svg>"));
  EXPECT_TRUE(contains(html, "</html>"));
  // The same points' front: teacher and int8, not pruned.
  const auto front = report::pareto_front(
      {{3300000, 0.92, "teacher"}, {245000, 0.91, "pruned"}, {66000, 0.91, "int8"}});
  ASSERT_EQ(front.size(), 2u);
  EXPECT_EQ(front[0], 2u);
  EXPECT_EQ(front[1], 0u);
}

}  // namespace
}  // namespace retort::exec
