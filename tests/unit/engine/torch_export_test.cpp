// Models exported by PyTorch (tests/data/torch/make_models.py) run in the engine and match
// PyTorch's own outputs.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <string>

#include "retort/engine/plan.h"
#include "retort/graph/onnx_io.h"

namespace retort {
namespace {

namespace fs = std::filesystem;

engine::PlanOptions batch_of(int64_t batch) {
  engine::PlanOptions options;
  options.batch = batch;
  return options;
}

const std::string kTorchDir = std::string(RETORT_TEST_DATA_DIR) + "/torch";

struct TorchCase {
  const char* model;
  const char* reference;
};

class TorchExport : public ::testing::TestWithParam<TorchCase> {};

TEST_P(TorchExport, MatchesPyTorchOutputs) {
  const TorchCase& c = GetParam();
  auto model = load_onnx(kTorchDir + "/" + c.model);
  ASSERT_TRUE(model.ok()) << model.status().message();
  auto input = load_tensor_pb(kTorchDir + "/input_0.pb");
  ASSERT_TRUE(input.ok()) << input.status().message();
  auto expected = load_tensor_pb(kTorchDir + "/" + c.reference);
  ASSERT_TRUE(expected.ok()) << expected.status().message();
  ASSERT_EQ(input->shape(), (Shape{3, 1, 28, 28}));
  ASSERT_EQ(expected->shape(), (Shape{3, 10}));

  auto plan = engine::Plan::compile(*model, batch_of(3));
  ASSERT_TRUE(plan.ok()) << plan.status().message();
  engine::View in = (*plan)->input(0);
  ASSERT_EQ(in.shape, input->shape());
  std::copy(input->span<float>().begin(), input->span<float>().end(), in.data);
  (*plan)->forward(false);

  engine::View out = (*plan)->output(0);
  ASSERT_EQ(out.shape, expected->shape());
  float max_diff = 0.0f;
  for (int64_t i = 0; i < out.numel(); ++i) {
    ASSERT_TRUE(std::isfinite(out.data[i])) << "element " << i;
    max_diff = std::max(max_diff, std::abs(out.data[i] - expected->data<float>()[i]));
  }
  EXPECT_LE(max_diff, 1e-4f) << c.model << ": largest difference to PyTorch";

  // Running again on the same buffers gives the same result (no state carried over).
  std::vector<float> first(out.data, out.data + out.numel());
  (*plan)->forward(false);
  EXPECT_EQ(std::vector<float>(out.data, out.data + out.numel()), first);
}

INSTANTIATE_TEST_SUITE_P(Models, TorchExport,
                         ::testing::Values(TorchCase{"mlp_dynamic.onnx", "mlp_output_0.pb"},
                                           TorchCase{"mlp_static.onnx", "mlp_output_0.pb"},
                                           TorchCase{"cnn_dynamic.onnx", "cnn_output_0.pb"},
                                           TorchCase{"cnn_static.onnx", "cnn_output_0.pb"}),
                         [](const ::testing::TestParamInfo<TorchCase>& info) {
                           std::string name = info.param.model;
                           return name.substr(0, name.find('.'));
                         });

class TorchExportErrors : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("retort_torch_export_test_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string path(const std::string& name) const { return (dir_ / name).string(); }
  fs::path dir_;
};

TEST_F(TorchExportErrors, UnsupportedOperatorIsNamedWithItsNode) {
  // The torch MLP with a Tan inserted after the first layer, written and read back as a file.
  auto model = load_onnx(kTorchDir + "/mlp_dynamic.onnx");
  ASSERT_TRUE(model.ok()) << model.status().message();
  Graph& g = model->graph;
  auto relu =
      std::find_if(g.nodes.begin(), g.nodes.end(), [](const Node& n) { return n.name == "/Relu"; });
  ASSERT_NE(relu, g.nodes.end());
  const std::string relu_in = relu->inputs[0];
  relu->inputs[0] = "tan_out";
  g.nodes.push_back(Node{"my_tan", "Tan", "", {relu_in}, {"tan_out"}, {}});
  ASSERT_TRUE(g.sort_topologically().ok());
  ASSERT_TRUE(save_onnx(*model, path("tan.onnx")).ok());

  auto loaded = load_onnx(path("tan.onnx"));
  ASSERT_TRUE(loaded.ok()) << loaded.status().message();
  auto plan = engine::Plan::compile(*loaded, batch_of(3));
  ASSERT_FALSE(plan.ok());
  EXPECT_EQ(plan.status().code(), ErrorCode::kUnsupported);
  const std::string& msg = plan.status().message();
  EXPECT_NE(msg.find("my_tan"), std::string::npos) << msg;
  EXPECT_NE(msg.find("Tan"), std::string::npos) << msg;
}

TEST_F(TorchExportErrors, InputShapeThatDoesNotFitTheWeightsNamesTheNode) {
  // Declare the MLP's input as 27 pixels wide: the flattened 756 features no longer fit the
  // first layer's [64, 784] weight.
  auto model = load_onnx(kTorchDir + "/mlp_dynamic.onnx");
  ASSERT_TRUE(model.ok()) << model.status().message();
  model->graph.inputs[0].dims[3] = Dim::fixed(27);
  ASSERT_TRUE(save_onnx(*model, path("narrow.onnx")).ok());

  auto loaded = load_onnx(path("narrow.onnx"));
  Status failure = loaded.status();
  if (loaded.ok()) {
    auto plan = engine::Plan::compile(*loaded, batch_of(3));
    ASSERT_FALSE(plan.ok()) << "a [N, 756] input was accepted by a 784-input layer";
    failure = plan.status();
  }
  EXPECT_NE(failure.message().find("/fc1/Gemm"), std::string::npos) << failure.message();
}

}  // namespace
}  // namespace retort
