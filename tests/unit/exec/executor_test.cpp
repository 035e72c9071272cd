#include "retort/exec/executor.h"

#include <gtest/gtest.h>
#include <signal.h>

#include <algorithm>
#include <filesystem>
#include <thread>

#include "exec_test_support.h"
#include "retort/core/build_info.h"
#include "retort/exec/manifest.h"

namespace retort::exec {
namespace {

namespace fs = std::filesystem;
using testing::contains;
using testing::leftovers;
using testing::make_recipe;
using testing::read_text;
using testing::run_ok;
using testing::stage;
using testing::stage_log;
using testing::status_of;
using testing::TempDir;

class ExecutorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    stage_log().reset();
    clear_cancel();
  }
  void TearDown() override { clear_cancel(); }

  std::vector<std::string> ran_sorted() {
    std::vector<std::string> r = stage_log().ran();
    std::sort(r.begin(), r.end());
    return r;
  }

  plugin::StageRegistry registry_ = testing::test_registry();
  TempDir dir_;
};

TEST_F(ExecutorTest, FanInPassesEveryInputInOrder) {
  // 12 files from one multiple port: "models.10.onnx" must come after "models.2.onnx".
  auto recipe =
      make_recipe({stage("a", "make", {}, {{"value", "A"}}),
                   stage("b", "make", {}, {{"value", "B"}}), stage("f", "fanout", {}, {{"n", 12}}),
                   stage("c", "combine", {{"parts", {"b.model", "a.model", "f.models"}}})});
  RunResult result = run_ok(recipe, registry_, dir_.path("out"));
  ASSERT_TRUE(result.ok());
  const StageOutcome* c = result.stage("c");
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->status, StageStatus::kRan);
  EXPECT_EQ(c->metrics["count"], 14);
  EXPECT_EQ(c->metrics["joined"], "BAf0f1f2f3f4f5f6f7f8f9f10f11");
  EXPECT_TRUE(fs::is_regular_file(dir_.path("out/f/models.11.onnx")));
  // The manifest records every bound input with the ref it came from.
  Expected<Manifest> m = read_manifest(dir_.path("out/c/manifest.json"));
  ASSERT_TRUE(m.ok()) << m.status().message();
  ASSERT_EQ(m->inputs["parts"].size(), 14u);
  EXPECT_EQ(m->inputs["parts"][0].ref, "b.model");
  EXPECT_EQ(m->inputs["parts"][0].path, dir_.path("out/b/model.onnx"));
  EXPECT_EQ(m->inputs["parts"][13].ref, "f.models");
  EXPECT_EQ(m->type, "combine");
  EXPECT_EQ(m->plugin_name, "exec-test");
  EXPECT_EQ(m->plugin_version, "1.0");
  EXPECT_EQ(m->seed, 7u);
  EXPECT_EQ(m->outputs.count("metrics.json"), 1u);
  EXPECT_EQ(m->started.size(), 24u) << m->started;  // 2024-05-01T12:34:56.789Z
  EXPECT_EQ(m->started.back(), 'Z');
  EXPECT_TRUE(leftovers(dir_.path("out")).empty());
}

TEST_F(ExecutorTest, FailingBranchStopsOnlyItsDependents) {
  auto recipe = make_recipe({stage("a", "make"), stage("r1", "relay", {{"in", {"a.model"}}}),
                             stage("bad", "fail"), stage("r2", "relay", {{"in", {"bad.model"}}}),
                             stage("r3", "relay", {{"in", {"r2.model"}}})});
  RunResult result = run_ok(recipe, registry_, dir_.path("out"));
  EXPECT_FALSE(result.ok());
  EXPECT_FALSE(result.cancelled);
  EXPECT_EQ(status_of(result, "a"), StageStatus::kRan);
  EXPECT_EQ(status_of(result, "r1"), StageStatus::kRan);
  EXPECT_EQ(status_of(result, "bad"), StageStatus::kFailed);
  EXPECT_EQ(result.stage("bad")->error,
            "stage 'bad' (fail): boom: the dataset is empty; give a larger train_size");
  EXPECT_EQ(status_of(result, "r2"), StageStatus::kNotRun);
  EXPECT_TRUE(contains(result.stage("r2")->error, "depends on stage 'bad', which failed"));
  EXPECT_EQ(status_of(result, "r3"), StageStatus::kNotRun);
  EXPECT_TRUE(contains(result.stage("r3")->error, "stage 'r2', which did not run"));
  // Finished artifacts are kept; the failed stage leaves nothing behind.
  EXPECT_EQ(read_text(dir_.path("out/r1/model.onnx")), "x");
  EXPECT_TRUE(fs::exists(dir_.path("out/r1/manifest.json")));
  EXPECT_FALSE(fs::exists(dir_.path("out/bad")));
  EXPECT_FALSE(fs::exists(dir_.path("out/r2")));
  EXPECT_TRUE(leftovers(dir_.path("out")).empty());
  EXPECT_EQ(ran_sorted(), (std::vector<std::string>{"a", "bad", "r1"}));

  // A rerun retries the failure and keeps the finished branch cached.
  stage_log().reset();
  RunResult again = run_ok(recipe, registry_, dir_.path("out"));
  EXPECT_EQ(status_of(again, "a"), StageStatus::kCached);
  EXPECT_EQ(status_of(again, "r1"), StageStatus::kCached);
  EXPECT_EQ(status_of(again, "bad"), StageStatus::kFailed);
  EXPECT_EQ(stage_log().ran(), (std::vector<std::string>{"bad"}));
}

TEST_F(ExecutorTest, ExceptionFromRunBecomesErrorTaggedWithStage) {
  auto recipe = make_recipe({stage("oops", "throw"), stage("ok", "make")});
  RunResult result = run_ok(recipe, registry_, dir_.path("out"));
  EXPECT_EQ(status_of(result, "oops"), StageStatus::kFailed);
  EXPECT_EQ(result.stage("oops")->error, "stage 'oops' (throw): unhandled exception: kaboom");
  EXPECT_EQ(status_of(result, "ok"), StageStatus::kRan);
}

TEST_F(ExecutorTest, MissingOutputFailsTheStage) {
  auto recipe = make_recipe({stage("idle", "lazy")});
  RunResult result = run_ok(recipe, registry_, dir_.path("out"));
  EXPECT_EQ(status_of(result, "idle"), StageStatus::kFailed);
  EXPECT_TRUE(
      contains(result.stage("idle")->error,
               "stage 'idle' (lazy): output 'model' was not written: no file 'model.onnx'"));
  EXPECT_FALSE(fs::exists(dir_.path("out/idle")));
}

TEST_F(ExecutorTest, CancelStopsCleanlyAndRerunResumes) {
  stage_log().slow_ms = 60000;  // only cancellation ends it
  auto recipe = make_recipe({stage("a", "make"), stage("s", "slow", {{"in", {"a.model"}}}),
                             stage("d", "relay", {{"in", {"s.model"}}})});
  std::thread canceller([] {
    // Bounded wait: if the slow stage never starts, cancel anyway and let the checks fail.
    for (int i = 0; i < 10000 && stage_log().slow_started.load() == 0; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    request_cancel();
  });
  RunResult result = run_ok(recipe, registry_, dir_.path("out"));
  canceller.join();
  EXPECT_TRUE(result.cancelled);
  EXPECT_FALSE(result.ok());
  EXPECT_EQ(status_of(result, "a"), StageStatus::kRan);
  EXPECT_EQ(status_of(result, "s"), StageStatus::kNotRun);
  EXPECT_TRUE(contains(result.stage("s")->error, "cancelled while running"));
  EXPECT_EQ(status_of(result, "d"), StageStatus::kNotRun);
  // The slow stage had written a partial file into its temporary folder: gone, not promoted.
  const std::string temp = stage_log().output_dirs["s"];
  EXPECT_TRUE(contains(temp, "/.s.tmp-"));
  EXPECT_FALSE(fs::exists(temp));
  EXPECT_FALSE(fs::exists(dir_.path("out/s")));
  EXPECT_TRUE(leftovers(dir_.path("out")).empty());
  nlohmann::json report = nlohmann::json::parse(read_text(dir_.path("out/report.json")));
  EXPECT_EQ(report["cancelled"], true);

  clear_cancel();
  stage_log().reset();
  stage_log().slow_ms = 5;
  RunResult resumed = run_ok(recipe, registry_, dir_.path("out"));
  EXPECT_TRUE(resumed.ok());
  EXPECT_EQ(status_of(resumed, "a"), StageStatus::kCached);
  EXPECT_EQ(status_of(resumed, "s"), StageStatus::kRan);
  EXPECT_EQ(status_of(resumed, "d"), StageStatus::kRan);
  EXPECT_EQ(read_text(dir_.path("out/d/model.onnx")), "slow:s");
  EXPECT_EQ(stage_log().ran(), (std::vector<std::string>{"s", "d"}));
}

TEST_F(ExecutorTest, CancelBeforeStartRunsNothing) {
  request_cancel();
  auto recipe = make_recipe({stage("a", "make")});
  RunResult result = run_ok(recipe, registry_, dir_.path("out"));
  EXPECT_TRUE(result.cancelled);
  EXPECT_EQ(status_of(result, "a"), StageStatus::kNotRun);
  EXPECT_TRUE(stage_log().ran().empty());
}

TEST_F(ExecutorTest, StaleTemporaryFoldersOfAKilledRunAreRemoved) {
  // What a run killed with SIGKILL leaves: a half-written temp folder under another pid.
  fs::create_directories(dir_.path("out/.a.tmp-999999"));
  testing::write_text(dir_.path("out/.a.tmp-999999/model.onnx"), "half");
  RunResult result = run_ok(make_recipe({stage("a", "make")}), registry_, dir_.path("out"));
  EXPECT_EQ(status_of(result, "a"), StageStatus::kRan);
  EXPECT_TRUE(leftovers(dir_.path("out")).empty());
}

TEST_F(ExecutorTest, UnchangedRerunRunsNothing) {
  auto recipe = make_recipe({stage("a", "make"), stage("r1", "relay", {{"in", {"a.model"}}}),
                             stage("f", "fanout", {}, {{"n", 3}}),
                             stage("c", "combine", {{"parts", {"r1.model", "f.models"}}})});
  RunResult first = run_ok(recipe, registry_, dir_.path("out"));
  ASSERT_TRUE(first.ok());
  EXPECT_EQ(stage_log().ran().size(), 4u);
  stage_log().reset();
  RunResult second = run_ok(recipe, registry_, dir_.path("out"));
  ASSERT_TRUE(second.ok());
  EXPECT_TRUE(stage_log().ran().empty());
  for (const StageOutcome& s : second.stages) {
    EXPECT_EQ(s.status, StageStatus::kCached) << s.id;
  }
  // Cached stages still report their metrics.
  EXPECT_EQ(second.stage("c")->metrics["count"], 4);
  EXPECT_EQ(second.stage("r1")->metrics["accuracy"], 0.75);
}

// Each result says which build computed it: the manifest records this build when a stage
// runs, and a cache hit reports the build in the manifest (here another, edited in).
TEST_F(ExecutorTest, ResultsRecordTheBuildThatComputedThem) {
  auto recipe = make_recipe({stage("a", "make"), stage("r1", "relay", {{"in", {"a.model"}}})});
  RunResult first = run_ok(recipe, registry_, dir_.path("out"));
  ASSERT_TRUE(first.ok());
  EXPECT_EQ(first.stage("a")->retort_commit, build_commit());
  const std::string manifest_path = dir_.path("out/a/manifest.json");
  Expected<Manifest> written = read_manifest(manifest_path);
  ASSERT_TRUE(written.ok()) << written.status().message();
  EXPECT_EQ(written->retort_version, version());
  EXPECT_EQ(written->retort_commit, build_commit());

  Manifest edited = *written;
  edited.retort_commit = "0123456789ab";
  ASSERT_TRUE(write_manifest(edited, manifest_path).ok());
  RunResult second = run_ok(recipe, registry_, dir_.path("out"));
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(second.stage("a")->status, StageStatus::kCached);  // the build is not in the key
  EXPECT_EQ(second.stage("a")->retort_commit, "0123456789ab");
  EXPECT_EQ(second.stage("r1")->retort_commit, build_commit());
}

TEST_F(ExecutorTest, ParamChangeRerunsThatStageAndWhatDependsOnIt) {
  auto build = [](const std::string& suffix, const std::string& note) {
    return make_recipe(
        {stage("a", "make", {}, {{"value", "A"}}),
         stage("r1", "relay", {{"in", {"a.model"}}}, {{"suffix", suffix}, {"note", note}}),
         stage("r2", "relay", {{"in", {"r1.model"}}}), stage("b", "make", {}, {{"value", "B"}}),
         stage("r3", "relay", {{"in", {"b.model"}}})});
  };
  ASSERT_TRUE(run_ok(build("1", ""), registry_, dir_.path("out")).ok());

  stage_log().reset();
  RunResult changed = run_ok(build("X", ""), registry_, dir_.path("out"));
  ASSERT_TRUE(changed.ok());
  EXPECT_EQ(ran_sorted(), (std::vector<std::string>{"r1", "r2"}));
  EXPECT_EQ(status_of(changed, "a"), StageStatus::kCached);
  EXPECT_EQ(status_of(changed, "b"), StageStatus::kCached);
  EXPECT_EQ(status_of(changed, "r3"), StageStatus::kCached);
  EXPECT_EQ(read_text(dir_.path("out/r2/model.onnx")), "AX");

  // A param that does not change r1's output: r1 re-runs, r2's input bytes are the same.
  stage_log().reset();
  RunResult noted = run_ok(build("X", "just a note"), registry_, dir_.path("out"));
  EXPECT_EQ(status_of(noted, "r1"), StageStatus::kRan);
  EXPECT_EQ(status_of(noted, "r2"), StageStatus::kCached);
  EXPECT_EQ(stage_log().ran(), (std::vector<std::string>{"r1"}));
}

TEST_F(ExecutorTest, ForceRerunsNamedStage) {
  auto recipe = make_recipe({stage("a", "make"), stage("r1", "relay", {{"in", {"a.model"}}})});
  ASSERT_TRUE(run_ok(recipe, registry_, dir_.path("out")).ok());
  stage_log().reset();
  RunOptions options;
  options.force = {"r1"};
  RunResult forced = run_ok(recipe, registry_, dir_.path("out"), options);
  EXPECT_EQ(status_of(forced, "a"), StageStatus::kCached);
  EXPECT_EQ(status_of(forced, "r1"), StageStatus::kRan);
  EXPECT_EQ(stage_log().ran(), (std::vector<std::string>{"r1"}));

  options.force = {"r2"};
  options.out_dir = dir_.path("out");
  Expected<RunResult> bad = run_recipe(recipe, registry_, options);
  ASSERT_FALSE(bad.ok());
  EXPECT_TRUE(
      contains(bad.status().message(), "--force 'r2': the recipe has no stage with that id"));
  EXPECT_TRUE(contains(bad.status().message(), "did you mean 'r1'"));
}

TEST_F(ExecutorTest, ChangedArtifactOnDiskOrPluginVersionInvalidatesCache) {
  auto recipe = make_recipe({stage("a", "make"), stage("r1", "relay", {{"in", {"a.model"}}})});
  ASSERT_TRUE(run_ok(recipe, registry_, dir_.path("out")).ok());

  testing::write_text(dir_.path("out/a/model.onnx"), "tampered");
  stage_log().reset();
  RunResult repaired = run_ok(recipe, registry_, dir_.path("out"));
  EXPECT_EQ(status_of(repaired, "a"), StageStatus::kRan);
  EXPECT_EQ(status_of(repaired, "r1"), StageStatus::kCached);  // same bytes as before
  EXPECT_EQ(read_text(dir_.path("out/a/model.onnx")), "x");

  plugin::StageRegistry v2 = testing::test_registry("2.0");
  stage_log().reset();
  RunResult upgraded = run_ok(recipe, v2, dir_.path("out"));
  EXPECT_EQ(ran_sorted(), (std::vector<std::string>{"a", "r1"}));
  Expected<Manifest> m = read_manifest(dir_.path("out/r1/manifest.json"));
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(m->plugin_version, "2.0");
}

TEST_F(ExecutorTest, RecipeModelsBindAsSpecOrFile) {
  const std::string onnx = dir_.path("ext.onnx");
  testing::write_text(onnx, "external model");
  auto recipe = make_recipe({stage("u", "use", {{"models", {"models.cnn", "models.ext"}}})});
  recipe.models["cnn"] = {{"arch", "cnn"}, {"channels", {8, 16}}};
  recipe.models["ext"] = {{"onnx", onnx}};
  RunResult result = run_ok(recipe, registry_, dir_.path("out"));
  ASSERT_TRUE(result.ok()) << result.stage("u")->error;
  const nlohmann::json& m = result.stage("u")->metrics;
  EXPECT_TRUE(m["paths"][0].is_null());
  EXPECT_EQ(nlohmann::json::parse(m["specs"][0].get<std::string>()), recipe.models["cnn"]);
  EXPECT_EQ(m["paths"][1], onnx);
  EXPECT_TRUE(m["specs"][1].is_null());

  // The file is identified by its contents: editing it re-runs the stage.
  stage_log().reset();
  ASSERT_EQ(status_of(run_ok(recipe, registry_, dir_.path("out")), "u"), StageStatus::kCached);
  testing::write_text(onnx, "external model, retrained");
  EXPECT_EQ(status_of(run_ok(recipe, registry_, dir_.path("out")), "u"), StageStatus::kRan);

  fs::remove(onnx);
  RunResult missing = run_ok(recipe, registry_, dir_.path("out"));
  EXPECT_EQ(status_of(missing, "u"), StageStatus::kFailed);
  EXPECT_TRUE(
      contains(missing.stage("u")->error,
               "stage 'u' (use): input 'models' (recipe model 'ext'): cannot open '" + onnx));
}

TEST_F(ExecutorTest, ReportsDescribeEveryStage) {
  auto recipe = make_recipe({stage("a", "make"), stage("r1", "relay", {{"in", {"a.model"}}}),
                             stage("bad", "fail"), stage("r2", "relay", {{"in", {"bad.model"}}})},
                            "demo");
  RunResult result = run_ok(recipe, registry_, dir_.path("out"));
  nlohmann::json report = nlohmann::json::parse(read_text(dir_.path("out/report.json")));
  EXPECT_EQ(report["recipe"], "demo");
  EXPECT_EQ(report["out_dir"], dir_.path("out"));
  EXPECT_EQ(report["ok"], false);
  ASSERT_EQ(report["stages"].size(), 4u);
  const nlohmann::json& r1 = report["stages"][1];
  EXPECT_EQ(r1["id"], "r1");
  EXPECT_EQ(r1["type"], "relay");
  EXPECT_EQ(r1["status"], "ran");
  EXPECT_GE(r1["seconds"].get<double>(), 0.0);
  EXPECT_EQ(r1["metrics"]["accuracy"], 0.75);
  EXPECT_TRUE(r1["error"].is_null());
  EXPECT_TRUE(report["stages"][0]["metrics"].is_null());  // "make" has no metrics port
  EXPECT_EQ(report["stages"][2]["status"], "failed");
  EXPECT_TRUE(
      contains(report["stages"][2]["error"].get<std::string>(), "stage 'bad' (fail): boom"));
  EXPECT_EQ(report["stages"][3]["status"], "not-run");

  const std::string md = read_text(dir_.path("out/report.md"));
  EXPECT_TRUE(contains(md, "| stage | type | status | seconds | key metrics |"));
  EXPECT_TRUE(contains(md, "| r1 | relay | ran | "));
  EXPECT_TRUE(contains(md, "accuracy 0.75, params 1,234,567, size_bytes 1"));
  EXPECT_TRUE(contains(md, "| r2 | relay | not-run | "));
  EXPECT_TRUE(contains(md, "- **bad**: stage 'bad' (fail): boom"));

  nlohmann::json resolved = nlohmann::json::parse(read_text(dir_.path("out/recipe.resolved.json")));
  EXPECT_EQ(resolved, recipe.resolved_json());
  EXPECT_TRUE(leftovers(dir_.path("out")).empty());
}

TEST_F(ExecutorTest, ObserversSeeProgressLogsAndEveryOutcome) {
  std::vector<std::string> events;
  RunOptions options;
  options.on_progress = [&](const std::string& id, const nlohmann::json& p) {
    events.push_back("progress " + id + " " + p.dump());
  };
  options.on_log = [&](const std::string& id, const std::string& m) {
    events.push_back("log " + id + " " + m);
  };
  options.on_stage_start = [&](const std::string& id, const std::string& type) {
    events.push_back("start " + id + " " + type);
  };
  options.on_stage_end = [&](const StageOutcome& o) {
    events.push_back(std::string("end ") + o.id + " " + stage_status_name(o.status));
  };
  auto recipe = make_recipe({stage("a", "make")});
  run_ok(recipe, registry_, dir_.path("out"), options);
  EXPECT_EQ(events, (std::vector<std::string>{"start a make", R"(progress a {"step":1,"steps":1})",
                                              "log a making", "end a ran"}));
  events.clear();
  run_ok(recipe, registry_, dir_.path("out"), options);
  EXPECT_EQ(events, (std::vector<std::string>{"end a cached"}));
}

TEST_F(ExecutorTest, JobsBoundsConcurrentHeavyStagesAndSplitsThreads) {
  stage_log().slow_ms = 20;
  stage_log().rendezvous = 2;  // each waits for the other: they must run at the same time
  auto recipe = make_recipe({stage("s1", "slow"), stage("s2", "slow"), stage("light", "make")});
  auto overlap = [](const testing::StageLog::Interval& x, const testing::StageLog::Interval& y) {
    return x.start < y.end && y.start < x.end;
  };

  RunOptions two;
  two.jobs = 2;
  two.threads = 2;
  ASSERT_TRUE(run_ok(recipe, registry_, dir_.path("two"), two).ok());
  {
    std::lock_guard lock(stage_log().mutex);
    EXPECT_TRUE(overlap(stage_log().intervals["s1"], stage_log().intervals["s2"]));
    EXPECT_EQ(stage_log().omp_threads["s1"], 1);
    EXPECT_EQ(stage_log().host_threads["s2"], 1);
    // Both stages' teams together: what batch loaders weigh against the CPUs.
    EXPECT_EQ(stage_log().compute_threads["s1"], 2);
  }

  stage_log().reset();
  stage_log().slow_ms = 30;
  RunOptions one;
  one.jobs = 1;
  one.threads = 2;
  ASSERT_TRUE(run_ok(recipe, registry_, dir_.path("one"), one).ok());
  std::lock_guard lock(stage_log().mutex);
  EXPECT_FALSE(overlap(stage_log().intervals["s1"], stage_log().intervals["s2"]));
  EXPECT_EQ(stage_log().omp_threads["s1"], 2);
  EXPECT_EQ(stage_log().host_threads["s2"], 2);
  EXPECT_EQ(stage_log().compute_threads["s1"], 2);
}

TEST_F(ExecutorTest, StageSecondsLeaveOutTheWaitForAPermit) {
  stage_log().slow_ms = 300;
  auto recipe = make_recipe({stage("s1", "slow"), stage("s2", "slow")});
  RunOptions one;
  one.jobs = 1;
  RunResult result = run_ok(recipe, registry_, dir_.path("out"), one);
  ASSERT_TRUE(result.ok());
  ASSERT_EQ(result.stages.size(), 2u);
  for (const StageOutcome& s : result.stages) {
    EXPECT_GE(s.seconds, 0.29) << s.id;
    EXPECT_LT(s.seconds, 0.55) << s.id << " counted the other stage's 0.3 s as its own";
  }
}

TEST_F(ExecutorTest, ManyHeavyStagesShareThePermits) {
  stage_log().slow_ms = 15;
  std::vector<recipe::StageSpec> stages;
  for (int i = 0; i < 8; ++i) {
    const std::string id = std::string("s").append(std::to_string(i));
    const std::string previous = std::string("s").append(std::to_string(i - 1)).append(".model");
    // Four chains of two: permits are returned and reused across branches.
    stages.push_back(i % 2 == 0 ? stage(id, "slow") : stage(id, "slow", {{"in", {previous}}}));
  }
  RunOptions options;
  options.jobs = 2;
  options.threads = 2;
  RunResult result = run_ok(make_recipe(std::move(stages)), registry_, dir_.path("out"), options);
  EXPECT_TRUE(result.ok());
  EXPECT_EQ(stage_log().ran().size(), 8u);
  EXPECT_LE(stage_log().max_running.load(), 2);
  EXPECT_GE(stage_log().max_running.load(), 1);
}

TEST_F(ExecutorTest, StagesUsingTaskArenasAreNotStarvedOfWorkers) {
  // Two heavy stages at once, each waiting on its own one-worker arena (as the batch loader's
  // prefetch does), next to a light stage: the TBB limit must leave a worker for the arenas.
  RunOptions options;
  options.jobs = 2;
  options.threads = 2;
  auto recipe = make_recipe({stage("p1", "arena"), stage("p2", "arena"), stage("m", "make")});
  RunResult result = run_ok(recipe, registry_, dir_.path("out"), options);
  EXPECT_TRUE(result.ok()) << result.stage("p1")->error << result.stage("p2")->error;
  options.jobs = 1;
  options.force = {"p1", "p2"};
  result = run_ok(recipe, registry_, dir_.path("out"), options);
  EXPECT_TRUE(result.ok()) << result.stage("p1")->error << result.stage("p2")->error;
}

TEST_F(ExecutorTest, SignalHandlersRequestCancel) {
  struct sigaction old_int {
  }, old_term{};
  sigaction(SIGINT, nullptr, &old_int);
  sigaction(SIGTERM, nullptr, &old_term);
  install_signal_handlers();
  ASSERT_FALSE(cancel_requested());
  raise(SIGTERM);  // the process survives the first signal
  EXPECT_TRUE(cancel_requested());
  clear_cancel();
  raise(SIGINT);
  EXPECT_TRUE(cancel_requested());
  clear_cancel();
  sigaction(SIGINT, &old_int, nullptr);
  sigaction(SIGTERM, &old_term, nullptr);
}

TEST_F(ExecutorTest, SecondSignalEndsTheProcess) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(
      {
        install_signal_handlers();
        raise(SIGINT);
        raise(SIGINT);
      },
      ::testing::KilledBySignal(SIGINT), "");
}

TEST_F(ExecutorTest, RejectsOptionsAndGraphsItCannotRun) {
  auto recipe = make_recipe({stage("a", "make")});
  RunOptions options;
  options.out_dir = dir_.path("out");
  options.jobs = 0;
  auto r = run_recipe(recipe, registry_, options);
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(contains(r.status().message(), "--jobs 0 is invalid"));

  options.jobs = 1;
  auto cyclic = make_recipe({stage("p", "relay", {{"in", {"q.model"}}}),
                             stage("q", "relay", {{"in", {"p.model"}}}), stage("a", "make")});
  r = run_recipe(cyclic, registry_, options);
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(contains(r.status().message(), "the stages p, q depend on each other in a cycle"));

  auto unknown = make_recipe({stage("t", "trian")});
  r = run_recipe(unknown, registry_, options);
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(contains(r.status().message(), "stage 't': unknown stage type 'trian'"));
  EXPECT_TRUE(stage_log().ran().empty());
}

}  // namespace
}  // namespace retort::exec
