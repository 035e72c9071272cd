// `retort bench` end to end: the hinton benchmark of the real suite in --quick mode over two
// seeds, the reports it writes, the cache on a second run, and what a bad suite gets.
#include <set>

#include "cli_support.h"
#include "retort/core/build_info.h"

namespace retort::cli_testing {
namespace {

using nlohmann::json;

const std::string kSuite = std::string(RETORT_SOURCE_DIR) + "/recipes/benchmarks/suite.json";

class BenchCli : public TempDirTest {};

TEST_F(BenchCli, QuickRunOfOneBenchmarkWritesSeedMeansHashesAndPlotsThenResumesFromCache) {
  const fs::path out = dir_ / "bench";
  const std::string command = "bench --quick --seeds 2 --only hinton --threads 2 --suite " +
                              kSuite + " --out " + out.string();
  const Result r = run_cli(command);
  ASSERT_EQ(r.code, 0) << r.out;

  const json results = read_json(out / "bench.json");
  EXPECT_TRUE(results["quick"].get<bool>());
  EXPECT_EQ(results["seeds"], json({1, 2}));
  EXPECT_EQ(results["machine"]["threads"], 2);
  EXPECT_GE(results["machine"]["load_start"].get<double>(), 0.0);
  EXPECT_FALSE(results["machine"].contains("from_cache"));
  ASSERT_EQ(results["benchmarks"].size(), 1u);
  const json& b = results["benchmarks"][0];
  EXPECT_EQ(b["name"], "hinton");
  EXPECT_TRUE(b["ok"].get<bool>());
  EXPECT_TRUE(b["problems"].empty()) << b["problems"];

  std::vector<std::string> models;
  for (const json& row : b["rows"]) models.push_back(row["model"]);
  EXPECT_EQ(models,
            (std::vector<std::string>{"teacher", "scratch", "kd", "kd-alpha05", "leave-out-3"}));
  for (const json& row : b["rows"]) {
    const std::string model = row["model"];
    ASSERT_EQ(row["accuracy"]["n"], 2) << model;
    const json& values = row["accuracy"]["values"];
    EXPECT_NE(values[0], values[1]) << model << ": the two seeds trained the same thing";
    for (const char* metric : {"bytes", "parameters", "latency_ms", "throughput"})
      EXPECT_TRUE(row[metric].is_object()) << model << " has no " << metric;
    // Each artifact hash is the one its stage's manifest recorded.
    for (const json& a : row["artifacts"]) {
      const json manifest = read_json(fs::path(a["folder"].get<std::string>()) / "manifest.json");
      EXPECT_EQ(a["hash"], manifest["outputs"]["model.onnx"]) << model;
    }
  }
  EXPECT_EQ(b["rows"][2]["published"], "74 errors (99.26%), T = 20");

  // Each seed is the recipe with its seed set, run in its own folder.
  for (int seed : {1, 2}) {
    const fs::path folder = out / "hinton" / ("seed-" + std::to_string(seed));
    EXPECT_EQ(read_json(folder / "recipe.resolved.json")["seed"], seed);
    EXPECT_EQ(read_json(fs::path(folder.string() + ".recipe.json"))["data"]["train_size"], 2000);
  }

  const std::string md = read_bytes(out / "bench.md");
  EXPECT_NE(md.find("| teacher | "), std::string::npos) << md;
  EXPECT_NE(md.find("| kd | "), std::string::npos);
  EXPECT_NE(md.find("74 errors (99.26%), T = 20"), std::string::npos);
  EXPECT_NE(md.find("--quick smoke run"), std::string::npos);
  EXPECT_NE(md.find("(n=2)"), std::string::npos);
  // The build that computed the results, in the JSON, the header and the benchmark's line.
  const std::string commit(build_commit());
  EXPECT_EQ(results["retort_commit"], commit);
  for (const json& run : b["runs"]) EXPECT_EQ(run["computed_by"], json({commit}));
  EXPECT_NE(md.find("retort " + build_description() + ", "), std::string::npos) << md;
  EXPECT_NE(md.find(" UTC by commit " + commit + ", "), std::string::npos) << md;
  const std::string html = read_bytes(out / "bench.html");
  EXPECT_NE(html.find("<td>leave-out-3</td>"), std::string::npos);
  EXPECT_NE(html.find("<svg"), std::string::npos);
  EXPECT_TRUE(fs::exists(out / "plots" / "hinton-size.svg"));
  EXPECT_TRUE(fs::exists(out / "plots" / "hinton-latency.svg"));

  // Again: every stage comes from the cache and the numbers are the same.
  const Result again = run_cli(command);
  ASSERT_EQ(again.code, 0) << again.out;
  const json second = read_json(out / "bench.json");
  EXPECT_TRUE(second["machine"]["from_cache"].get<bool>());
  EXPECT_NE(read_bytes(out / "bench.md").find("every result came from the run folders' cache"),
            std::string::npos);
  for (const json& run : second["benchmarks"][0]["runs"]) {
    EXPECT_EQ(run["ran"], 0);
    EXPECT_EQ(run["cached"], 6);
  }
  for (size_t i = 0; i < b["rows"].size(); ++i)
    EXPECT_EQ(second["benchmarks"][0]["rows"][i]["accuracy"]["values"],
              b["rows"][i]["accuracy"]["values"]);
}

TEST_F(BenchCli, BadChoicesAndBadSuitesStopBeforeAnythingRuns) {
  const fs::path out = dir_ / "bench";
  Result r = run_cli("bench --only nope --suite " + kSuite + " --out " + out.string());
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.out.find("--only nope: " + kSuite +
                       " has no benchmark of that name (it has: "
                       "hinton, takd"),
            std::string::npos)
      << r.out;

  // A published number for a model the recipe does not have.
  const std::string recipe = std::string(RETORT_SOURCE_DIR) + "/recipes/benchmarks/hinton.json";
  const std::string suite = write("suite.json", {{"version", 1},
                                                 {"benchmarks",
                                                  {{{"name", "hinton"},
                                                    {"recipe", recipe},
                                                    {"source", "paper"},
                                                    {"published", {{"kd-s1", "74 errors"}}}}}}});
  r = run_cli("bench --quick --suite " + suite + " --out " + out.string());
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.out.find(suite +
                       ": benchmark 'hinton': a published number names 'kd-s1', which "
                       "is not a stage of " +
                       recipe),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("nothing was run"), std::string::npos);
  EXPECT_FALSE(fs::exists(out / "hinton"));

  // A recipe that does not validate: the recipe's own diagnostics, with the seed named.
  json broken = read_json(recipe);
  broken["stages"][0]["params"]["epochs"] = "many";
  const std::string broken_path = write("broken.json", broken);
  const std::string broken_suite =
      write("suite2.json",
            {{"version", 1}, {"benchmarks", {{{"name", "broken"}, {"recipe", broken_path}}}}});
  r = run_cli("bench --suite " + broken_suite + " --out " + out.string());
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.out.find(broken_path + " (seed 1): /stages/0/params/epochs"), std::string::npos)
      << r.out;
  EXPECT_FALSE(fs::exists(out / "bench.json"));
}

}  // namespace
}  // namespace retort::cli_testing
