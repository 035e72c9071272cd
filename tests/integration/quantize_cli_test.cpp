// The quantize stage through the CLI: a recipe trains a small CNN and quantizes it post-training
// and with QAD; the exported int8 QDQ model is smaller, runs on the int8 engine and agrees
// with its float32 simulation; plus the stage's bad-input messages.
#include <gtest/gtest.h>

#include <filesystem>

#include "cli_support.h"
#include "nlohmann/json.hpp"
#include "retort/graph/onnx_io.h"

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

using retort::cli_testing::read_json;
using retort::cli_testing::Result;
using retort::cli_testing::run_cli;

class QuantizeCli : public retort::cli_testing::TempDirTest {
 protected:
  static json recipe(const json& ptq, const json& qad) {
    return {{"version", 1},
            {"seed", 3},
            {"data", {{"train_size", 3000}, {"test_size", 1000}}},
            {"models",
             {{"cnn",
               {{"arch", "cnn"},
                {"blocks", {{{"conv", 8}, {"pool", 2}, {"bn", true}}, {{"conv", 16}, {"pool", 2}}}},
                {"fc", {32}}}}}},
            {"stages",
             {{{"id", "fp32"},
               {"type", "train"},
               {"inputs", {{"model", "models.cnn"}}},
               {"params", {{"epochs", 2}, {"batch", 64}}}},
              {{"id", "ptq"},
               {"type", "quantize"},
               {"inputs", {{"model", "fp32.model"}}},
               {"params", ptq}},
              {{"id", "qad"},
               {"type", "quantize"},
               {"inputs", {{"model", "fp32.model"}, {"teacher", "fp32.model"}}},
               {"params", qad}}}}};
  }
};

TEST_F(QuantizeCli, PtqAndQadGiveSmallInt8ModelsThatKeepAccuracy) {
  const json ptq = {{"mode", "ptq"},
                    {"observer", "percentile"},
                    {"calibration_images", 500},
                    {"latency_iterations", 3}};
  const json qad = {{"mode", "qad"},
                    {"calibration_images", 500},
                    {"train", {{"epochs", 1}, {"batch", 64}, {"optimizer", {{"lr", 0.01}}}}},
                    {"measure_speed", false}};
  const std::string path = write("quantize.json", recipe(ptq, qad));
  Result v = run_cli("validate " + path);
  ASSERT_EQ(v.code, 0) << v.out;
  const fs::path out = dir_ / "run";
  Result r = run_cli("run " + path + " --out " + out.string());
  ASSERT_EQ(r.code, 0) << r.out;
  for (const char* id : {"ptq", "qad"}) {
    SCOPED_TRACE(id);
    const json m = read_json(out / id / "metrics.json");
    EXPECT_GT(m["fp32_test_accuracy"].get<double>(), 0.7);
    EXPECT_GT(m["test_accuracy"].get<double>(), m["fp32_test_accuracy"].get<double>() - 0.02);
    EXPECT_GE(m["int8_vs_fake_quant_top1_agreement"].get<double>(), 0.99);
    EXPECT_LT(m["size_ratio"].get<double>(), 0.5);
    EXPECT_EQ(m["folded_batch_norms"].size(), 1u);
    EXPECT_EQ(m["quantized_nodes"].size(), 4u);
    auto model = retort::load_onnx((out / id / "model.onnx").string());
    ASSERT_TRUE(model.ok()) << model.status().message();
    int dq = 0;
    for (const auto& n : model->graph.nodes) dq += n.op_type == "DequantizeLinear";
    EXPECT_GE(dq, 8);
    EXPECT_EQ(model->graph.initializers.at("conv1.weight.int8").dtype(), retort::DType::kInt8);
  }
  // retort eval says which nodes run on int8 kernels.
  Result eval = run_cli("eval " + (out / "qad" / "model.onnx").string() +
                        " --no-speed --json --test-size 200");
  ASSERT_EQ(eval.code, 0) << eval.out;
  const json e = json::parse(eval.out.substr(eval.out.find('{')));
  EXPECT_EQ(e["int8_nodes"], json({"conv1", "conv2", "fc1", "fc2"}));
  EXPECT_EQ(e["float32_nodes"].size(), 0u);
  const json ptq_m = read_json(out / "ptq" / "metrics.json");
  EXPECT_EQ(ptq_m["observer"], "percentile");
  EXPECT_GT(ptq_m["int8_speed"]["throughput"].get<double>(), 0);
  EXPECT_EQ(read_json(out / "qad" / "metrics.json")["steps"].get<int64_t>(), 3000 / 64);
}

TEST_F(QuantizeCli, BadInputsAreRecipeErrorsBeforeAnythingRuns) {
  const json ok = {{"mode", "ptq"}};
  const json qad = {{"mode", "qad"}};
  struct Case {
    json ptq;
    std::string message;
  };
  const Case cases[] = {
      {{{"mode", "ptq"}, {"weight_bits", 9}}, "/params/weight_bits: 9 bits is outside 2..8"},
      {{{"mode", "ptq"}, {"activation_bits", 1}},
       "/params/activation_bits: 1 bits is outside 2..8"},
      {{{"mode", "ptq"}, {"train", {{"epochs", 1}}}}, "/params/train: mode ptq does not train"},
      {{{"mode", "ptq"}, {"exclude", {"conv9"}}}, "exclude names node 'conv9'"},
      {{{"mode", "ptq"}, {"ops", {"Relu"}}},
       "no node of the requested op types can be quantized ('conv1.relu'"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.message);
    const std::string path = write("bad.json", recipe(c.ptq, qad));
    Result r = run_cli("validate " + path);
    EXPECT_EQ(r.code, 2) << r.out;
    EXPECT_NE(r.out.find(c.message), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("ptq"), std::string::npos) << r.out;
  }
  json no_teacher = recipe(ok, qad);
  no_teacher["stages"][2]["inputs"].erase("teacher");
  const std::string path = write("no_teacher.json", no_teacher);
  Result r = run_cli("validate " + path);
  EXPECT_EQ(r.code, 2) << r.out;
  EXPECT_NE(r.out.find("qad distills from a teacher, but the stage has no \"teacher\" input"),
            std::string::npos)
      << r.out;
}

}  // namespace
