#include "retort/exec/host.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace retort::exec {
namespace {

TEST(Host, ServesTheRunThroughTheCTable) {
  std::atomic<bool> cancel{false};
  std::vector<nlohmann::json> progress;
  std::vector<std::string> logs;
  retort_stage_run run;
  run.stage_id = "kd";
  run.params_json = R"({"temperature":4})";
  run.seed = 42;
  run.threads = 3;
  run.output_dir = "/tmp/out";
  run.inputs["teacher"] = {{"/runs/t/model.onnx", ""}, {"", R"({"arch":"mlp"})"}};
  run.on_progress = [&](const nlohmann::json& p) { progress.push_back(p); };
  run.on_log = [&](const std::string& m) { logs.push_back(m); };
  run.cancel = &cancel;

  const retort_host* host = stage_host();
  ASSERT_EQ(host->struct_size, sizeof(retort_host));
  EXPECT_STREQ(host->stage_id(&run), "kd");
  EXPECT_STREQ(host->params_json(&run), R"({"temperature":4})");
  EXPECT_STREQ(host->data_json(&run), "{}");
  EXPECT_EQ(host->seed(&run), 42u);
  EXPECT_EQ(host->threads(&run), 3);
  EXPECT_STREQ(host->output_dir(&run), "/tmp/out");
  EXPECT_EQ(host->input_count(&run, "teacher"), 2u);
  EXPECT_EQ(host->input_count(&run, "student"), 0u);
  EXPECT_STREQ(host->input_path(&run, "teacher", 0), "/runs/t/model.onnx");
  EXPECT_EQ(host->model_spec_json(&run, "teacher", 0), nullptr);
  EXPECT_EQ(host->input_path(&run, "teacher", 1), nullptr);
  EXPECT_STREQ(host->model_spec_json(&run, "teacher", 1), R"({"arch":"mlp"})");
  EXPECT_EQ(host->input_path(&run, "teacher", 2), nullptr);
  EXPECT_EQ(host->input_path(&run, nullptr, 0), nullptr);

  host->progress(&run, R"({"epoch": 1, "loss": 0.5})");
  ASSERT_EQ(progress.size(), 1u);
  EXPECT_EQ(progress[0]["loss"], 0.5);
  host->progress(&run, "not json");  // a plugin bug: logged, not fatal
  EXPECT_EQ(progress.size(), 1u);
  host->log(&run, "hello");
  ASSERT_EQ(logs.size(), 2u);
  EXPECT_EQ(logs[0], "progress report is not a JSON object: not json");
  EXPECT_EQ(logs[1], "hello");

  EXPECT_EQ(host->cancelled(&run), 0);
  cancel = true;
  EXPECT_EQ(host->cancelled(&run), 1);
}

TEST(Host, ThrowingObserverDoesNotEscape) {
  retort_stage_run run;
  run.on_log = [](const std::string&) { throw std::runtime_error("observer bug"); };
  run.on_progress = [](const nlohmann::json&) { throw std::runtime_error("observer bug"); };
  const retort_host* host = stage_host();
  host->log(&run, "x");
  host->progress(&run, "{}");
  EXPECT_EQ(host->cancelled(&run), 0);  // no flag bound: never cancelled
}

}  // namespace
}  // namespace retort::exec
