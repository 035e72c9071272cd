// PyTorch exports through the command line: a fixed-batch export evaluates at any batch, one
// whose batch cannot be freed runs at its own batch and is refused by validate where a stage
// would feed it other batches, and the import stage's trainable/frozen patterns are checked.
#include <fstream>

#include "cli_support.h"
#include "retort/graph/onnx_io.h"

namespace retort::cli_testing {
namespace {

const std::string kTorchDir = std::string(RETORT_SOURCE_DIR) + "/tests/data/torch";

class OutsideModelsCli : public TempDirTest {
 protected:
  // x [2, 1, 28, 28] -> Flatten -> Add(a constant [2, 784]) -> Gemm -> logits [2, 10]: the
  // constant has the batch's size, so the model runs only at batch 2.
  std::string batch_two_model() {
    Model m;
    ValueInfo x{
        "x", DType::kFloat32, {Dim::fixed(2), Dim::fixed(1), Dim::fixed(28), Dim::fixed(28)}};
    m.graph.inputs = {x};
    m.graph.initializers["offset"] = Tensor(DType::kFloat32, {2, 784});
    m.graph.initializers["w"] = Tensor(DType::kFloat32, {784, 10});
    m.graph.initializers["w"].data<float>()[3] = 1.0f;
    m.graph.nodes = {Node{"flat", "Flatten", "", {"x"}, {"f"}, {}},
                     Node{"shift", "Add", "", {"f", "offset"}, {"g"}, {}},
                     Node{"fc", "Gemm", "", {"g", "w"}, {"logits"}, {}}};
    m.graph.outputs = {ValueInfo{"logits", DType::kFloat32, {Dim::fixed(2), Dim::fixed(10)}}};
    const std::string path = (dir_ / "batch_two.onnx").string();
    EXPECT_TRUE(save_onnx(m, path).ok());
    return path;
  }

  nlohmann::json recipe_with(const std::string& onnx, nlohmann::json import_params, int64_t batch) {
    return {{"version", 1},
            {"seed", 1},
            {"data", {{"train_size", 200}, {"test_size", 100}}},
            {"models", {{"ext", {{"onnx", onnx}}}}},
            {"stages",
             {{{"id", "imported"},
               {"type", "import"},
               {"inputs", {{"model", "models.ext"}}},
               {"params", import_params}},
              {{"id", "finetune"},
               {"type", "train"},
               {"inputs", {{"model", "imported.model"}}},
               {"params", {{"epochs", 1}, {"batch", batch}}}}}}};
  }
};

TEST_F(OutsideModelsCli, ExportForBatchOneEvaluatesAtAnyBatchWithPyTorchsAccuracy) {
  std::ifstream in(kTorchDir + "/outside_expected.json");
  const nlohmann::json expected = nlohmann::json::parse(in);
  for (const char* name : {"mlp_batch1.onnx", "cnn_batch1.onnx"}) {
    SCOPED_TRACE(name);
    Result r = run_cli("eval " + kTorchDir + "/" + name +
                       " --test-size 1000 --batch 128 --no-speed --json");
    ASSERT_EQ(r.code, 0) << r.out;
    const nlohmann::json j = nlohmann::json::parse(r.out);
    EXPECT_EQ(j["images"], 1000);
    EXPECT_NEAR(j["accuracy"].get<double>(), expected[name]["accuracy"].get<double>(),
                1.0 / 1000 + 1e-9);
    EXPECT_EQ(j["parameters"], expected[name]["parameters"]);
  }
}

TEST_F(OutsideModelsCli, ModelThatRunsOnlyAtItsBatchIsEvaluatedThereAndRefusedForTraining) {
  const std::string model = batch_two_model();
  Result e = run_cli("eval " + model + " --test-size 7 --json --threads 1");
  ASSERT_EQ(e.code, 0) << e.out;
  const nlohmann::json j = nlohmann::json::parse(e.out);
  EXPECT_EQ(j["images"], 7);
  EXPECT_EQ(j["latency_batch"], 2);
  EXPECT_EQ(j["throughput_batch"], 2);
  EXPECT_EQ(j["macs"], 7840) << "per image, not per batch of 2";

  const std::string recipe = write("recipe.json", recipe_with(model, nlohmann::json::object(), 32));
  Result v = run_cli("validate " + recipe);
  EXPECT_EQ(v.code, 2) << v.out;
  EXPECT_NE(v.out.find("finetune"), std::string::npos) << v.out;
  EXPECT_NE(v.out.find("fixed batch of 2 but batches of 32"), std::string::npos) << v.out;
  EXPECT_NE(v.out.find("node 'shift' (Add) combines a batch-sized value"), std::string::npos)
      << v.out;
  EXPECT_NE(v.out.find("set the stage's \"batch\" to 2"), std::string::npos) << v.out;

  const std::string fixed = write("fixed.json", recipe_with(model, nlohmann::json::object(), 2));
  Result ok = run_cli("validate " + fixed);
  EXPECT_EQ(ok.code, 0) << ok.out;
}

TEST_F(OutsideModelsCli, ImportPatternThatMatchesNothingIsARecipeError) {
  const std::string recipe =
      write("recipe.json",
            recipe_with(kTorchDir + "/mlp_norm.onnx", {{"frozen", {"fc1.*", "fc3.*"}}}, 32));
  Result v = run_cli("validate " + recipe);
  EXPECT_EQ(v.code, 2) << v.out;
  EXPECT_NE(v.out.find("imported"), std::string::npos) << v.out;
  EXPECT_NE(v.out.find("/params/frozen/1: pattern 'fc3.*' matches no float initializer"),
            std::string::npos)
      << v.out;
}

}  // namespace
}  // namespace retort::cli_testing
