// The retort CLI end to end, as a user runs it: recipes on small slices of Fashion-MNIST.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <thread>

#include "cli_support.h"
#include "nlohmann/json.hpp"
#include "retort/core/build_info.h"
#include "retort/data/fashion_mnist.h"
#include "retort/graph/input_convention.h"
#include "retort/graph/onnx_io.h"

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

using retort::cli_testing::read_bytes;
using retort::cli_testing::read_json;
using retort::cli_testing::Result;
using retort::cli_testing::run_cli;

// The class names in an ONNX file's metadata.
std::vector<std::string> class_names_in(const fs::path& onnx) {
  auto model = retort::load_onnx(onnx.string());
  EXPECT_TRUE(model.ok()) << model.status().message();
  return model.ok() ? retort::class_names(*model) : std::vector<std::string>{};
}

class Cli : public retort::cli_testing::TempDirTest {
 protected:
  // A quickstart-shaped recipe on a slice: train, evaluate, export.
  json small_recipe(int epochs = 2) {
    return {{"version", 1},
            {"seed", 3},
            {"data", {{"train_size", 3000}, {"test_size", 500}}},
            {"models", {{"mlp", {{"arch", "mlp"}, {"hidden", {64}}}}}},
            {"stages",
             {{{"id", "teacher"},
               {"type", "train"},
               {"inputs", {{"model", "models.mlp"}}},
               {"params", {{"epochs", epochs}, {"batch", 64}}}},
              {{"id", "evaluate"},
               {"type", "evaluate"},
               {"inputs", {{"models", {"teacher.model"}}}},
               {"params", {{"latency_iterations", 3}}}},
              {{"id", "export"},
               {"type", "export"},
               {"inputs", {{"model", "teacher.model"}}},
               {"params", {{"path", (dir_ / "exported" / "teacher.onnx").string()}}}}}}};
  }
};

TEST_F(Cli, VersionAndHelp) {
  Result v = run_cli("--version");
  EXPECT_EQ(v.code, 0);
  EXPECT_EQ(v.out, "retort " + retort::build_description() + "\n");  // the CLI is this build
  EXPECT_TRUE(std::regex_match(
      v.out, std::regex(R"(retort \d+\.\d+\.\d+( \(commit [0-9a-f]{12}(-dirty)?\))?\n)")))
      << v.out;
  for (const char* cmd : {"run", "validate", "graph", "plugins", "eval", "train", "plot"}) {
    Result h = run_cli(std::string(cmd) + " --help");
    EXPECT_EQ(h.code, 0) << cmd;
    EXPECT_NE(h.out.find(std::string("usage: retort ") + cmd), std::string::npos) << h.out;
  }
  EXPECT_EQ(run_cli("frobnicate").code, 2);
}

TEST_F(Cli, PlotDrawsEverySeriesAndRejectsABadPointWithItsPath) {
  const json spec = {{"title", "accuracy vs sparsity"},
                     {"x_label", "sparsity"},
                     {"y_label", "accuracy"},
                     {"mark_pareto", true},
                     {"series",
                      {{{"name", "no KD"}, {"points", {{0.5, 0.89}, {0.9, 0.87}, {0.95, 0.84}}}},
                       {{"name", "KD"}, {"points", {{0.5, 0.893}, {0.9, 0.88, "90%"}}}}}}};
  const std::string path = write("plot.json", spec);
  const fs::path svg = dir_ / "plot.svg";
  Result r = run_cli("plot " + path + " --out " + svg.string());
  ASSERT_EQ(r.code, 0) << r.out;
  const std::string text = read_bytes(svg);
  EXPECT_EQ(text.rfind("<?xml", 0), 0u);
  EXPECT_NE(text.find("</svg>"), std::string::npos);
  size_t points = 0;
  for (size_t i = text.find("class=\"point\""); i != std::string::npos;
       i = text.find("class=\"point\"", i + 1))
    ++points;
  EXPECT_EQ(points, 5u);
  EXPECT_NE(text.find("data-name=\"KD\""), std::string::npos);
  EXPECT_NE(text.find(">Pareto front<"), std::string::npos);

  json bad = spec;
  bad["series"][1]["points"][1] = {0.9, "high"};
  write("plot.json", bad);
  Result b = run_cli("plot " + path + " --out " + svg.string());
  EXPECT_EQ(b.code, 2);
  EXPECT_NE(b.out.find("/series/1/points/1: expected [x, y] or [x, y, \"label\"]"),
            std::string::npos)
      << b.out;
  EXPECT_EQ(read_bytes(svg), text) << "a failed plot must leave the earlier file intact";
}

TEST_F(Cli, QuickstartShapedRecipeRunsCachesAndExports) {
  const std::string recipe = write("small.json", small_recipe());
  const fs::path out = dir_ / "run";
  Result r = run_cli("run " + recipe + " --out " + out.string());
  ASSERT_EQ(r.code, 0) << r.out;

  json report = read_json(out / "report.json");
  ASSERT_EQ(report["stages"].size(), 3u);
  for (const auto& s : report["stages"]) EXPECT_EQ(s["status"], "ran") << s.dump();
  // Not a terminal: plain lines, one as each stage starts and ends.
  EXPECT_NE(r.out.find("stage teacher (train) started\n"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("stage teacher ran in "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("stage export ran in "), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find('\x1b'), std::string::npos) << "terminal escapes in a pipe";
  // The exported model names the Fashion-MNIST classes in its metadata.
  const fs::path exported = dir_ / "exported" / "teacher.onnx";
  EXPECT_EQ(class_names_in(exported), retort::data::fashion_mnist_class_names());
  EXPECT_TRUE(fs::exists(out / "teacher" / "model.onnx"));
  EXPECT_TRUE(fs::exists(out / "teacher" / "manifest.json"));
  EXPECT_TRUE(fs::exists(out / "report.md"));
  EXPECT_TRUE(fs::exists(out / "report.html"));
  EXPECT_TRUE(fs::exists(out / "recipe.resolved.json"));
  const json eval = read_json(out / "evaluate" / "metrics.json");
  const json& m = eval["models"][0];
  EXPECT_EQ(m["name"], "teacher.model");
  EXPECT_GE(m["accuracy"].get<double>(), 0.70);
  EXPECT_EQ(m["parameters"].get<int64_t>(), 784 * 64 + 64 + 64 * 10 + 10);
  EXPECT_GT(m["bytes"].get<int64_t>(), 4 * m["parameters"].get<int64_t>());
  EXPECT_GT(m["throughput"].get<double>(), 0);

  // retort eval on the exported model agrees with the evaluate stage.
  Result e = run_cli("eval " + (dir_ / "exported" / "teacher.onnx").string() +
                     " --test-size 500 --no-speed --json");
  ASSERT_EQ(e.code, 0) << e.out;
  const json ej = json::parse(e.out.substr(e.out.find('{')));
  EXPECT_NEAR(ej["accuracy"].get<double>(), m["accuracy"].get<double>(), 1e-9);

  // Unchanged rerun: nothing runs.
  Result again = run_cli("run " + recipe + " --out " + out.string());
  ASSERT_EQ(again.code, 0) << again.out;
  // A named report: the range of a range-for over read_json(...)["stages"] would dangle.
  const json unchanged = read_json(out / "report.json");
  for (const auto& s : unchanged["stages"]) EXPECT_EQ(s["status"], "cached") << s.dump();

  // The exported file deleted: the export stage runs again and writes the same bytes; the
  // stages before it stay cached.
  const std::string exported_bytes = read_bytes(exported);
  ASSERT_FALSE(exported_bytes.empty());
  fs::remove(exported);
  Result rewrite = run_cli("run " + recipe + " --out " + out.string());
  ASSERT_EQ(rewrite.code, 0) << rewrite.out;
  const json rewritten = read_json(out / "report.json");
  EXPECT_EQ(rewritten["stages"][0]["status"], "cached");
  EXPECT_EQ(rewritten["stages"][1]["status"], "cached");
  EXPECT_EQ(rewritten["stages"][2]["status"], "ran");
  ASSERT_TRUE(fs::exists(exported));
  EXPECT_EQ(read_bytes(exported), exported_bytes);
  // And then nothing to do again.
  Result nothing = run_cli("run " + recipe + " --out " + out.string());
  ASSERT_EQ(nothing.code, 0) << nothing.out;
  const json settled = read_json(out / "report.json");
  for (const auto& s : settled["stages"]) EXPECT_EQ(s["status"], "cached") << s.dump();

  // A param change of the evaluate stage re-runs it only.
  json changed = small_recipe();
  changed["stages"][1]["params"]["latency_iterations"] = 4;
  write("small.json", changed);
  Result rerun = run_cli("run " + recipe + " --out " + out.string());
  ASSERT_EQ(rerun.code, 0) << rerun.out;
  const json after = read_json(out / "report.json");
  EXPECT_EQ(after["stages"][0]["status"], "cached");
  EXPECT_EQ(after["stages"][1]["status"], "ran");
  EXPECT_EQ(after["stages"][2]["status"], "cached");
}

TEST_F(Cli, RecipeClassNamesReachTheExportedModel) {
  const std::vector<std::string> names = {"top",    "trousers", "jumper",  "dress",   "coat",
                                          "sandal", "shirt",    "trainer", "handbag", "boot"};
  json recipe = small_recipe(1);
  recipe["data"] = {{"train_size", 500}, {"test_size", 100}, {"class_names", names}};
  recipe["stages"].erase(1);  // no evaluate stage: train and export
  const std::string path = write("named.json", recipe);
  Result r = run_cli("run " + path + " --out " + (dir_ / "run").string());
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_EQ(class_names_in(dir_ / "exported" / "teacher.onnx"), names);
  EXPECT_EQ(class_names_in(dir_ / "run" / "teacher" / "model.onnx"), names);

  // One name short: invalid before anything runs, at the JSON path.
  recipe["data"]["class_names"].erase(9);
  const std::string short_path = write("short.json", recipe);
  Result bad = run_cli("validate " + short_path);
  EXPECT_EQ(bad.code, 2);
  EXPECT_NE(bad.out.find("/data/class_names: Fashion-MNIST has 10 classes but 9 names are given"),
            std::string::npos)
      << bad.out;
}

TEST_F(Cli, InvalidRecipeExitsTwoWithEveryProblem) {
  json bad = small_recipe();
  bad["stages"][0]["params"]["epochs"] = -1;
  bad["stages"][1]["type"] = "evaluat";
  bad["stages"][2]["inputs"]["model"] = "teachr.model";
  const std::string recipe = write("bad.json", bad);
  Result r = run_cli("validate " + recipe);
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.out.find("/stages/0/params/epochs"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("evaluat"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("teachr"), std::string::npos) << r.out;
  Result run = run_cli("run " + recipe + " --out " + (dir_ / "run").string());
  EXPECT_EQ(run.code, 2);
  EXPECT_FALSE(fs::exists(dir_ / "run" / "teacher"));
}

TEST_F(Cli, InterruptedRunResumesWithFinishedStagesCached) {
  json recipe = small_recipe(1);
  // A second, longer training stage to interrupt.
  recipe["stages"].push_back({{"id", "long"},
                              {"type", "train"},
                              {"inputs", {{"model", "teacher.model"}}},
                              {"params", {{"epochs", 200}, {"batch", 64}}}});
  const std::string path = write("long.json", recipe);
  const fs::path out = dir_ / "run";
  const pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    freopen("/dev/null", "w", stdout);
    freopen("/dev/null", "w", stderr);
    execl(RETORT_CLI, RETORT_CLI, "run", path.c_str(), "--out", out.c_str(),
          static_cast<char*>(nullptr));
    _exit(127);
  }
  // Wait until the first stage is finished and the long one has been running a moment.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  while (!fs::exists(out / "teacher" / "manifest.json") &&
         std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  std::this_thread::sleep_for(std::chrono::seconds(2));
  kill(pid, SIGINT);
  int status = 0;
  waitpid(pid, &status, 0);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 1);
  EXPECT_FALSE(fs::exists(out / "long")) << "a half-written stage folder was left";
  for (const auto& e : fs::directory_iterator(out))
    EXPECT_EQ(e.path().filename().string().find(".tmp"), std::string::npos) << e.path();

  // Resume with a short version of the long stage: the finished stages come from the cache.
  recipe["stages"][3]["params"]["epochs"] = 1;
  write("long.json", recipe);
  Result r = run_cli("run " + path + " --out " + out.string());
  ASSERT_EQ(r.code, 0) << r.out;
  const json report = read_json(out / "report.json");
  EXPECT_EQ(report["stages"][0]["status"], "cached");
  EXPECT_EQ(report["stages"][3]["status"], "ran");
}

// Distillation through the CLI. Teachers and students are small MLPs on a 2000-image slice, so
// each run takes a few seconds.
class CliDistill : public Cli {
 protected:
  json distill_recipe() {
    return {{"version", 1},
            {"seed", 5},
            {"data", {{"train_size", 2000}, {"test_size", 500}}},
            {"models",
             {{"teacher_mlp", {{"arch", "mlp"}, {"hidden", {128}}}},
              {"student_mlp", {{"arch", "mlp"}, {"hidden", {32}}}}}},
            {"stages",
             {{{"id", "teacher"},
               {"type", "train"},
               {"inputs", {{"model", "models.teacher_mlp"}}},
               {"params", {{"epochs", 2}, {"batch", 64}}}},
              {{"id", "kd"},
               {"type", "distill"},
               {"inputs", {{"teacher", "teacher.model"}, {"student", "models.student_mlp"}}},
               {"params",
                {{"epochs", 3},
                 {"batch", 64},
                 {"losses",
                  {{{"type", "kd"},
                    {"alpha", 0.9},
                    {"temperature", {{"start", 6}, {"end", 2}, {"schedule", "cosine"}}}}}}}}},
              {{"id", "evaluate"},
               {"type", "evaluate"},
               {"inputs", {{"models", {"teacher.model", "kd.model"}}}},
               {"params", {{"speed", false}}}},
              {{"id", "export"},
               {"type", "export"},
               {"inputs", {{"model", "kd.model"}}},
               {"params", {{"path", (dir_ / "exported" / "student.onnx").string()}}}}}}};
  }

  // A recipe whose only stage distills untrained recipe models: it fails or succeeds at once.
  json untrained_recipe(const json& teacher_spec, const json& losses) {
    return {{"version", 1},
            {"seed", 5},
            {"data", {{"train_size", 2000}, {"test_size", 500}}},
            {"models", {{"t", teacher_spec}, {"s", {{"arch", "mlp"}, {"hidden", {32}}}}}},
            {"stages",
             {{{"id", "kd"},
               {"type", "distill"},
               {"inputs", {{"teacher", "models.t"}, {"student", "models.s"}}},
               {"params", {{"epochs", 1}, {"batch", 64}, {"losses", losses}}}}}}};
  }

  static const json* stage_in(const json& report, const std::string& id) {
    for (const auto& s : report["stages"])
      if (s["id"] == id) return &s;
    return nullptr;
  }
};

TEST_F(CliDistill, StudentTrainsAboveAFloorAndItsExportLoads) {
  const std::string recipe = write("kd.json", distill_recipe());
  const fs::path out = dir_ / "run";
  Result r = run_cli("run " + recipe + " --out " + out.string());
  ASSERT_EQ(r.code, 0) << r.out;

  const json report = read_json(out / "report.json");
  const json* kd = stage_in(report, "kd");
  ASSERT_NE(kd, nullptr);
  EXPECT_EQ((*kd)["status"], "ran");
  const json& m = (*kd)["metrics"];
  ASSERT_TRUE(m.is_object()) << kd->dump();
  EXPECT_GT(m["test_accuracy"].get<double>(), 0.6) << m.dump();
  EXPECT_EQ(m["teachers"], 1);
  EXPECT_EQ(m["transfer_images"], 2000);
  EXPECT_EQ(m["teacher_logits_cached"], json::array({true}));  // no augmentation, no feature term
  EXPECT_TRUE(m["loss_terms"].contains("kd")) << m.dump();
  EXPECT_EQ(m["per_class_accuracy"].size(), 10u);
  // The stage's metrics file is what the report shows.
  EXPECT_EQ(read_json(out / "kd" / "metrics.json")["test_accuracy"], m["test_accuracy"]);

  // The evaluate stage loads the distilled model and measures the same accuracy.
  const json eval = read_json(out / "evaluate" / "metrics.json");
  ASSERT_EQ(eval["models"].size(), 2u);
  EXPECT_EQ(eval["models"][1]["name"], "kd.model");
  EXPECT_NEAR(eval["models"][1]["accuracy"].get<double>(), m["test_accuracy"].get<double>(), 1e-9);
  EXPECT_EQ(eval["models"][1]["parameters"].get<int64_t>(), 784 * 32 + 32 + 32 * 10 + 10);

  // The exported student is a loadable ONNX file with the class names, and retort eval agrees.
  const fs::path exported = dir_ / "exported" / "student.onnx";
  EXPECT_EQ(class_names_in(exported), retort::data::fashion_mnist_class_names());
  Result e = run_cli("eval " + exported.string() + " --test-size 500 --no-speed --json");
  ASSERT_EQ(e.code, 0) << e.out;
  const json ej = json::parse(e.out.substr(e.out.find('{')));
  EXPECT_NEAR(ej["accuracy"].get<double>(), m["test_accuracy"].get<double>(), 1e-9);

  // Unchanged rerun: the distill stage comes from the cache.
  ASSERT_EQ(run_cli("run " + recipe + " --out " + out.string()).code, 0);
  EXPECT_EQ((*stage_in(read_json(out / "report.json"), "kd"))["status"], "cached");
}

TEST_F(CliDistill, TwoTeachersFanIn) {
  json recipe = distill_recipe();
  recipe["models"]["teacher_wide"] = {{"arch", "mlp"}, {"hidden", {96, 48}}};
  recipe["stages"].insert(recipe["stages"].begin() + 1,
                          json{{"id", "teacher2"},
                               {"type", "train"},
                               {"inputs", {{"model", "models.teacher_wide"}}},
                               {"params", {{"epochs", 2}, {"batch", 64}}}});
  json& kd = recipe["stages"][2];
  ASSERT_EQ(kd["id"], "kd");
  kd["inputs"]["teacher"] = {"teacher.model", "teacher2.model"};
  kd["params"]["losses"][0]["teachers"] = "confidence";
  recipe["stages"][3]["inputs"]["models"] = {"teacher.model", "teacher2.model", "kd.model"};
  recipe["stages"].erase(4);  // no export
  const std::string path = write("fan_in.json", recipe);
  const fs::path out = dir_ / "run";
  Result r = run_cli("run " + path + " --out " + out.string());
  ASSERT_EQ(r.code, 0) << r.out;

  const json m = read_json(out / "kd" / "metrics.json");
  EXPECT_EQ(m["teachers"], 2) << m.dump();
  EXPECT_EQ(m["teacher_logits_cached"], json::array({true, true}));
  EXPECT_GT(m["test_accuracy"].get<double>(), 0.6) << m.dump();
  const json report = read_json(out / "report.json");
  const json* stage = stage_in(report, "kd");
  ASSERT_NE(stage, nullptr);
  EXPECT_EQ((*stage)["status"], "ran");
  EXPECT_EQ((*stage)["metrics"]["teachers"], 2);
  EXPECT_EQ(read_json(out / "evaluate" / "metrics.json")["models"].size(), 3u);
}

TEST_F(CliDistill, HintNamingAMissingValueFailsBeforeTrainingListingTheValues) {
  const json losses = {
      {{"type", "kd"}},
      {{"type", "hint"}, {"teacher_value", "fc1.relu"}, {"student_value", "fc9.relu"}}};
  const std::string path =
      write("hint.json", untrained_recipe({{"arch", "mlp"}, {"hidden", {64}}}, losses));
  // The stage's own check runs at validation: the stage id, its JSON path, the term, the
  // missing name and every value the student does have.
  Result v = run_cli("validate " + path);
  EXPECT_EQ(v.code, 2) << v.out;
  EXPECT_NE(v.out.find("hint.json: /stages/0: stage 'kd' (distill): hint term 0 names student "
                       "value 'fc9.relu'"),
            std::string::npos)
      << v.out;
  EXPECT_NE(
      v.out.find(
          "its values are: input, normalize.sub, normalize.div, flatten, fc1, fc1.relu, logits"),
      std::string::npos)
      << v.out;
  // `run` checks the same way and runs nothing.
  const fs::path out = dir_ / "run";
  Result r = run_cli("run " + path + " --out " + out.string());
  EXPECT_EQ(r.code, 2) << r.out;
  EXPECT_NE(r.out.find("stage 'kd' (distill): hint term 0 names student value 'fc9.relu'"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("nothing was run"), std::string::npos) << r.out;
  EXPECT_FALSE(fs::exists(out / "kd")) << "the failed stage left a folder";

  // The teacher's side is checked the same way.
  const json teacher_side = {
      {{"type", "kd"}},
      {{"type", "hint"}, {"teacher_value", "fc2.relu"}, {"student_value", "fc1.relu"}}};
  write("hint.json", untrained_recipe({{"arch", "mlp"}, {"hidden", {64}}}, teacher_side));
  Result t = run_cli("validate " + path);
  EXPECT_EQ(t.code, 2) << t.out;
  EXPECT_NE(t.out.find("stage 'kd' (distill): hint term 0 names teacher 0 value 'fc2.relu'"),
            std::string::npos)
      << t.out;
  EXPECT_NE(t.out.find("flatten, fc1, fc1.relu, logits"), std::string::npos) << t.out;
}

TEST_F(CliDistill, MistakeInALateStageIsFoundBeforeEarlierStagesTrain) {
  // The teacher is trained by the recipe's first stage; the distill stage after it names a
  // value the teacher's graph does not have. The train stage's check passes the teacher's
  // graph on, so the mistake is found before the teacher trains.
  json recipe = distill_recipe();
  recipe["stages"][1]["params"]["losses"] = {
      {{"type", "kd"}},
      {{"type", "hint"}, {"teacher_value", "fc3.relu"}, {"student_value", "fc1.relu"}}};
  const std::string path = write("late.json", recipe);
  Result v = run_cli("validate " + path);
  EXPECT_EQ(v.code, 2) << v.out;
  EXPECT_NE(v.out.find("late.json: /stages/1: stage 'kd' (distill): hint term 0 names teacher 0 "
                       "value 'fc3.relu'"),
            std::string::npos)
      << v.out;
  const fs::path out = dir_ / "run";
  Result r = run_cli("run " + path + " --out " + out.string());
  EXPECT_EQ(r.code, 2) << r.out;
  EXPECT_FALSE(fs::exists(out / "teacher")) << "the teacher trained before the check failed";

  // Fixed, the same recipe validates.
  recipe["stages"][1]["params"]["losses"][1]["teacher_value"] = "fc1.relu";
  write("late.json", recipe);
  Result ok = run_cli("validate " + path);
  EXPECT_EQ(ok.code, 0) << ok.out;
}

TEST_F(CliDistill, BiasSettingsAreCheckedBeforeTraining) {
  json r = untrained_recipe({{"arch", "mlp"}, {"hidden", {64}}}, {{{"type", "kd"}}});
  r["stages"][0]["params"]["class_bias"] = {{"12", 3.5}};
  Result v = run_cli("validate " + write("bias.json", r));
  EXPECT_EQ(v.code, 2) << v.out;
  EXPECT_NE(v.out.find("stage 'kd' (distill): /params/class_bias/12: expected a class index in "
                       "[0, 10), found \"12\""),
            std::string::npos)
      << v.out;
  r["stages"][0]["params"].erase("class_bias");
  r["stages"][0]["params"]["bias_correction"] = "fit";
  Result f = run_cli("validate " + write("bias.json", r));
  EXPECT_EQ(f.code, 2) << f.out;
  EXPECT_NE(f.out.find("/params/bias_correction: \"fit\" adjusts the classes in exclude_classes, "
                       "which is empty"),
            std::string::npos)
      << f.out;
}

TEST_F(CliDistill, TeacherWithOtherClassCountIsAClearError) {
  const json kd = {{{"type", "kd"}}};
  // Fewer outputs than the data has classes: the recipe is invalid, nothing runs.
  const std::string five =
      write("five.json", untrained_recipe({{"arch", "mlp"}, {"hidden", {64}}, {"classes", 5}}, kd));
  Result v = run_cli("run " + five + " --out " + (dir_ / "five").string());
  EXPECT_EQ(v.code, 2) << v.out;
  EXPECT_NE(v.out.find("/models/t/classes: the model has 5 outputs but the data has 10 classes"),
            std::string::npos)
      << v.out;
  EXPECT_FALSE(fs::exists(dir_ / "five" / "kd"));

  // A valid model whose class count differs from the student's: the distill stage's check
  // refuses it before anything runs, naming both counts.
  const std::string twelve = write(
      "twelve.json", untrained_recipe({{"arch", "mlp"}, {"hidden", {64}}, {"classes", 12}}, kd));
  const fs::path out = dir_ / "twelve";
  Result r = run_cli("run " + twelve + " --out " + out.string());
  EXPECT_EQ(r.code, 2) << r.out;
  EXPECT_NE(r.out.find("/stages/0: stage 'kd' (distill): teacher 0 has 12 classes but the "
                       "student has 10"),
            std::string::npos)
      << r.out;
  EXPECT_FALSE(fs::exists(out / "kd"));
}

}  // namespace
