// The quantization graph passes: batch-norm folding (exact), what gets quantized and why the
// rest does not, the inserted pairs, and the int8 export form (same outputs, 1 byte a weight).
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "quant/quant_test_support.h"
#include "retort/graph/onnx_io.h"
#include "retort/quant/quantize.h"
#include "support/onnxruntime_runner.h"

namespace retort::quant {
namespace {

using quant_testing::logits;
using quant_testing::max_abs_diff;
using test_support::contains;

int count_ops(const Model& m, const std::string& op) {
  int n = 0;
  for (const Node& node : m.graph.nodes) n += node.op_type == op;
  return n;
}

TEST(QuantBatchNormFolding, IsExactAndRemovesTheNodes) {
  Model m = quant_testing::trained_cnn(/*bn=*/true);
  const data::Dataset& test = test_support::fashion(data::Split::kTest, 64);
  const std::vector<float> before = logits(m, test);
  Model folded = m;  // shallow: folding must not touch the original weights
  folded.graph = m.graph;
  auto r = fold_batch_norms(folded);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->folded.size(), 2u);
  EXPECT_EQ(r->folded[0], "conv1.bn into conv1");
  EXPECT_EQ(count_ops(folded, "BatchNormalization"), 0);
  EXPECT_LT(max_abs_diff(logits(folded, test), before), 2e-5f);
  EXPECT_EQ(max_abs_diff(logits(m, test), before), 0.0f);  // the original is unchanged
}

TEST(QuantPlan, QuantizesConvAndGemmAndSaysWhyOthersStayFloat) {
  Model m = quant_testing::trained_cnn(false);
  QuantizeSpec spec;
  spec.op_types = {"Conv", "Gemm", "Relu"};
  spec.exclude = {"fc2"};
  auto plan = plan_quantization(m, spec);
  ASSERT_TRUE(plan.ok()) << plan.status().message();
  EXPECT_EQ(plan->quantized, (std::vector<std::string>{"conv1", "conv2", "fc1"}));
  bool relu_reported = false, fc2_reported = false;
  for (const SkippedNode& s : plan->skipped) {
    relu_reported |= s.op_type == "Relu" && contains(s.reason, "no int8 path");
    fc2_reported |= s.node == "fc2" && contains(s.reason, "excluded");
  }
  EXPECT_TRUE(relu_reported);
  EXPECT_TRUE(fc2_reported);
  // conv2 reads a MaxPool output: the pool's input shares the pair (ONNX Runtime's convention).
  ASSERT_EQ(plan->activations.size(), 3u);
  EXPECT_EQ(plan->activations[1].upstream.size(), 1u);
  EXPECT_EQ(plan->activations[1].observed, plan->activations[1].upstream[0]);
}

TEST(QuantPlan, BadBitWidthAndUnknownExclusionAreErrors) {
  Model m = quant_testing::trained_cnn(false);
  QuantizeSpec spec;
  spec.weight_bits = 9;
  auto bits = plan_quantization(m, spec);
  ASSERT_FALSE(bits.ok());
  EXPECT_TRUE(
      contains(bits.status().message(), "weight_bits is 9: bit widths must be between 2 and 8"));
  spec.weight_bits = 8;
  spec.exclude = {"conv7"};
  auto excl = plan_quantization(m, spec);
  ASSERT_FALSE(excl.ok());
  EXPECT_TRUE(contains(excl.status().message(), "exclude names node 'conv7'"));
  auto parsed = parse_quantize_options({{"activation_bits", 1}}, "/stages/3/params");
  ASSERT_FALSE(parsed.ok());
  EXPECT_TRUE(contains(parsed.status().message(),
                       "/stages/3/params/activation_bits: 1 bits is outside 2..8"));
}

// PTQ of the small CNN, returned in the training form.
Model ptq(Model m, QuantizeSpec spec = {}) {
  QuantizeOptions o;
  o.mode = QuantMode::kPtq;
  o.spec = spec;
  o.calibration_images = 512;
  auto s = quantize_model(m, test_support::fashion(data::Split::kTrain, 2000), o);
  EXPECT_TRUE(s.ok()) << s.status().message();
  return m;
}

TEST(QuantPtq, EightBitsStaysCloseFourBitsHonoursTheRange) {
  Model fp32 = quant_testing::trained_cnn(true);
  const data::Dataset& test = test_support::fashion(data::Split::kTest, 500);
  auto a32 = engine::evaluate_classifier(fp32, test, 250, false);
  Model q8 = ptq(fp32);
  // 4 weights, 4 activations, and the inputs of the pools and flatten that feed conv2 and fc1.
  EXPECT_EQ(count_ops(q8, "QuantizeLinear"), 4 + 4 + 3);
  auto a8 = engine::evaluate_classifier(q8, test, 250, false);
  ASSERT_TRUE(a32.ok() && a8.ok());
  EXPECT_NEAR(a8->accuracy, a32->accuracy, 0.02);
  // 4-bit weights: every weight code lies in [-7, 7] after export.
  QuantizeSpec w4;
  w4.weight_bits = 4;
  Model q4 = ptq(fp32, w4);
  ASSERT_TRUE(to_int8_weights(q4).ok());
  for (const auto& [name, t] : q4.graph.initializers)
    if (t.dtype() == DType::kInt8 && t.numel() > 1)
      for (int64_t i = 0; i < t.numel(); ++i) {
        ASSERT_GE(t.data<int8_t>()[i], -7) << name;
        ASSERT_LE(t.data<int8_t>()[i], 7) << name;
      }
}

TEST(QuantExport, Int8WeightsGiveTheSameOutputsInAQuarterOfTheBytes) {
  Model q = ptq(quant_testing::trained_cnn(false, 1));
  const data::Dataset& test = test_support::fashion(data::Split::kTest, 64);
  const std::vector<float> sim = logits(q, test);
  auto fp32_bytes = serialize_onnx(q);
  ASSERT_TRUE(fp32_bytes.ok());
  auto converted = to_int8_weights(q);
  ASSERT_TRUE(converted.ok()) << converted.status().message();
  EXPECT_EQ(*converted, 4);
  EXPECT_EQ(count_ops(q, "QuantizeLinear"), 7);  // the activations' only
  EXPECT_LT(max_abs_diff(logits(q, test), sim), 1e-5f);
  // Round trip through ONNX (the checker runs on save): the same graph and outputs.
  auto bytes = serialize_onnx(q);
  ASSERT_TRUE(bytes.ok()) << bytes.status().message();
  EXPECT_LT(static_cast<double>(bytes->size()), 0.35 * static_cast<double>(fp32_bytes->size()));
  auto back = parse_onnx(*bytes, "round trip");
  ASSERT_TRUE(back.ok()) << back.status().message();
  EXPECT_EQ(count_ops(*back, "DequantizeLinear"), count_ops(q, "DequantizeLinear"));
  EXPECT_LT(max_abs_diff(logits(*back, test), sim), 1e-5f);
}

TEST(QuantQat, TrainingMovesTheWeightsAndKeepsTheCodesInRange) {
  Model m = quant_testing::trained_cnn(false);
  QuantizeOptions o;
  o.mode = QuantMode::kQat;
  o.calibration_images = 256;
  o.fine_tune.options.train.epochs = 1;
  o.fine_tune.options.train.batch = 64;
  o.fine_tune.options.train.optimizer.lr = 0.01f;
  const data::Dataset& train = test_support::fashion(data::Split::kTrain, 1000);
  const data::Dataset& test = test_support::fashion(data::Split::kTest, 500);
  auto before = engine::evaluate_classifier(m, test);
  const size_t constants_before =
      m.metadata.count(kConstantsKey) ? nlohmann::json::parse(m.metadata[kConstantsKey]).size() : 0;
  auto s = quantize_model(m, train, o);
  ASSERT_TRUE(s.ok()) << s.status().message();
  ASSERT_TRUE(s->train.has_value());
  EXPECT_EQ(s->train->steps, 1000 / 64);
  EXPECT_EQ(s->freeze_observers_step, (1000 / 64) / 2);
  auto after = engine::evaluate_classifier(m, test, 250, false);
  ASSERT_TRUE(before.ok() && after.ok());
  EXPECT_GT(after->accuracy, before->accuracy - 0.02);
  // The scales are constants of training (not learned) and listed as such.
  const auto constants = nlohmann::json::parse(m.metadata.at(kConstantsKey));
  EXPECT_EQ(constants.size(), constants_before + 4 + 4);
  for (const std::string& p : m.learnable_parameters()) EXPECT_FALSE(contains(p, ".scale")) << p;
}

TEST(QuantCalibration, EmptyCalibrationSetAndQadWithoutTeacherAreErrors) {
  Model m = quant_testing::trained_cnn(false);
  auto plan = plan_quantization(m, {});
  ASSERT_TRUE(plan.ok());
  data::Dataset empty = test_support::fashion(data::Split::kTest, 10);
  auto none = data::slice(empty, 0, 0);
  ASSERT_TRUE(none.ok());
  none->name = "fashion-mnist/train[0:0]";
  const Status s = calibrate_activations(m, *plan, *none, {});
  ASSERT_FALSE(s.ok());
  EXPECT_TRUE(contains(s.message(), "the calibration set 'fashion-mnist/train[0:0]' is empty"));
  QuantizeOptions qad;
  qad.mode = QuantMode::kQad;
  auto r = quantize_model(m, test_support::fashion(data::Split::kTrain, 100), qad);
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(
      contains(r.status().message(), "mode qad distills from a teacher, but none was given"));
}

}  // namespace
}  // namespace retort::quant

namespace retort::quant {
namespace {

TEST(QuantExport, OnnxRuntimeAgreesWithTheInt8EngineAndTheFloatModel) {
  // The float32 model and its int8 export, each run by ONNX Runtime and by retort (the int8 one
  // on the engine's int8 kernels), on 1,000 test images.
  Model fp32 = quant_testing::trained_cnn(true);
  const data::Dataset& test = test_support::fashion(data::Split::kTest, 1000);
  const std::string dir = ::testing::TempDir();
  ASSERT_TRUE(save_onnx(fp32, dir + "/fp32.onnx").ok());
  Model q = ptq(fp32);
  ASSERT_TRUE(to_int8_weights(q).ok());
  ASSERT_TRUE(save_onnx(q, dir + "/int8.onnx").ok());
  const std::string input = fp32.graph.inputs[0].name;
  const auto as_tensor = [&](const std::vector<float>& v) {
    return Tensor::from_vector<float>({test.size(), 10}, v);
  };
  for (const char* which : {"fp32", "int8"}) {
    SCOPED_TRACE(which);
    const bool int8 = std::string(which) == "int8";
    Model& m = int8 ? q : fp32;
    const Tensor ours = as_tensor(logits(m, test, /*lower_int8=*/int8));
    auto ort =
        test_support::run_in_onnxruntime(dir + "/" + which + ".onnx", {{input, test.images}});
    ASSERT_TRUE(ort.ok()) << ort.status().message();
    if (int8) {
      EXPECT_GE(test_support::top1_agreement(ours, (*ort)[0]), 0.99);
    } else {
      EXPECT_LE(test_support::max_abs_difference(ours, (*ort)[0]), 1e-4f);
    }
  }
}

}  // namespace
}  // namespace retort::quant

namespace retort::quant {
namespace {

TEST(QuantBatchNormFolding, FoldsThroughAFakeQuantizedWeightKeepingItsCodes) {
  // QAT form with batch norm still in the graph: folding scales each channel's weights and its
  // symmetric scale by the same |k|, so the codes and the outputs do not change.
  Model m = quant_testing::trained_cnn(/*bn=*/true);
  auto plan = plan_quantization(m, {});
  ASSERT_TRUE(plan.ok());
  ASSERT_TRUE(
      calibrate_activations(m, *plan, test_support::fashion(data::Split::kTrain, 256), {}).ok());
  ASSERT_TRUE(compute_weight_qparams(m, *plan, ObserverKind::kMinMax).ok());
  ASSERT_TRUE(apply_quantization(m, *plan, {}).ok());
  const data::Dataset& test = test_support::fashion(data::Split::kTest, 64);
  const std::vector<float> before = logits(m, test);
  auto r = fold_batch_norms(m);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->folded.size(), 2u);
  EXPECT_EQ(count_ops(m, "BatchNormalization"), 0);
  EXPECT_LT(max_abs_diff(logits(m, test), before), 1e-4f);
}

TEST(QuantQat, BatchNormFoldedDuringTrainingAfterItsEpochs) {
  Model m = quant_testing::trained_cnn(true);
  QuantizeOptions o;
  o.mode = QuantMode::kQat;
  o.fold_batch_norm = BatchNormFold::kDuring;
  o.calibration_images = 256;
  o.fine_tune.options.train.epochs = 2;
  o.fine_tune.options.train.batch = 100;
  o.fine_tune.options.train.optimizer.lr = 0.01f;
  auto s = quantize_model(m, test_support::fashion(data::Split::kTrain, 1000), o);
  ASSERT_TRUE(s.ok()) << s.status().message();
  EXPECT_EQ(s->freeze_bn_epochs, 1);
  EXPECT_EQ(s->folding.folded.size(), 2u);
  EXPECT_EQ(s->train->steps, 2 * 10);
  EXPECT_EQ(count_ops(m, "BatchNormalization"), 0);
  auto acc = engine::evaluate_classifier(m, test_support::fashion(data::Split::kTest, 500));
  ASSERT_TRUE(acc.ok());
  EXPECT_GT(acc->accuracy, 0.7);
  // The observers' freeze step moved down by the first phase's steps (5 of 10 then: 0).
  const auto entries = nlohmann::json::parse(m.metadata.at(kQuantizationKey));
  for (const auto& [name, e] : entries.items())
    if (e.contains("freeze_step")) {
      EXPECT_EQ(e["freeze_step"], 0) << name;
    }
  auto ptq = parse_quantize_options({{"mode", "ptq"}, {"fold_batch_norm", "during"}}, "/params");
  ASSERT_FALSE(ptq.ok());
  EXPECT_TRUE(contains(ptq.status().message(),
                       "/params/fold_batch_norm: \"during\" folds during "
                       "training, but mode ptq does not train"));
}

}  // namespace
}  // namespace retort::quant

namespace retort::quant {
namespace {

TEST(QuantExport, NarrowActivationRangesBecomeClipsSoOnnxRuntimeAgrees) {
  QuantizeSpec a4;
  a4.activation_bits = 4;
  Model q = ptq(quant_testing::trained_cnn(false), a4);
  const data::Dataset& test = test_support::fashion(data::Split::kTest, 1000);
  const std::vector<float> sim = logits(q, test);
  ASSERT_TRUE(to_int8_weights(q).ok());
  EXPECT_EQ(count_ops(q, "Clip"), 7);  // one per activation QuantizeLinear
  EXPECT_LT(max_abs_diff(logits(q, test), sim), 1e-5f);
  const std::string path = ::testing::TempDir() + "/a4.onnx";
  ASSERT_TRUE(save_onnx(q, path).ok());
  auto ort = test_support::run_in_onnxruntime(path, {{q.graph.inputs[0].name, test.images}});
  ASSERT_TRUE(ort.ok()) << ort.status().message();
  EXPECT_GE(
      test_support::top1_agreement(Tensor::from_vector<float>({test.size(), 10}, sim), (*ort)[0]),
      0.99);
}

}  // namespace
}  // namespace retort::quant

namespace retort::quant {
namespace {

TEST(QuantQat, LearnedScalesAreTrainedParameters) {
  // LSQ: the scales are parameters the optimizer moves (no observers), and training still works.
  Model m = quant_testing::trained_cnn(false);
  QuantizeOptions o;
  o.mode = QuantMode::kQat;
  o.learn_scales = true;
  o.calibration_images = 256;
  o.fine_tune.options.train.epochs = 1;
  o.fine_tune.options.train.batch = 64;
  o.fine_tune.options.train.optimizer.lr = 0.01f;
  QuantizeOptions calibrated = o;
  calibrated.mode = QuantMode::kPtq;
  calibrated.learn_scales = false;
  Model start = m;
  start.graph = m.graph;
  ASSERT_TRUE(
      quantize_model(start, test_support::fashion(data::Split::kTrain, 1000), calibrated).ok());
  auto s = quantize_model(m, test_support::fashion(data::Split::kTrain, 1000), o);
  ASSERT_TRUE(s.ok()) << s.status().message();
  int learned = 0, moved = 0;
  for (const std::string& p : m.learnable_parameters()) {
    if (!contains(p, ".scale")) continue;
    ++learned;
    moved += m.graph.initializers.at(p).data<float>()[0] !=
             start.graph.initializers.at(p).data<float>()[0];
  }
  EXPECT_EQ(learned, 8);  // 4 weights, 4 activation chains
  EXPECT_GE(moved, 6);
  const auto entries = nlohmann::json::parse(m.metadata.at(kQuantizationKey));
  for (const auto& [name, e] : entries.items()) {
    EXPECT_FALSE(e.contains("observer")) << name;
    EXPECT_TRUE(e.contains("grad_scale")) << name;
  }
  auto acc = engine::evaluate_classifier(m, test_support::fashion(data::Split::kTest, 500));
  ASSERT_TRUE(acc.ok());
  EXPECT_GT(acc->accuracy, 0.7);
}

}  // namespace
}  // namespace retort::quant
