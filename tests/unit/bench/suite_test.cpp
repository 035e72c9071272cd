#include "retort/bench/suite.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "support/test_support.h"

namespace retort::bench {
namespace {

namespace fs = std::filesystem;
using test_support::contains;

// A suite file in a fresh folder beside an (empty) recipe file it can name.
class SuiteTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("retort_suite_" + std::to_string(getpid()));
    fs::create_directories(dir_);
    std::ofstream(dir_ / "r.json") << "{}";
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string origin() const { return (dir_ / "suite.json").string(); }
  fs::path dir_;
};

TEST_F(SuiteTest, ReadsBenchmarksWithRecipesResolvedBesideTheSuite) {
  auto suite = parse_suite(R"({"version": 1, "benchmarks": [
      {"name": "hinton", "recipe": "r.json", "source": "Hinton et al. 2015",
       "published": {"kd": "74 errors"},
       "sweeps": [{"title": "t", "x_label": "depth",
                   "series": [{"name": "s", "points": [{"model": "kd", "x": 4}]}]}]},
      {"name": "agp", "recipe": "r.json",
       "sweeps": [{"title": "t", "x_label": "sparsity", "x_metric": "sparsity",
                   "series": [{"name": "s", "points": [{"model": "dense"}]}]}]}]})",
                           origin());
  ASSERT_TRUE(suite.ok()) << suite.status().message();
  ASSERT_EQ(suite->benchmarks.size(), 2u);
  const BenchmarkSpec* h = suite->find("hinton");
  ASSERT_NE(h, nullptr);
  EXPECT_EQ(h->recipe, (dir_ / "r.json").string());
  EXPECT_EQ(h->published.at("kd"), "74 errors");
  ASSERT_EQ(h->sweeps.size(), 1u);
  EXPECT_EQ(h->sweeps[0].series[0].points[0].x, 4);
  EXPECT_EQ(suite->find("agp")->sweeps[0].x_metric, "sparsity");
  EXPECT_EQ(suite->find("nope"), nullptr);
}

TEST_F(SuiteTest, ErrorsNameTheFileTheJsonPathAndTheFix) {
  struct Case {
    const char* text;
    const char* expected;
  };
  const Case cases[] = {
      {R"({"version": 2, "benchmarks": []})", "/version: expected 1"},
      {R"({"version": 1, "benchmarks": []})", "/benchmarks: expected a non-empty list"},
      {R"({"version": 1, "benchmarks": [{"name": "a", "recipe": "missing.json"}]})",
       "/benchmarks/0/recipe: no such file"},
      {R"({"version": 1, "benchmarks": [{"name": "a", "recipe": "r.json", "seeds": 3}]})",
       "/benchmarks/0/seeds: unknown key (known: name, published, recipe, source, sweeps)"},
      {R"({"version": 1, "benchmarks": [{"name": "a/b", "recipe": "r.json"}]})",
       "/benchmarks/0/name: 'a/b': use letters, digits"},
      {R"({"version": 1, "benchmarks": [{"name": "a", "recipe": "r.json"},
                                        {"name": "a", "recipe": "r.json"}]})",
       "/benchmarks/1/name: benchmark 'a' is listed twice"},
      {R"({"version": 1, "benchmarks": [{"name": "a", "recipe": "r.json",
                                         "published": {"kd": "1"}}]})",
       "/benchmarks/0: missing \"source\""},
      {R"({"version": 1, "benchmarks": [{"name": "a", "recipe": "r.json", "source": "s",
                                         "published": {"kd": 74}}]})",
       "/benchmarks/0/published/kd: expected the published result as text, found number 74"},
      {R"({"version": 1, "benchmarks": [{"name": "a", "recipe": "r.json", "sweeps": [
           {"title": "t", "x_label": "x", "series": [{"name": "s", "points": [{"model": "m"}]}]}]}]})",
       "/benchmarks/0/sweeps/0/series/0/points/0/x: expected a number (or set the sweep's "
       "x_metric)"},
      {R"({"version": 1, "benchmarks": [{"name": "a", "recipe": "r.json", "sweeps": [
           {"title": "t", "x_label": "x", "x_metric": "depth", "series": []}]}]})",
       "/benchmarks/0/sweeps/0/x_metric: 'depth' is not a measured metric"},
      {R"({"version": 1,)", "not valid JSON"},
  };
  for (const Case& c : cases) {
    auto suite = parse_suite(c.text, origin());
    ASSERT_FALSE(suite.ok()) << c.text;
    EXPECT_TRUE(contains(suite.status().message(), origin() + ": ")) << c.text;
    EXPECT_TRUE(contains(suite.status().message(), c.expected)) << c.text;
  }
  auto missing = load_suite((dir_ / "none.json").string());
  ASSERT_FALSE(missing.ok());
  EXPECT_TRUE(contains(missing.status().message(), "pass one with --suite"));
}

}  // namespace
}  // namespace retort::bench
