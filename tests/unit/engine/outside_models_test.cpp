// Models from outside (tests/data/torch/make_outside_models.py): PyTorch exports with a fixed
// batch run at any batch with PyTorch's predictions, and training a PyTorch export keeps its
// Constant-node normalisation fixed and matches PyTorch's own SGD steps.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <set>
#include <string>

#include "nlohmann/json.hpp"
#include "retort/data/fashion_mnist.h"
#include "retort/engine/loss.h"
#include "retort/engine/optimizer.h"
#include "retort/engine/plan.h"
#include "retort/engine/trainer.h"
#include "retort/graph/fold_constants.h"
#include "retort/graph/onnx_io.h"

namespace retort {
namespace {

const std::string kTorchDir = std::string(RETORT_TEST_DATA_DIR) + "/torch";

nlohmann::json expected_results() {
  std::ifstream in(kTorchDir + "/outside_expected.json");
  return nlohmann::json::parse(in);
}

data::Dataset first_images(data::Split split, int64_t count) {
  auto all = data::load_fashion_mnist(split, RETORT_FASHION_MNIST_DIR);
  EXPECT_TRUE(all.ok()) << all.status().message();
  auto part = data::slice(*all, 0, count);
  EXPECT_TRUE(part.ok()) << part.status().message();
  return std::move(part).value();
}

class FixedBatchExport : public ::testing::TestWithParam<const char*> {};

TEST_P(FixedBatchExport, RunsAtBatch128WithPyTorchsPredictions) {
  const std::string name = GetParam();
  auto model = load_onnx(kTorchDir + "/" + name);
  ASSERT_TRUE(model.ok()) << model.status().message();
  // Exported for batch 1; the loader freed the batch.
  EXPECT_FALSE(model->graph.fixed_batch().has_value());
  EXPECT_EQ(model->graph.inputs[0].dims[0].param, "batch");
  EXPECT_EQ(model->graph.outputs[0].dims[0].param, "batch");

  const nlohmann::json expected = expected_results()[name];
  const data::Dataset test = first_images(data::Split::kTest, 1000);
  auto eval = engine::evaluate_classifier(*model, test, /*batch=*/128);
  ASSERT_TRUE(eval.ok()) << eval.status().message();
  EXPECT_EQ(eval->count, 1000);
  EXPECT_NEAR(eval->accuracy, expected["accuracy"].get<double>(), 1.0 / 1000 + 1e-9)
      << "PyTorch's accuracy on the same 1000 images";

  // Image by image: the arg-max of retort's logits at batch 128 is PyTorch's prediction.
  engine::PlanOptions po;
  po.batch = 128;
  auto plan = engine::Plan::compile(*model, po);
  ASSERT_TRUE(plan.ok()) << plan.status().message();
  const auto predictions = expected["predictions"].get<std::vector<int>>();
  int agree = 0;
  for (int64_t first = 0; first + 128 <= 1000; first += 128) {
    std::copy(test.sample(first), test.sample(first + 128), (*plan)->input(0).data);
    (*plan)->forward(false);
    const engine::View out = (*plan)->output(0);
    ASSERT_EQ(out.shape, (Shape{128, 10}));
    for (int64_t i = 0; i < 128; ++i) {
      const float* row = out.data + i * 10;
      agree += (std::max_element(row, row + 10) - row) == predictions[first + i] ? 1 : 0;
    }
  }
  EXPECT_GE(agree, 7 * 128 - 1) << "of 896 images, the predictions that equal PyTorch's";
}

INSTANTIATE_TEST_SUITE_P(TorchBatch1, FixedBatchExport,
                         ::testing::Values("mlp_batch1.onnx", "cnn_batch1.onnx"),
                         [](const auto& info) {
                           std::string n = info.param;
                           return n.substr(0, n.find('.'));
                         });

// ---- the batch rewrite on hand-built graphs ----------------------------------------------

ValueInfo input_of(Shape shape) {
  ValueInfo vi{"x", DType::kFloat32, {}};
  for (int64_t d : shape) vi.dims.push_back(Dim::fixed(d));
  return vi;
}

ValueInfo output_of(const std::string& name, Shape shape) {
  ValueInfo vi = input_of(std::move(shape));
  vi.name = name;
  return vi;
}

Tensor ints(std::vector<int64_t> v) {
  return Tensor::from_vector<int64_t>({static_cast<int64_t>(v.size())}, v);
}

Tensor floats(Shape shape, float value) {
  Tensor t(DType::kFloat32, std::move(shape));
  std::fill(t.data<float>(), t.data<float>() + t.numel(), value);
  return t;
}

// x [B, 1, 28, 28] -> Reshape(shape) -> Gemm(w [784, 10]) -> y [B, 10]
Model reshape_then_gemm(int64_t batch, std::vector<int64_t> shape) {
  Model m;
  m.graph.inputs = {input_of({batch, 1, 28, 28})};
  m.graph.initializers["shape"] = ints(std::move(shape));
  m.graph.initializers["w"] = floats({784, 10}, 0.01f);
  m.graph.nodes = {Node{"flat", "Reshape", "", {"x", "shape"}, {"f"}, {}},
                   Node{"fc", "Gemm", "", {"f", "w"}, {"y"}, {}}};
  m.graph.outputs = {output_of("y", {batch, 10})};
  return m;
}

Expected<Model> round_trip(const Model& m) {
  RETORT_ASSIGN_OR_RETURN(std::string bytes, serialize_onnx(m));
  return parse_onnx(bytes, "memory");
}

TEST(FixedBatchRewrite, ReshapeToTheBatchBecomesMinusOne) {
  for (int64_t batch : {1, 3}) {
    SCOPED_TRACE(batch);
    auto m = round_trip(reshape_then_gemm(batch, {batch, 784}));
    ASSERT_TRUE(m.ok()) << m.status().message();
    EXPECT_FALSE(m->graph.fixed_batch().has_value());
    const Node& reshape = m->graph.nodes[0];
    EXPECT_EQ(m->graph.initializers.at(reshape.inputs[1]).to_int64_vector(),
              (std::vector<int64_t>{-1, 784}));
    engine::PlanOptions po;
    po.batch = 5;
    auto plan = engine::Plan::compile(*m, po);
    ASSERT_TRUE(plan.ok()) << plan.status().message();
    std::fill((*plan)->input(0).data, (*plan)->input(0).data + 5 * 784, 1.0f);
    (*plan)->forward(false);
    ASSERT_EQ((*plan)->output(0).shape, (Shape{5, 10}));
    for (float v : (*plan)->output(0).span()) EXPECT_NEAR(v, 7.84f, 1e-4f);
  }
}

TEST(FixedBatchRewrite, BatchInTheSecondAxisKeepsItsAxis) {
  // nn.MultiheadAttention's layout: x [L=4, B=1, 6] -> Reshape [4, 1*2, 3] -> Reshape [4, 6].
  // x [B=1, L=4, 6] is transposed to [L, B, 6] inside the graph, as PyTorch does for
  // batch_first=False, split into 2 heads of 3 and merged back.
  Model m;
  m.graph.inputs = {input_of({1, 4, 6})};
  m.graph.initializers["heads"] = ints({4, 2, 3});
  Node t{"t", "Transpose", "", {"x"}, {"xt"}, {}};
  t.attributes["perm"] = Attribute::of_ints({1, 0, 2});
  Node t2{"t2", "Transpose", "", {"back_out"}, {"y"}, {}};
  t2.attributes["perm"] = Attribute::of_ints({1, 0, 2});
  m.graph.initializers["back3"] = ints({4, 1, 6});
  m.graph.nodes = {t, Node{"split", "Reshape", "", {"xt", "heads"}, {"h"}, {}},
                   Node{"merge", "Reshape", "", {"h", "back3"}, {"back_out"}, {}}, t2};
  m.graph.outputs = {output_of("y", {1, 4, 6})};
  auto loaded = round_trip(m);
  ASSERT_TRUE(loaded.ok()) << loaded.status().message();
  EXPECT_FALSE(loaded->graph.fixed_batch().has_value()) << analyze_fixed_batch(m).conflict;
  std::map<std::string, std::vector<int64_t>> shapes;
  for (const Node& n : loaded->graph.nodes)
    if (n.op_type == "Reshape")
      shapes[n.name] = loaded->graph.initializers.at(n.inputs[1]).to_int64_vector();
  EXPECT_EQ(shapes["split"], (std::vector<int64_t>{4, -1, 3}));
  EXPECT_EQ(shapes["merge"], (std::vector<int64_t>{4, -1, 6}));
}

TEST(FixedBatchRewrite, BatchMixedIntoFeaturesStaysFixed) {
  // x.view(1, -1) at batch 3: all three images become one row; no batch-free equivalent.
  Model m = reshape_then_gemm(3, {1, 3 * 784});
  m.graph.initializers["w"] = floats({3 * 784, 10}, 0.01f);
  m.graph.outputs = {output_of("y", {1, 10})};
  const FixedBatch fixed = analyze_fixed_batch(m);
  EXPECT_EQ(fixed.batch, 3);
  EXPECT_NE(fixed.conflict.find("node 'fc' (Gemm) contracts a batch-sized axis with a fixed size "
                                "of 2352"),
            std::string::npos)
      << fixed.conflict;
  auto loaded = round_trip(m);
  ASSERT_TRUE(loaded.ok()) << loaded.status().message();
  EXPECT_EQ(loaded->graph.fixed_batch(), 3);
}

// x [2, 1, 28, 28] -> Flatten -> Add(a constant [2, 784]) -> Gemm -> y [2, 10]: the added
// constant has the batch's size, so the model runs only at batch 2.
Model batch_sized_constant() {
  Model m;
  m.graph.inputs = {input_of({2, 1, 28, 28})};
  m.graph.initializers["offset"] = floats({2, 784}, 0.0f);
  m.graph.initializers["offset"].data<float>()[784] = 100.0f;  // the second image's first pixel
  Tensor w = floats({784, 10}, 0.0f);
  w.data<float>()[3] = 1.0f;  // logit 3 = the first pixel: big for the second row of a batch
  m.graph.initializers["w"] = w;
  Node flat{"flat", "Flatten", "", {"x"}, {"f"}, {}};
  m.graph.nodes = {flat, Node{"shift", "Add", "", {"f", "offset"}, {"g"}, {}},
                   Node{"fc", "Gemm", "", {"g", "w"}, {"y"}, {}}};
  m.graph.outputs = {output_of("y", {2, 10})};
  return m;
}

TEST(FixedBatchRewrite, BatchSizedConstantKeepsTheBatchAndSaysWhy) {
  auto m = round_trip(batch_sized_constant());
  ASSERT_TRUE(m.ok()) << m.status().message();
  EXPECT_EQ(m->graph.fixed_batch(), 2);
  const FixedBatch fixed = analyze_fixed_batch(*m);
  EXPECT_NE(fixed.conflict.find("node 'shift' (Add) combines a batch-sized value with a fixed "
                                "size of 2"),
            std::string::npos)
      << fixed.conflict;

  EXPECT_EQ(engine::runnable_batch(*m, 128), 2);
  Status fed = engine::check_fixed_batch(*m, 128);
  ASSERT_FALSE(fed.ok());
  EXPECT_NE(fed.message().find("model input 'x' has a fixed batch of 2"), std::string::npos)
      << fed.message();
  EXPECT_NE(fed.message().find("dynamic_axes"), std::string::npos) << fed.message();

  // Evaluation runs it at its own batch (5 images: two full batches and a partial one), and
  // the second image of each batch is the one the constant shifts to class 3.
  data::Dataset test = first_images(data::Split::kTest, 5);
  std::fill(test.labels.begin(), test.labels.end(), 0);
  test.labels[1] = 3;
  test.labels[3] = 3;
  auto eval = engine::evaluate_classifier(*m, test, /*batch=*/128);
  ASSERT_TRUE(eval.ok()) << eval.status().message();
  EXPECT_EQ(eval->count, 5);
  EXPECT_EQ(eval->per_class_accuracy[3], 1.0);

  // Training feeds batches of 128: refused before any compute, saying how to fix it.
  const data::Dataset train = first_images(data::Split::kTrain, 10);
  Status fits = engine::check_classifier_fits(*m, train, 128);
  ASSERT_FALSE(fits.ok());
  EXPECT_NE(fits.message().find("fixed batch of 2 but batches of 128"), std::string::npos)
      << fits.message();
  EXPECT_NE(fits.message().find("set the stage's \"batch\" to 2"), std::string::npos)
      << fits.message();
  EXPECT_TRUE(engine::check_classifier_fits(*m, train, 2).ok());
}

// ---- the trainable set of PyTorch exports --------------------------------------------------

TEST(OutsideTrainableSet, ConstantNodesAndBuffersAreNotParameters) {
  const nlohmann::json expected = expected_results();
  {
    auto m = load_onnx(kTorchDir + "/mlp_norm.onnx");
    ASSERT_TRUE(m.ok()) << m.status().message();
    EXPECT_EQ(m->learnable_parameters(),
              (std::vector<std::string>{"fc1.bias", "fc1.weight", "fc2.bias", "fc2.weight"}));
    EXPECT_EQ(m->parameter_count(), expected["mlp_norm.onnx"]["parameters"].get<int64_t>());
  }
  {
    // Sub/Div by registered buffers; a Linear on a 3-D tensor exports as MatMul + Add.
    auto m = load_onnx(kTorchDir + "/cnn_buffers.onnx");
    ASSERT_TRUE(m.ok()) << m.status().message();
    const auto learnable = m->learnable_parameters();
    const std::set<std::string> names(learnable.begin(), learnable.end());
    EXPECT_FALSE(names.count("mean"));
    EXPECT_FALSE(names.count("std"));
    EXPECT_TRUE(names.count("mix.bias"));
    EXPECT_EQ(m->parameter_count(), expected["cnn_buffers.onnx"]["parameters"].get<int64_t>());
  }
}

// 3 SGD steps (lr 0.1, momentum 0.9) on the first 96 training images in batches of 32, as
// make_outside_models.py ran them in PyTorch.
TEST(OutsideTrainableSet, ThreeStepsMatchPyTorchs) {
  const data::Dataset train = first_images(data::Split::kTrain, 96);
  for (const std::string stem : {"mlp_norm", "cnn_buffers"}) {
    SCOPED_TRACE(stem);
    auto model = load_onnx(kTorchDir + "/" + stem + ".onnx");
    ASSERT_TRUE(model.ok()) << model.status().message();
    auto after = load_onnx(kTorchDir + "/" + stem + "_step3.onnx");
    ASSERT_TRUE(after.ok()) << after.status().message();
    std::map<std::string, Tensor> before;
    for (const auto& [name, t] : model->graph.initializers) before[name] = t.clone();

    engine::PlanOptions po;
    po.batch = 32;
    po.backward = true;
    auto plan = engine::Plan::compile(*model, po);
    ASSERT_TRUE(plan.ok()) << plan.status().message();
    engine::OptimizerConfig sgd;
    sgd.lr = 0.1f;
    sgd.momentum = 0.9f;
    auto optimizer = engine::Optimizer::create(sgd, (*plan)->parameters());
    ASSERT_TRUE(optimizer.ok()) << optimizer.status().message();
    for (int step = 0; step < 3; ++step) {
      std::copy(train.sample(32 * step), train.sample(32 * step + 32), (*plan)->input(0).data);
      (*plan)->forward(true);
      engine::View grad = (*plan)->output_grad(0);
      engine::cross_entropy((*plan)->output(0), train.labels.data() + 32 * step, 32, 0.0f, &grad);
      (*optimizer)->backward_and_step(**plan, 0.1f);
    }

    int compared = 0;
    for (const auto& [name, t] : model->graph.initializers) {
      if (t.dtype() != DType::kFloat32) continue;
      auto theirs = after->graph.initializers.find(name);
      ASSERT_NE(theirs, after->graph.initializers.end()) << name;
      float largest = 0, diff = 0;
      for (int64_t i = 0; i < t.numel(); ++i) {
        largest = std::max(largest, std::abs(theirs->second.data<float>()[i]));
        diff = std::max(diff, std::abs(t.data<float>()[i] - theirs->second.data<float>()[i]));
      }
      EXPECT_LE(diff, 1e-5f * std::max(1.0f, largest)) << name << " after 3 steps";
      ++compared;
    }
    EXPECT_GE(compared, 4);
    // The normalisation constants did not move.
    for (const auto& [name, t] : model->graph.initializers) {
      if (t.dtype() != DType::kFloat32 || !model->listed(kConstantsKey).count(name)) continue;
      for (int64_t i = 0; i < t.numel(); ++i)
        EXPECT_EQ(t.data<float>()[i], before[name].data<float>()[i]) << name;
    }
  }
}

TEST(OutsideTrainableSet, RecipeOverridesByNamePattern) {
  auto m = load_onnx(kTorchDir + "/cnn_buffers.onnx");
  ASSERT_TRUE(m.ok()) << m.status().message();
  // Train the buffers (a user who wants a learned normalisation), freeze the conv.
  ASSERT_TRUE(override_trainable(*m, {"mean", "s?d"}, {"conv.*"}, "/params").ok());
  const auto learnable = m->learnable_parameters();
  const std::set<std::string> names(learnable.begin(), learnable.end());
  EXPECT_TRUE(names.count("mean"));
  EXPECT_TRUE(names.count("std"));
  EXPECT_FALSE(names.count("conv.weight"));
  EXPECT_FALSE(names.count("conv.bias"));
  EXPECT_TRUE(names.count("fc.weight"));
  // Frozen wins over trainable.
  ASSERT_TRUE(override_trainable(*m, {"fc.weight"}, {"fc.*"}, "/params").ok());
  const auto after = m->learnable_parameters();
  EXPECT_EQ(std::count(after.begin(), after.end(), "fc.weight"), 0);

  Status typo = override_trainable(*m, {}, {"cnov.*"}, "/stages/0/params");
  ASSERT_FALSE(typo.ok());
  EXPECT_NE(typo.message().find("/stages/0/params/frozen/0: pattern 'cnov.*' matches no float "
                                "initializer"),
            std::string::npos)
      << typo.message();
  EXPECT_NE(typo.message().find("'conv.weight'"), std::string::npos) << typo.message();
}

TEST(OutsideTrainableSet, ConstantNodesThatAreWeightsStayTrainable) {
  // A Gemm whose weight is a Constant node (some exporters write weights so): trained.
  Model m;
  m.graph.inputs = {input_of({1, 4})};
  m.graph.inputs[0].dims[0] = Dim::symbolic("N");
  Node w{"w", "Constant", "", {}, {"w_value"}, {}};
  w.attributes["value"] = Attribute::of_tensor(floats({4, 2}, 0.5f));
  Node half{"half", "Constant", "", {}, {"half_value"}, {}};
  half.attributes["value"] = Attribute::of_tensor(Tensor::scalar(0.5f));
  m.graph.nodes = {w, half, Node{"fc", "Gemm", "", {"x", "w_value"}, {"h"}, {}},
                   Node{"scale", "Mul", "", {"h", "half_value"}, {"y"}, {}}};
  m.graph.outputs = {output_of("y", {1, 2})};
  m.graph.outputs[0].dims[0] = Dim::symbolic("N");
  auto loaded = round_trip(m);
  ASSERT_TRUE(loaded.ok()) << loaded.status().message();
  EXPECT_EQ(loaded->learnable_parameters(), (std::vector<std::string>{"w_value"}));
  EXPECT_TRUE(loaded->listed(kConstantsKey).count("half_value"));
}

}  // namespace
}  // namespace retort
