// Exported models mean the same in ONNX Runtime as in retort's engine: each model is saved
// to ONNX, run in ONNX Runtime (onnxruntime-node, tests/ort) and in the engine in inference
// mode on real Fashion-MNIST test images, and the logits are compared.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "retort/engine/plan.h"
#include "retort/engine/trainer.h"
#include "retort/graph/onnx_io.h"
#include "support/onnxruntime_runner.h"
#include "support/test_support.h"

namespace retort {
namespace {

using test_support::contains;
using test_support::fashion;
using test_support::max_abs_difference;
using test_support::run_in_onnxruntime;
using test_support::top1_agreement;

constexpr float kFp32Tolerance = 1e-4f;

// A fresh folder under the system temp folder, removed with its contents at scope end.
class TempDir {
 public:
  TempDir() {
    std::string pattern =
        (std::filesystem::temp_directory_path() / "retort-ort-test-XXXXXX").string();
    EXPECT_NE(::mkdtemp(pattern.data()), nullptr) << pattern;
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  std::string file(const std::string& name) const { return (path_ / name).string(); }

 private:
  std::filesystem::path path_;
};

const std::string kTorchDir = std::string(RETORT_TEST_DATA_DIR) + "/torch";

// Graph output 0 of the engine in inference mode, on `input` (its first dim is the batch).
Expected<Tensor> run_in_retort(Model& model, const Tensor& input, bool lower_int8 = false) {
  engine::PlanOptions options;
  options.batch = input.dim(0);
  options.lower_int8 = lower_int8;
  RETORT_ASSIGN_OR_RETURN(auto plan, engine::Plan::compile(model, options));
  engine::View in = plan->input(0);
  if (in.shape != input.shape()) {
    return make_error(ErrorCode::kInvalidArgument, "plan input ", shape_to_string(in.shape),
                      " vs data ", shape_to_string(input.shape()));
  }
  std::copy(input.span<float>().begin(), input.span<float>().end(), in.data);
  plan->forward(false);
  const engine::View out = plan->output(0);
  Tensor result(DType::kFloat32, out.shape);
  std::copy(out.data, out.data + out.numel(), result.data<float>());
  return result;
}

// ONNX Runtime's output 0 for the model file at `path`, fed `input` as graph input `name`.
Expected<Tensor> run_in_ort(const std::string& path, const std::string& name, const Tensor& input) {
  RETORT_ASSIGN_OR_RETURN(auto outputs, run_in_onnxruntime(path, {{name, input}}));
  if (outputs.empty()) return make_error(ErrorCode::kInternal, "ONNX Runtime gave no output");
  return outputs[0];
}

float max_abs(const Tensor& t) {
  float m = 0.0f;
  for (float v : t.span<float>()) m = std::max(m, std::abs(v));
  return m;
}

// Biases and batch-norm parameters start at 0 / 1 / 0 / 1, which would hide mistakes in how
// they are exported. Give them random values (batch norm as tests/data/torch/README.md: running
// mean in [-0.5, 0.5], variance in [0.5, 2], scale in [0.5, 1.5], bias in [-0.2, 0.2]).
void randomize_biases_and_batch_norm(Model& model, uint64_t seed) {
  std::mt19937_64 rng(seed);
  auto fill = [&](const std::string& name, float lo, float hi) {
    auto it = model.graph.initializers.find(name);
    if (it == model.graph.initializers.end() || it->second.dtype() != DType::kFloat32) return;
    std::uniform_real_distribution<float> dist(lo, hi);
    for (float& v : it->second.span<float>()) v = dist(rng);
  };
  for (const Node& node : model.graph.nodes) {
    if ((node.op_type == "Conv" || node.op_type == "Gemm") && node.has_input(2)) {
      fill(node.inputs[2], -0.2f, 0.2f);
    } else if (node.op_type == "BatchNormalization") {
      fill(node.inputs[1], 0.5f, 1.5f);
      fill(node.inputs[2], -0.2f, 0.2f);
      fill(node.inputs[3], -0.5f, 0.5f);
      fill(node.inputs[4], 0.5f, 2.0f);
    }
  }
}

// Whether every batch norm's running mean differs from 0 and its variance from 1 somewhere
// (true without batch norms), so that inference-mode batch norm really changes its input.
bool batch_norm_statistics_are_nontrivial(const Model& model) {
  for (const Node& node : model.graph.nodes) {
    if (node.op_type != "BatchNormalization") continue;
    const auto mean = model.graph.initializers.at(node.inputs[3]).span<float>();
    const auto var = model.graph.initializers.at(node.inputs[4]).span<float>();
    if (std::all_of(mean.begin(), mean.end(), [](float v) { return v == 0.0f; }) ||
        std::all_of(var.begin(), var.end(), [](float v) { return v == 1.0f; })) {
      return false;
    }
  }
  return true;
}

// ---------------------------------------------------------------------------------------------
// Built-in architectures, exported by retort.

struct ArchCase {
  const char* name;
  const char* spec;   // JSON
  int64_t train = 0;  // > 0: train one epoch on this many images; 0: random biases and BN
};

void PrintTo(const ArchCase& c, std::ostream* os) {
  *os << c.name;
}

class OnnxRuntimeArchitectures : public ::testing::TestWithParam<ArchCase> {};

TEST_P(OnnxRuntimeArchitectures, Fp32LogitsMatchTheEngine) {
  const ArchCase& c = GetParam();
  Model model = test_support::build(nlohmann::json::parse(c.spec), 11);
  ASSERT_FALSE(model.graph.nodes.empty());
  if (c.train > 0) {
    engine::TrainOptions options;
    options.batch = 64;
    options.optimizer.lr = 0.05f;
    options.seed = 3;
    auto summary = engine::train_classifier(model, fashion(data::Split::kTrain, c.train), options);
    ASSERT_TRUE(summary.ok()) << summary.status().message();
    ASSERT_GT(summary->steps, 0);
  } else {
    randomize_biases_and_batch_norm(model, 5);
  }
  ASSERT_TRUE(batch_norm_statistics_are_nontrivial(model)) << c.name;
  TempDir dir;
  const std::string path = dir.file(std::string(c.name) + ".onnx");
  ASSERT_TRUE(save_onnx(model, path).ok());

  const Tensor& images = fashion(data::Split::kTest, 256).images;
  auto ours = run_in_retort(model, images);
  ASSERT_TRUE(ours.ok()) << ours.status().message();
  auto theirs = run_in_ort(path, "input", images);
  ASSERT_TRUE(theirs.ok()) << theirs.status().message();

  ASSERT_EQ(ours->shape(), (Shape{256, 10}));
  ASSERT_EQ(theirs->shape(), ours->shape());
  const float diff = max_abs_difference(*ours, *theirs);
  // Logits of a few units (not all ~0) make the tolerance meaningful.
  EXPECT_GT(max_abs(*ours), 0.5f) << c.name;
  EXPECT_LE(diff, kFp32Tolerance) << c.name << ": largest |logit| " << max_abs(*ours);
  EXPECT_EQ(top1_agreement(*ours, *theirs), 1.0) << c.name;
  std::cout << "[ " << c.name << " ] max |retort - ORT| = " << diff << " (largest |logit| "
            << max_abs(*ours) << ")\n";
}

INSTANTIATE_TEST_SUITE_P(
    OnnxRuntime, OnnxRuntimeArchitectures,
    ::testing::Values(
        ArchCase{"mlp", R"({"arch": "mlp", "hidden": [256, 128]})"},
        ArchCase{"mlp_trained", R"({"arch": "mlp", "hidden": [128, 64]})", 512},
        ArchCase{"lenet_300_100", R"({"arch": "lenet-300-100"})"},
        ArchCase{"cnn", R"({"arch": "cnn"})"},
        ArchCase{"cnn_bn", R"({"arch": "cnn", "blocks": [{"conv": 16, "pool": 2, "bn": true},
                 {"conv": 32, "stride": 2, "pad": "valid", "bn": true}], "fc": [64]})"},
        ArchCase{"cnn_bn_trained", R"({"arch": "cnn", "blocks": [{"conv": 8, "pool": 2,
                 "bn": true}, {"conv": 16, "pool": 2, "bn": true}], "fc": [32]})",
                 512},
        ArchCase{"lenet5", R"({"arch": "lenet5"})"},
        ArchCase{"resnet8", R"({"arch": "resnet", "depth": 8, "width": 8})"},
        ArchCase{"plain_cnn", R"({"arch": "plain-cnn", "depth": 4, "width": 16})"},
        ArchCase{"plain_cnn_no_bn", R"({"arch": "plain-cnn", "depth": 2, "width": 16,
                 "bn": false})"}),
    [](const ::testing::TestParamInfo<ArchCase>& info) { return std::string(info.param.name); });

// ---------------------------------------------------------------------------------------------
// PyTorch exports (tests/data/torch): ORT, the engine and PyTorch's stored outputs agree.

struct TorchCase {
  const char* model;
  const char* reference;  // PyTorch's outputs for input_0.pb
  bool dynamic;           // symbolic batch: also run 256 Fashion-MNIST test images
};

void PrintTo(const TorchCase& c, std::ostream* os) {
  *os << c.model;
}

class OnnxRuntimeTorchModels : public ::testing::TestWithParam<TorchCase> {};

TEST_P(OnnxRuntimeTorchModels, OrtEngineAndPyTorchAgree) {
  const TorchCase& c = GetParam();
  const std::string path = kTorchDir + "/" + c.model;
  auto model = load_onnx(path);
  ASSERT_TRUE(model.ok()) << model.status().message();
  auto input = load_tensor_pb(kTorchDir + "/input_0.pb");
  ASSERT_TRUE(input.ok()) << input.status().message();
  auto reference = load_tensor_pb(kTorchDir + "/" + c.reference);
  ASSERT_TRUE(reference.ok()) << reference.status().message();

  // The harness itself: ORT reproduces PyTorch.
  auto theirs = run_in_ort(path, "input", *input);
  ASSERT_TRUE(theirs.ok()) << theirs.status().message();
  EXPECT_LE(max_abs_difference(*theirs, *reference), kFp32Tolerance);
  auto ours = run_in_retort(*model, *input);
  ASSERT_TRUE(ours.ok()) << ours.status().message();
  EXPECT_LE(max_abs_difference(*ours, *theirs), kFp32Tolerance);
  std::cout << "[ " << c.model << " ] max |retort - ORT| = " << max_abs_difference(*ours, *theirs)
            << ", max |ORT - PyTorch| = " << max_abs_difference(*theirs, *reference) << "\n";

  if (!c.dynamic) return;
  const Tensor& images = fashion(data::Split::kTest, 256).images;
  auto ours_big = run_in_retort(*model, images);
  ASSERT_TRUE(ours_big.ok()) << ours_big.status().message();
  auto theirs_big = run_in_ort(path, "input", images);
  ASSERT_TRUE(theirs_big.ok()) << theirs_big.status().message();
  ASSERT_EQ(ours_big->shape(), (Shape{256, 10}));
  const float diff = max_abs_difference(*ours_big, *theirs_big);
  EXPECT_LE(diff, kFp32Tolerance);
  std::cout << "[ " << c.model << " ] 256 test images: max |retort - ORT| = " << diff << "\n";
}

INSTANTIATE_TEST_SUITE_P(OnnxRuntime, OnnxRuntimeTorchModels,
                         ::testing::Values(TorchCase{"mlp_dynamic.onnx", "mlp_output_0.pb", true},
                                           TorchCase{"mlp_static.onnx", "mlp_output_0.pb", false},
                                           TorchCase{"cnn_dynamic.onnx", "cnn_output_0.pb", true},
                                           TorchCase{"cnn_static.onnx", "cnn_output_0.pb", false}),
                         [](const ::testing::TestParamInfo<TorchCase>& info) {
                           std::string name = info.param.model;
                           return name.substr(0, name.find('.'));
                         });

// ---------------------------------------------------------------------------------------------
// Failures in ONNX Runtime reach the C++ caller with ORT's own message.

TEST(OnnxRuntimeErrors, ModelOrtCannotParseReportsOrtsMessage) {
  TempDir dir;
  const std::string path = dir.file("garbage.onnx");
  std::ofstream(path) << "this is not an ONNX protobuf";
  auto out = run_in_onnxruntime(path, {{"input", Tensor(DType::kFloat32, {1, 1, 28, 28})}});
  ASSERT_FALSE(out.ok());
  EXPECT_EQ(out.status().code(), ErrorCode::kUnsupported);
  EXPECT_TRUE(contains(out.status().message(), "garbage.onnx"));
  EXPECT_TRUE(contains(out.status().message(), "Protobuf parsing failed"));  // ORT's words
}

TEST(OnnxRuntimeErrors, ModelOrtRejectsAtLoadReportsOrtsMessage) {
  // A valid protobuf that passes onnx::checker (save_onnx runs it, without type inference)
  // but adds a float32 input to an int64 initializer: ONNX Runtime's type checking refuses
  // it when the session is created.
  Model model;
  Graph& g = model.graph;
  g.inputs = {ValueInfo{"x", DType::kFloat32, {Dim::fixed(2), Dim::fixed(3)}}};
  g.outputs = {ValueInfo{"y", DType::kFloat32, {Dim::fixed(2), Dim::fixed(3)}}};
  g.initializers["offset"] = Tensor::from_vector<int64_t>({3}, {1, 2, 3});
  g.nodes.push_back(Node{"mixed_add", "Add", "", {"x", "offset"}, {"y"}, {}});
  TempDir dir;
  const std::string path = dir.file("mixed_types.onnx");
  const Status saved = save_onnx(model, path);
  ASSERT_TRUE(saved.ok()) << saved.message();
  auto out = run_in_onnxruntime(path, {{"x", Tensor(DType::kFloat32, {2, 3})}});
  ASSERT_FALSE(out.ok());
  EXPECT_EQ(out.status().code(), ErrorCode::kUnsupported) << out.status().message();
  EXPECT_TRUE(contains(out.status().message(), "mixed_types.onnx"));
  EXPECT_TRUE(contains(out.status().message(), "mixed_add"));  // ORT names the node
  std::cout << "[ message ] " << out.status().message() << "\n";
}

TEST(OnnxRuntimeErrors, RunFailureReportsOrtsMessage) {
  Model model = test_support::build({{"arch", "mlp"}, {"hidden", {16}}}, 1);
  TempDir dir;
  const std::string path = dir.file("mlp.onnx");
  ASSERT_TRUE(save_onnx(model, path).ok());
  auto out = run_in_onnxruntime(path, {{"pixels", Tensor(DType::kFloat32, {2, 1, 28, 28})}});
  ASSERT_FALSE(out.ok());
  EXPECT_EQ(out.status().code(), ErrorCode::kInternal) << out.status().message();
  // ORT's words: the graph input "input" was not fed.
  EXPECT_TRUE(contains(out.status().message(), "input 'input' is missing"));
}

TEST(OnnxRuntimeHelpers, Top1AgreementAndMaxAbsDifference) {
  const Tensor a = Tensor::from_vector<float>({4, 3}, {1, 2, 3, 5, 1, 0, 0, 0, 1, 2, 2, 1});
  const Tensor b = Tensor::from_vector<float>({4, 3}, {0, 0, 9, 1, 5, 0, 0, 0, 2, 1, 3, 0});
  // Rows: 2 vs 2, 0 vs 1, 2 vs 2, 0 (first of a tie) vs 1.
  EXPECT_DOUBLE_EQ(top1_agreement(a, b), 0.5);
  EXPECT_DOUBLE_EQ(top1_agreement(a, a), 1.0);
  EXPECT_TRUE(std::isnan(top1_agreement(a, a.reshaped({2, 6}))));
  EXPECT_TRUE(std::isnan(top1_agreement(a.reshaped({12}), a.reshaped({12}))));
  EXPECT_FLOAT_EQ(max_abs_difference(a, b), 6.0f);
  EXPECT_EQ(max_abs_difference(a, a), 0.0f);
  EXPECT_TRUE(std::isinf(max_abs_difference(a, a.reshaped({3, 4}))));
  Tensor with_nan = a.clone();
  with_nan.data<float>()[4] = std::nanf("");
  EXPECT_TRUE(std::isinf(max_abs_difference(a, with_nan)));
}

// ---------------------------------------------------------------------------------------------
// A hand-built QDQ model: uint8 activations with nonzero zero points, int8 weights with
// per-channel (axis 0) DequantizeLinear, around two Gemms.

Tensor scalar_u8(uint8_t v) {
  return Tensor::from_vector<uint8_t>({}, {v});
}

// Random [rows, cols] float weights quantized per row (symmetric int8, zero point 0).
void add_per_channel_int8_weight(Graph& g, const std::string& name, int64_t rows, int64_t cols,
                                 std::mt19937_64& rng) {
  std::normal_distribution<float> dist(0.0f, std::sqrt(2.0f / static_cast<float>(cols)));
  std::vector<float> w(static_cast<size_t>(rows * cols));
  for (float& v : w) v = dist(rng);
  Tensor codes(DType::kInt8, {rows, cols});
  Tensor scales(DType::kFloat32, {rows});
  for (int64_t r = 0; r < rows; ++r) {
    float m = 0.0f;
    for (int64_t c = 0; c < cols; ++c) m = std::max(m, std::abs(w[r * cols + c]));
    const float s = m / 127.0f;
    scales.data<float>()[r] = s;
    for (int64_t c = 0; c < cols; ++c) {
      codes.data<int8_t>()[r * cols + c] =
          static_cast<int8_t>(std::clamp(std::nearbyint(w[r * cols + c] / s), -127.0f, 127.0f));
    }
  }
  g.initializers[name + ".q"] = codes;
  g.initializers[name + ".scale"] = scales;
  g.initializers[name + ".zero_point"] = Tensor(DType::kInt8, {rows});
  Node dq{name + ".dequantize",
          "DequantizeLinear",
          "",
          {name + ".q", name + ".scale", name + ".zero_point"},
          {name},
          {}};
  dq.attributes["axis"] = Attribute::of_int(0);
  g.nodes.push_back(dq);
}

void add_bias(Graph& g, const std::string& name, int64_t n, std::mt19937_64& rng) {
  std::uniform_real_distribution<float> dist(-0.2f, 0.2f);
  Tensor b(DType::kFloat32, {n});
  for (float& v : b.span<float>()) v = dist(rng);
  g.initializers[name] = b;
}

// input [N,1,28,28] -> Flatten -> Q/DQ (u8, scale 1/250, zero point 5) -> Gemm(784 -> H,
// int8 per-channel weights) -> logits when `hidden` is 0; otherwise -> Relu -> Q/DQ (u8, scale
// 0.04, zero point 7) -> Gemm(H -> 10, int8 per-channel weights) -> logits.
Model qdq_mlp(int64_t hidden, uint64_t seed) {
  std::mt19937_64 rng(seed);
  Model m;
  Graph& g = m.graph;
  g.inputs = {ValueInfo{"input",
                        DType::kFloat32,
                        {Dim::symbolic("batch"), Dim::fixed(1), Dim::fixed(28), Dim::fixed(28)}}};
  g.outputs = {ValueInfo{"logits", DType::kFloat32, {Dim::symbolic("batch"), Dim::fixed(10)}}};
  auto qdq = [&](const std::string& prefix, const std::string& x, float scale, uint8_t zp) {
    g.initializers[prefix + ".scale"] = Tensor::scalar(scale);
    g.initializers[prefix + ".zero_point"] = scalar_u8(zp);
    g.nodes.push_back(Node{prefix + ".quantize",
                           "QuantizeLinear",
                           "",
                           {x, prefix + ".scale", prefix + ".zero_point"},
                           {prefix + ".q"},
                           {}});
    g.nodes.push_back(Node{prefix + ".dequantize",
                           "DequantizeLinear",
                           "",
                           {prefix + ".q", prefix + ".scale", prefix + ".zero_point"},
                           {prefix + ".dq"},
                           {}});
    return prefix + ".dq";
  };
  auto gemm = [&](const std::string& name, const std::string& x, int64_t in, int64_t out,
                  const std::string& y) {
    add_per_channel_int8_weight(g, name + ".weight", out, in, rng);
    add_bias(g, name + ".bias", out, rng);
    Node node{name, "Gemm", "", {x, name + ".weight", name + ".bias"}, {y}, {}};
    node.attributes["transB"] = Attribute::of_int(1);
    g.nodes.push_back(node);
  };
  Node flatten{"flatten", "Flatten", "", {"input"}, {"flat"}, {}};
  flatten.attributes["axis"] = Attribute::of_int(1);
  g.nodes.push_back(flatten);
  // Pixels are k/255; k/255 / (1/250) is never within 0.009 of a rounding tie, so both
  // runtimes quantize the input to the same codes.
  const std::string x1 = qdq("act1", "flat", 1.0f / 250.0f, 5);
  if (hidden == 0) {
    gemm("fc1", x1, 784, 10, "logits");
  } else {
    gemm("fc1", x1, 784, hidden, "fc1.out");
    g.nodes.push_back(Node{"fc1.relu", "Relu", "", {"fc1.out"}, {"fc1.relu"}, {}});
    gemm("fc2", qdq("act2", "fc1.relu", 0.04f, 7), hidden, 10, "logits");
  }
  EXPECT_TRUE(g.sort_topologically().ok());
  return m;
}

// Rows of two [N, C] tensors whose every element agrees within `tolerance`, as a fraction.
double rows_within(const Tensor& a, const Tensor& b, float tolerance) {
  const int64_t rows = a.dim(0), cols = a.dim(1);
  int64_t good = 0;
  for (int64_t i = 0; i < rows; ++i) {
    bool ok = true;
    for (int64_t j = 0; j < cols; ++j) {
      ok = ok &&
           std::abs(a.data<float>()[i * cols + j] - b.data<float>()[i * cols + j]) <= tolerance;
    }
    good += ok ? 1 : 0;
  }
  return static_cast<double>(good) / static_cast<double>(rows);
}

class OnnxRuntimeQdq : public ::testing::Test {
 protected:
  // Saves the model, runs 1000 test images in the engine (float32 fake quantization) and in
  // ONNX Runtime at the given optimisation level ("all" fuses the QDQ patterns into int8
  // kernels, "disabled" runs the reference QuantizeLinear/DequantizeLinear/Gemm).
  void run(Model& model, const std::string& optimization) {
    const std::string path = dir_.file("qdq_" + optimization + ".onnx");
    const Status saved = save_onnx(model, path);
    ASSERT_TRUE(saved.ok()) << saved.message();
    const Tensor& images = fashion(data::Split::kTest, 1000).images;
    test_support::OnnxRuntimeOptions options;
    options.optimization = optimization;
    auto theirs = run_in_onnxruntime(path, {{"input", images}}, options);
    ASSERT_TRUE(theirs.ok()) << theirs.status().message();
    ASSERT_EQ(theirs->size(), 1u);
    ort_ = (*theirs)[0];
    auto ours = run_in_retort(model, images);
    ASSERT_TRUE(ours.ok()) << ours.status().message();
    ours_ = *ours;
    ASSERT_EQ(ours_.shape(), (Shape{1000, 10}));
    ASSERT_EQ(ort_.shape(), ours_.shape());
    EXPECT_GT(max_abs(ours_), 0.5f);
  }
  TempDir dir_;
  Tensor ours_, ort_;
};

TEST_F(OnnxRuntimeQdq, PerChannelInt8GemmMatchesTheEngine) {
  // One quantized Gemm: the input codes are the same on both sides (no rounding ties), the
  // weights are exact int8 codes times per-channel scales, so the logits agree to float32
  // accuracy, whether ORT runs the QDQ nodes as written or fused into an int8 Gemm.
  Model model = qdq_mlp(0, 21);
  for (const char* level : {"disabled", "all"}) {
    SCOPED_TRACE(level);
    ASSERT_NO_FATAL_FAILURE(run(model, level));
    const float diff = max_abs_difference(ours_, ort_);
    EXPECT_LE(diff, kFp32Tolerance);
    EXPECT_EQ(top1_agreement(ours_, ort_), 1.0);
    std::cout << "[ qdq gemm, ORT optimization " << level << " ] max |retort - ORT| = " << diff
              << "\n";
  }
}

TEST_F(OnnxRuntimeQdq, TwoLayerInt8MlpTop1AgreesWithTheEngine) {
  // With a requantized hidden layer, a hidden value within float rounding of a .5 code tie
  // may get neighbouring codes in the two runtimes (their Gemms sum in different orders):
  // that moves a few logits by about one code step times a weight. Everything else agrees to
  // float32 accuracy, and the top-1 class on at least 99% of the images.
  Model model = qdq_mlp(64, 22);
  for (const char* level : {"disabled", "all"}) {
    SCOPED_TRACE(level);
    ASSERT_NO_FATAL_FAILURE(run(model, level));
    const double agreement = top1_agreement(ours_, ort_);
    const double exact_rows = rows_within(ours_, ort_, kFp32Tolerance);
    EXPECT_GE(agreement, 0.99);
    EXPECT_GE(exact_rows, 0.99);
    EXPECT_LE(max_abs_difference(ours_, ort_), 0.1f);
    std::cout << "[ qdq mlp, ORT optimization " << level << " ] top-1 agreement " << agreement
              << ", rows within 1e-4 " << exact_rows
              << ", max |retort - ORT| = " << max_abs_difference(ours_, ort_) << "\n";
  }
}

TEST_F(OnnxRuntimeQdq, LoweredInt8EngineTop1AgreesWithOrt) {
  // PlanOptions::lower_int8 runs the QDQ patterns on oneDNN int8 primitives.
  for (int64_t hidden : {0, 64}) {
    SCOPED_TRACE(hidden);
    Model model = qdq_mlp(hidden, 21 + hidden);
    ASSERT_NO_FATAL_FAILURE(run(model, "all"));
    auto lowered = run_in_retort(model, fashion(data::Split::kTest, 1000).images, true);
    ASSERT_TRUE(lowered.ok()) << lowered.status().message();
    const double agreement = top1_agreement(*lowered, ort_);
    EXPECT_GE(agreement, 0.99);
    std::cout << "[ qdq hidden " << hidden << ", retort lower_int8 ] top-1 agreement with ORT "
              << agreement << ", max |retort - ORT| = " << max_abs_difference(*lowered, ort_)
              << ", rows within 1e-4 " << rows_within(*lowered, ort_, kFp32Tolerance) << "\n";
  }
}

}  // namespace
}  // namespace retort
