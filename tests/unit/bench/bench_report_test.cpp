#include "retort/bench/bench_report.h"

#include <gtest/gtest.h>

#include <regex>
#include <string>

#include "support/test_support.h"
#include "support/xml_check.h"

namespace retort::bench {
namespace {

using nlohmann::json;
using test_support::contains;
using test_support::well_formed;

json stat(double mean, double sd, int n) {
  return {{"mean", mean}, {"std", sd}, {"n", n}, {"values", json::array()}};
}

json row(const std::string& model, double accuracy, double bytes, double latency,
         const json& published) {
  return {{"model", model},
          {"published", published},
          {"accuracy", stat(accuracy, 0.01, 3)},
          {"bytes", stat(bytes, 0, 3)},
          {"parameters", stat(bytes / 4, 0, 3)},
          {"sparsity", nullptr},
          {"latency_ms", stat(latency, 0.001, 3)},
          {"throughput", stat(1000 / latency, 1, 3)},
          {"artifacts",
           {{{"seed", 1}, {"folder", "runs/bench/demo/seed-1/" + model}, {"hash", "h1" + model}},
            {{"seed", 2}, {"folder", "runs/bench/demo/seed-2/" + model}, {"hash", "h2" + model}}}}};
}

// Size: b (50 B, 0.80) and a (100 B, 0.90) are on the front, c (200 B, 0.85) is not.
// Latency: c (0.5 ms, 0.85) and a (1 ms, 0.90) are, b (2 ms, 0.80) is not.
json results(bool quick) {
  return {{"retort_version", "0.1.0"},
          {"retort_commit", "0123456789ab"},
          {"date", "2026-11-23 08:00 UTC"},
          {"command", "retort bench --only demo"},
          {"quick", quick},
          {"seeds", {1, 2, 3}},
          {"machine",
           {{"cpu", "Test CPU <x86> & co"},
            {"cores", 2},
            {"threads", 2},
            {"load_start", 4.25},
            {"load_end", 1.0}}},
          {"benchmarks",
           {{{"name", "demo"},
             {"recipe", "recipes/benchmarks/demo.json"},
             {"source", "Author 2020, Table 1"},
             {"ok", true},
             {"runs",
              {{{"seed", 1},
                {"ok", true},
                {"seconds", 60},
                {"ran", 4},
                {"error", ""},
                {"computed_from", "2026-11-23T07:00:01.500Z"},
                {"computed_to", "2026-11-23T07:40:00.000Z"},
                {"computed_by", {"0123456789ab"}}},
               {{"seed", 2},
                {"ok", true},
                {"seconds", 60},
                {"ran", 4},
                {"error", ""},
                {"computed_from", "2026-11-23T07:40:01.000Z"},
                {"computed_to", "2026-11-23T07:59:30.000Z"},
                {"computed_by", {"fedcba987654", "0123456789ab"}}},
               {{"seed", 3}, {"ok", false}, {"seconds", 60}, {"error", "stage 'c' failed"}}}},
             {"rows",
              {row("a", 0.9, 100, 1.0, "99.3%"), row("b", 0.8, 50, 2.0, nullptr),
               row("c", 0.85, 200, 0.5, "a | b")}},
             {"sweeps",
              {{{"title", "by depth"},
                {"x_label", "layers"},
                {"series",
                 {{{"name", "student"},
                   {"points",
                    {{{"model", "a"}, {"x", 4}, {"accuracy", stat(0.9, 0, 3)}},
                     {{"model", "b"}, {"x", 8}, {"accuracy", stat(0.8, 0, 3)}}}}}}}}}},
             {"problems", {"a published number is given for 'ghost'"}}}}}};
}

// The Markdown line of the table row of `model`.
std::string table_line(const std::string& md, const std::string& model) {
  const size_t at = md.find("\n| " + model + " |");
  if (at == std::string::npos) return "";
  return md.substr(at + 1, md.find('\n', at + 1) - at - 1);
}

TEST(BenchMarkdown, OneRowPerModelWithSeedMeansPublishedNumbersAndTheParetoFront) {
  const std::string md = bench_markdown(results(false), "runs/bench");
  EXPECT_TRUE(contains(md,
                       "retort 0.1.0 (commit 0123456789ab), 2026-11-23 08:00 UTC. Machine: "
                       "Test CPU <x86> & co, "
                       "2 cores, 2 threads used, load average 4.2 at the start and 1.0 at the "
                       "end (other work was running: latency and throughput are low). "
                       "Seeds: 1, 2, 3."));
  EXPECT_TRUE(contains(md, "retort bench --only demo"));
  EXPECT_TRUE(contains(md, "| published (Author 2020, Table 1) |"));
  EXPECT_TRUE(contains(
      md,
      "2 of 3 seeds complete, computed 2026-11-23 07:00 to 07:59 UTC by commits 0123456789ab, "
      "fedcba987654, 3.0 min this run"));
  EXPECT_TRUE(contains(md, "- seed 3: stage 'c' failed"));
  EXPECT_TRUE(contains(md, "- problem: a published number is given for 'ghost'"));
  EXPECT_FALSE(contains(md, "--quick smoke run"));

  const std::string a = table_line(md, "a"), b = table_line(md, "b"), c = table_line(md, "c");
  EXPECT_EQ(a,
            "| a | 0.9000 ± 0.0100 (n=3) | 99.3% | 100 | 25 |  | 1.000 | 1,000 | size, latency | "
            "[seed 1 h1a](demo/seed-1/a), [seed 2 h2a](demo/seed-2/a) |");
  EXPECT_TRUE(contains(b, "| 0.8000 ± 0.0100 (n=3) |  | 50 |")) << b;
  EXPECT_TRUE(contains(b, "| size | [seed 1 h1b]")) << b;
  EXPECT_TRUE(contains(c, "| a \\| b | 200 |")) << c;  // a '|' in a cell is escaped
  EXPECT_TRUE(contains(c, "| latency | [seed 1 h1c]")) << c;
  EXPECT_TRUE(contains(md, "[recipes/benchmarks/demo.json](../../recipes/benchmarks/demo.json)"));
  EXPECT_TRUE(contains(md, "![demo: Accuracy against size on disk](plots/demo-size.svg)"));
  EXPECT_TRUE(contains(md, "![demo: by depth](plots/demo-sweep1.svg)"));

  EXPECT_TRUE(contains(bench_markdown(results(true), "runs/bench"), "--quick smoke run"));
}

TEST(BenchPlots, SizeLatencyAndSweepPlotsWithTheirFronts) {
  const std::vector<BenchPlot> plots = benchmark_plots(results(false)["benchmarks"][0]);
  ASSERT_EQ(plots.size(), 3u);
  EXPECT_EQ(plots[0].file, "demo-size.svg");
  EXPECT_EQ(plots[1].file, "demo-latency.svg");
  EXPECT_EQ(plots[2].file, "demo-sweep1.svg");
  for (const BenchPlot& p : plots) EXPECT_TRUE(well_formed(p.svg)) << p.file;
  auto count = [](const std::string& text, const std::string& what) {
    size_t n = 0;
    for (size_t i = text.find(what); i != std::string::npos; i = text.find(what, i + 1)) ++n;
    return n;
  };
  EXPECT_EQ(count(plots[0].svg, "class=\"point\""), 3u);
  EXPECT_EQ(count(plots[0].svg, "class=\"pareto-point\""), 2u);
  EXPECT_EQ(count(plots[1].svg, "class=\"pareto-point\""), 2u);
  EXPECT_EQ(count(plots[2].svg, "class=\"point\""), 2u);
  EXPECT_EQ(count(plots[2].svg, "pareto-point"), 0u);
}

TEST(BenchHtml, SelfContainedWithEscapedTextLinksAndInlineWellFormedSvg) {
  const std::string html = bench_html(results(false), "runs/bench");
  EXPECT_TRUE(contains(html, "Machine: Test CPU &lt;x86&gt; &amp; co"));
  EXPECT_TRUE(contains(html, "<a href=\"demo/seed-2/c\">seed 2 h2c</a>"));
  EXPECT_TRUE(contains(html, "<td>size, latency</td>"));
  EXPECT_FALSE(contains(html, "<img"));  // plots are inline, nothing to fetch
  EXPECT_FALSE(contains(html, "<?xml"));
  const std::regex svg("<svg[\\s\\S]*?</svg>");
  size_t inline_svgs = 0;
  for (auto it = std::sregex_iterator(html.begin(), html.end(), svg); it != std::sregex_iterator();
       ++it, ++inline_svgs)
    EXPECT_TRUE(well_formed(it->str()));
  EXPECT_EQ(inline_svgs, 3u);
  // Every table row has a cell per column.
  const size_t columns = 10;
  const std::regex tr("<tr>([\\s\\S]*?)</tr>");
  for (auto it = std::sregex_iterator(html.begin(), html.end(), tr); it != std::sregex_iterator();
       ++it) {
    const std::string cells = it->str(1);
    if (cells.find("<th>model") == std::string::npos && cells.find("<td>a<") == std::string::npos)
      continue;
    const std::regex cell("<t[dh][ >]");
    EXPECT_EQ(static_cast<size_t>(std::distance(
                  std::sregex_iterator(cells.begin(), cells.end(), cell), std::sregex_iterator())),
              columns);
  }
}

TEST(BenchMarkdown, BaselineComparisonColumnsOnlyWhenTheEvaluateStageHadABaseline) {
  json r = results(false);
  EXPECT_FALSE(contains(bench_markdown(r, "runs/bench"), "accuracy retained"));
  json& a = r["benchmarks"][0]["rows"][0];
  a["accuracy_retained"] = stat(99.3576, 0.0881, 3);
  a["compression_ratio"] = stat(49.4979, 0, 3);
  a["speedup"] = stat(7.8833, 1.3569, 3);
  const std::string md = bench_markdown(r, "runs/bench");
  EXPECT_TRUE(contains(md, "| accuracy retained | smaller | faster (throughput) | bytes |"));
  EXPECT_TRUE(
      contains(table_line(md, "a"), "| 99.3% | 99.36% ± 0.09 | 49.5x | 7.88x ± 1.36 | 100 |"))
      << table_line(md, "a");
  EXPECT_TRUE(contains(table_line(md, "b"), "|  |  |  |  | 50 |")) << table_line(md, "b");
}

}  // namespace
}  // namespace retort::bench
