// The prune stage through the CLI: a recipe trains a small MLP, prunes it, fine-tunes it (with
// and without a teacher) and exports; plus the stage's bad-input messages.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "cli_support.h"
#include "nlohmann/json.hpp"
#include "retort/graph/onnx_io.h"

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

using retort::cli_testing::read_json;
using retort::cli_testing::Result;
using retort::cli_testing::run_cli;

class PruneCli : public retort::cli_testing::TempDirTest {
 protected:
  // Train a dense MLP, prune it (`prune` params) with and without KD from it, evaluate.
  static json recipe(const json& prune) {
    json kd = prune;
    kd["losses"] = {{{"type", "kd"}, {"temperature", 4}, {"alpha", 0.7}}};
    return {{"version", 1},
            {"seed", 2},
            {"data", {{"train_size", 3000}, {"test_size", 1000}}},
            {"models", {{"mlp", {{"arch", "mlp"}, {"hidden", {128}}}}}},
            {"stages",
             {{{"id", "dense"},
               {"type", "train"},
               {"inputs", {{"model", "models.mlp"}}},
               {"params", {{"epochs", 3}, {"batch", 64}}}},
              {{"id", "pruned"},
               {"type", "prune"},
               {"inputs", {{"model", "dense.model"}}},
               {"params", prune}},
              {{"id", "pruned-kd"},
               {"type", "prune"},
               {"inputs", {{"model", "dense.model"}, {"teacher", "dense.model"}}},
               {"params", kd}}}}};
  }
};

TEST_F(PruneCli, MagnitudePruningKeepsAccuracyAndReportsMeasuredNumbers) {
  const json prune = {{"method", "magnitude"},
                      {"magnitude", {{"sparsity", 0.8}}},
                      {"schedule", {{"type", "gradual"}, {"frequency", 5}}},
                      {"fine_tune", {{"epochs", 2}, {"batch", 64}}},
                      {"latency_iterations", 3}};
  const std::string path = write("prune.json", recipe(prune));
  ASSERT_EQ(run_cli("validate " + path).code, 0);
  const fs::path out = dir_ / "run";
  Result r = run_cli("run " + path + " --out " + out.string());
  ASSERT_EQ(r.code, 0) << r.out;
  for (const char* id : {"pruned", "pruned-kd"}) {
    const json m = read_json(out / id / "metrics.json");
    SCOPED_TRACE(id);
    EXPECT_NEAR(m["sparsity"].get<double>(), 0.8, 1e-3);
    EXPECT_GT(m["dense_test_accuracy"].get<double>(), 0.75);
    EXPECT_GT(m["test_accuracy"].get<double>(), 0.75);
    EXPECT_GT(m["test_accuracy"].get<double>(), m["dense_test_accuracy"].get<double>() - 0.03);
    EXPECT_EQ(m["method"], "magnitude");
    EXPECT_EQ(m["schedule"], "gradual");
    EXPECT_EQ(m["steps"].get<int64_t>(), 2 * (3000 / 64));
    ASSERT_EQ(m["measured"]["after"]["layers"].size(), 2u);
    EXPECT_NEAR(m["measured"]["after"]["layers"][0]["sparsity"].get<double>(), 0.8, 1e-3);
    // Sizes: the ONNX file keeps its dense size; the compact form is much smaller.
    EXPECT_GT(m["bytes"].get<int64_t>(), 4 * 784 * 128);
    EXPECT_LT(m["compact_bytes"].get<int64_t>(), m["bytes"].get<int64_t>() / 3);
    EXPECT_LT(m["sparse_flops_after"].get<int64_t>(), m["flops_after"].get<int64_t>() / 3);
    EXPECT_GT(m["measured"]["after"]["throughput"].get<double>(), 0);
    EXPECT_NE(m["speed_note"].get<std::string>().find("no speed-up"), std::string::npos);
    // The saved model has the zeros baked in.
    auto model = retort::load_onnx((out / id / "model.onnx").string());
    ASSERT_TRUE(model.ok());
    const auto& w = model->graph.initializers.at("fc1.weight");
    int64_t zeros = 0;
    for (float v : w.span<float>()) zeros += v == 0.0f ? 1 : 0;
    EXPECT_EQ(zeros, std::llround(0.8 * 784 * 128));
  }
  EXPECT_EQ(read_json(out / "pruned-kd" / "metrics.json")["teachers"], 1);
}

TEST_F(PruneCli, BadParamsAreReportedWithTheStageAndPath) {
  json bad = recipe({{"magnitude", {{"sparsity", 1.0}}}});
  Result v = run_cli("validate " + write("one.json", bad));
  EXPECT_EQ(v.code, 2) << v.out;
  EXPECT_NE(v.out.find("magnitude/sparsity"), std::string::npos) << v.out;

  json unknown = recipe({{"layers", {"fc1", "conv9"}}, {"fine_tune", {{"epochs", 1}}}});
  unknown["stages"].erase(2);
  // The stage's check finds it before the dense model trains: nothing runs.
  Result r = run_cli("run " + write("unknown.json", unknown) + " --out " + (dir_ / "run").string());
  EXPECT_EQ(r.code, 2) << r.out;
  EXPECT_NE(r.out.find("/stages/1: stage 'pruned' (prune): /params/layers: no prunable layer "
                       "named 'conv9'; the prunable layers are: fc1, fc2"),
            std::string::npos)
      << r.out;
  EXPECT_FALSE(fs::exists(dir_ / "run" / "dense"));

  // Structured: the logits layer cannot lose neurons, and the check says why.
  json logits =
      recipe({{"method", "structured"}, {"structured", {{"layer_ratios", {{"fc2", 0.5}}}}}});
  Result s = run_cli("validate " + write("logits.json", logits));
  EXPECT_EQ(s.code, 2) << s.out;
  EXPECT_NE(s.out.find("/stages/1: stage 'pruned' (prune): layer 'fc2' cannot be pruned "
                       "structurally: its output is the graph output 'logits'"),
            std::string::npos)
      << s.out;
}

TEST_F(PruneCli, StructuredPruningPassesTheSmallerGraphToLaterChecks) {
  // A distill stage after a structured prune reads a hint from fc1.relu, which the prune
  // shrinks from 128 to 64 wide: the check downstream sees the pruned graph's widths.
  json r = recipe({{"method", "structured"}, {"structured", {{"ratio", 0.5}}}});
  r["stages"].erase(2);
  r["stages"].push_back(
      {{"id", "kd"},
       {"type", "distill"},
       {"inputs", {{"teacher", "dense.model"}, {"student", "pruned.model"}}},
       {"params",
        {{"epochs", 1},
         {"losses",
          {{{"type", "kd"}},
           {{"type", "hint"}, {"teacher_value", "fc1.relu"}, {"student_value", "fc9.relu"}}}}}}});
  Result v = run_cli("validate " + write("chain.json", r));
  EXPECT_EQ(v.code, 2) << v.out;
  EXPECT_NE(v.out.find("/stages/2: stage 'kd' (distill): hint term 0 names student value "
                       "'fc9.relu'"),
            std::string::npos)
      << v.out;
  r["stages"][2]["params"]["losses"][1]["student_value"] = "fc1.relu";
  Result ok = run_cli("validate " + write("chain.json", r));
  EXPECT_EQ(ok.code, 0) << ok.out;
}

}  // namespace
