#include "retort/bench/results.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>

namespace retort::bench {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

TEST(Summarize, MeanAndSampleStandardDeviation) {
  const json s = summarize({0.90, 0.92, 0.94});
  EXPECT_NEAR(s["mean"].get<double>(), 0.92, 1e-12);
  EXPECT_NEAR(s["std"].get<double>(), 0.02, 1e-12);  // sample sd: sqrt(0.0008 / 2)
  EXPECT_EQ(s["n"], 3);
  EXPECT_EQ(summarize({0.5})["std"], 0.0);
  EXPECT_TRUE(summarize({}).is_null());
}

// Two seed folders as `retort run` leaves them: report.json and a manifest per stage.
class CollectTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("retort_collect_" + std::to_string(getpid()));
    fs::remove_all(dir_);
    write_seed(1, 0.91, 0.80, 0.5, "aaaa1111");
    write_seed(2, 0.93, 0.84, 0.7, "bbbb2222");
  }
  void TearDown() override { fs::remove_all(dir_); }

  void write_seed(int seed, double teacher, double student, double latency,
                  const std::string& teacher_hash) {
    const fs::path run = dir_ / ("seed-" + std::to_string(seed));
    fs::create_directories(run / "teacher");
    const json report = {
        {"stages",
         {{{"id", "teacher"}, {"metrics", {{"test_accuracy", 0.5}, {"parameters", 250}}}},
          {{"id", "student"}, {"metrics", {{"test_accuracy", student}}}},
          {{"id", "extra"}, {"metrics", {{"test_accuracy", 0.6 + 0.1 * seed}}}},
          {{"id", "export"}, {"metrics", nullptr}},
          {{"id", "evaluate"},
           {"metrics",
            {{"models",
              {{{"name", "teacher.model"},
                {"accuracy", teacher},
                {"bytes", 1000},
                {"parameters", 250},
                {"nonzero_parameters", 250},
                {"latency_ms_median", latency},
                {"accuracy_retained", 100.0},
                {"speedup", 1.0},
                {"throughput", 100.0 * seed}},
               {{"name", "student.model"},
                {"accuracy", student},
                {"bytes", 100},
                {"parameters", 20},
                {"nonzero_parameters", 5}}}}}}}}}};
    std::ofstream(run / "report.json") << report.dump();
    json manifest = {{"outputs", {{"model.onnx", teacher_hash}, {"metrics.json", "x"}}},
                     {"started", "2026-11-2" + std::to_string(seed) + "T10:00:00.000Z"},
                     {"finished", "2026-11-2" + std::to_string(seed) + "T10:05:00.000Z"}};
    // Seed 1's stages were computed by two builds; seed 2's manifest predates the record.
    if (seed == 1) {
      manifest["retort"] = {{"version", "0.1.0"}, {"commit", "aaaaaaaaaaaa"}};
      fs::create_directories(run / "student");
      const json student = {{"started", manifest["started"]},
                            {"finished", manifest["finished"]},
                            {"retort", {{"version", "0.1.0"}, {"commit", "bbbbbbbbbbbb-dirty"}}}};
      std::ofstream(run / "student" / "manifest.json") << student.dump();
    }
    std::ofstream(run / "teacher" / "manifest.json") << manifest.dump();
  }

  std::vector<SeedRun> runs() const {
    return {{1, (dir_ / "seed-1").string(), true, 10, 5, 0, 0, ""},
            {2, (dir_ / "seed-2").string(), true, 12, 5, 0, 0, ""}};
  }

  fs::path dir_;
};

TEST_F(CollectTest, OneRowPerModelWithSeedStatisticsHashesAndThePublishedNumber) {
  BenchmarkSpec spec;
  spec.name = "demo";
  spec.recipe = "recipes/demo.json";
  spec.source = "Somebody 2020";
  spec.published = {{"teacher", "99.3%"}, {"ghost", "1%"}};
  const json b = collect_benchmark(spec, runs());

  EXPECT_EQ(b["name"], "demo");
  EXPECT_EQ(b["runs"][1]["computed_from"], "2026-11-22T10:00:00.000Z");
  EXPECT_EQ(b["runs"][1]["computed_to"], "2026-11-22T10:05:00.000Z");
  EXPECT_EQ(b["runs"][0]["computed_by"], json({"aaaaaaaaaaaa", "bbbbbbbbbbbb-dirty"}));
  EXPECT_EQ(b["runs"][1]["computed_by"], json::array());
  EXPECT_TRUE(b["ok"].get<bool>());
  ASSERT_EQ(b["rows"].size(), 3u);  // evaluate's models first, then stages with an accuracy
  const json& teacher = b["rows"][0];
  EXPECT_EQ(teacher["model"], "teacher");
  // The evaluate stage's measurement wins over the stage's own (0.5).
  EXPECT_NEAR(teacher["accuracy"]["mean"].get<double>(), 0.92, 1e-12);
  EXPECT_NEAR(teacher["accuracy"]["std"].get<double>(), std::sqrt(0.0002), 1e-12);
  EXPECT_EQ(teacher["accuracy"]["values"], json({0.91, 0.93}));
  EXPECT_NEAR(teacher["latency_ms"]["mean"].get<double>(), 0.6, 1e-12);
  EXPECT_NEAR(teacher["throughput"]["mean"].get<double>(), 150, 1e-9);
  EXPECT_EQ(teacher["sparsity"]["mean"], 0.0);
  EXPECT_EQ(teacher["published"], "99.3%");
  EXPECT_EQ(teacher["accuracy_retained"]["mean"], 100.0);
  EXPECT_EQ(teacher["speedup"]["n"], 2);
  EXPECT_TRUE(teacher["compression_ratio"].is_null());
  ASSERT_EQ(teacher["artifacts"].size(), 2u);
  EXPECT_EQ(teacher["artifacts"][0]["hash"], "aaaa1111");
  EXPECT_EQ(teacher["artifacts"][1]["hash"], "bbbb2222");
  EXPECT_EQ(teacher["artifacts"][1]["folder"], (dir_ / "seed-2" / "teacher").string());

  const json& student = b["rows"][1];
  EXPECT_EQ(student["model"], "student");
  EXPECT_NEAR(student["sparsity"]["mean"].get<double>(), 0.75, 1e-12);
  EXPECT_TRUE(student["latency_ms"].is_null());
  EXPECT_TRUE(student["published"].is_null());
  EXPECT_EQ(student["artifacts"][0]["hash"], "");  // no manifest: unknown, not invented

  EXPECT_EQ(b["rows"][2]["model"], "extra");
  EXPECT_NEAR(b["rows"][2]["accuracy"]["mean"].get<double>(), 0.75, 1e-12);

  ASSERT_EQ(b["problems"].size(), 1u);
  EXPECT_NE(b["problems"][0].get<std::string>().find("'ghost'"), std::string::npos);
}

TEST_F(CollectTest, SweepsTakeDeclaredOrMeasuredX) {
  BenchmarkSpec spec;
  spec.name = "demo";
  spec.sweeps = {{"by depth", "layers", "", {{"s", {{"teacher", 10}, {"student", 2}}}}},
                 {"by sparsity", "sparsity", "sparsity", {{"s", {{"student", 0}, {"nope", 0}}}}}};
  const json b = collect_benchmark(spec, runs());
  ASSERT_EQ(b["sweeps"].size(), 2u);
  const json& depth = b["sweeps"][0]["series"][0]["points"];
  ASSERT_EQ(depth.size(), 2u);
  EXPECT_EQ(depth[0]["x"], 10.0);
  EXPECT_NEAR(depth[0]["accuracy"]["mean"].get<double>(), 0.92, 1e-12);
  const json& sparsity = b["sweeps"][1]["series"][0]["points"];
  ASSERT_EQ(sparsity.size(), 1u);  // "nope" was measured by no run
  EXPECT_NEAR(sparsity[0]["x"].get<double>(), 0.75, 1e-12);
  ASSERT_EQ(b["problems"].size(), 1u);
  EXPECT_NE(b["problems"][0].get<std::string>().find("no accuracy for 'nope'"), std::string::npos);
}

TEST_F(CollectTest, AFailedSeedIsReportedAndItsFinishedModelsStillCount) {
  std::vector<SeedRun> r = runs();
  r[1].ok = false;
  r[1].error = "stage 'student' (distill): out of memory";
  r.push_back({3, (dir_ / "seed-3").string(), false, 0, 0, 0, 1, "could not start"});
  const json b = collect_benchmark(BenchmarkSpec{"demo", "r.json", "", {}, {}}, r);
  EXPECT_FALSE(b["ok"].get<bool>());
  EXPECT_EQ(b["runs"][1]["error"], "stage 'student' (distill): out of memory");
  EXPECT_EQ(b["rows"][0]["accuracy"]["n"], 2);  // seed 3 left no report
  ASSERT_EQ(b["problems"].size(), 1u);
  EXPECT_NE(b["problems"][0].get<std::string>().find("seed 3: no report.json"), std::string::npos);
}

TEST(MachineJson, NamesTheCpuAndCountsCores) {
  const json m = machine_json(0);
  EXPECT_FALSE(m["cpu"].get<std::string>().empty());
  EXPECT_GE(m["cores"].get<int>(), 1);
  EXPECT_EQ(m["threads"], m["cores"]);  // 0: all cores
  EXPECT_EQ(machine_json(1)["threads"], 1);
  EXPECT_GE(load_average(), 0.0);
}

}  // namespace
}  // namespace retort::bench
