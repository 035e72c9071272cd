// Pruned models export with exactly their zeros, compute the same outputs after the round trip,
// and keep their accuracy after fine-tuning.
#include "retort/prune/pruning.h"

#include <gtest/gtest.h>

#include <unistd.h>

#include <cmath>
#include <cstring>
#include <filesystem>

#include "prune/prune_test_support.h"
#include "retort/engine/plan.h"
#include "retort/graph/onnx_io.h"
#include "retort/prune/nm_pattern.h"
#include "retort/prune/sparsity_report.h"

namespace retort::prune {
namespace {

using testing::build;
using testing::contains;
using testing::fashion;

FineTune quick(int epochs) {
  FineTune ft;
  ft.options.train.epochs = epochs;
  ft.options.train.batch = 64;
  ft.options.train.seed = 3;
  ft.options.train.optimizer.lr = 0.05f;
  ft.options.train.optimizer.momentum = 0.9f;
  return ft;
}

std::vector<float> logits_of(Model& model, const data::Dataset& set, int64_t batch) {
  engine::PlanOptions po;
  po.batch = batch;
  auto plan = engine::Plan::compile(model, po);
  EXPECT_TRUE(plan.ok()) << plan.status().message();
  if (!plan.ok()) return {};
  engine::View in = (*plan)->input(0);
  std::memcpy(in.data, set.images.data<float>(),
              static_cast<size_t>(batch * set.sample_numel()) * sizeof(float));
  (*plan)->forward(false);
  engine::View out = (*plan)->output(0);
  return std::vector<float>(out.data, out.data + shape_numel(out.shape));
}

TEST(PruneExport, SavedModelHasExactlyTheZerosAndTheSameOutputs) {
  Model model = build({{"arch", "cnn"},
                       {"blocks", {{{"conv", 8}, {"pool", 2}}, {{"conv", 8}, {"pool", 2}}}},
                       {"fc", {32}}},
                      2);
  PruneConfig config;
  config.method = Method::kNm;
  auto s = prune_and_fine_tune(model, config, fashion(data::Split::kTrain, 512), quick(1));
  ASSERT_TRUE(s.ok()) << s.status().message();
  EXPECT_EQ(s->skipped, std::vector<std::string>{"conv1"});  // 1 input channel: no 2:4 groups
  EXPECT_EQ(layer_names(s->layers), "conv2, fc1, fc2");
  for (const PrunableLayer& l : s->layers)
    EXPECT_TRUE(satisfies_nm(l, model.graph.initializers.at(l.weight).data<float>(), {2, 4}))
        << l.node;

  const auto path = std::filesystem::temp_directory_path() /
                    ("retort_prune_export_" + std::to_string(::getpid()) + ".onnx");
  ASSERT_TRUE(save_onnx(model, path.string()).ok());
  auto loaded = load_onnx(path.string());
  std::filesystem::remove(path);
  ASSERT_TRUE(loaded.ok()) << loaded.status().message();
  for (const auto& [name, t] : model.graph.initializers) {
    const Tensor& u = loaded->graph.initializers.at(name);
    ASSERT_EQ(u.numel(), t.numel()) << name;
    int64_t zeros_mem = 0, zeros_file = 0;
    for (int64_t i = 0; i < t.numel(); ++i) {
      zeros_mem += t.data<float>()[i] == 0.0f ? 1 : 0;
      zeros_file += u.data<float>()[i] == 0.0f ? 1 : 0;
      ASSERT_EQ(t.data<float>()[i] == 0.0f, u.data<float>()[i] == 0.0f) << name << " " << i;
    }
    EXPECT_EQ(zeros_mem, zeros_file) << name;
  }
  auto report = measure_sparsity(*loaded);
  ASSERT_TRUE(report.ok());
  for (const LayerSparsity& l : report->layers)
    EXPECT_NEAR(l.sparsity, l.node == "conv1" ? 0.0 : 0.5, 1e-9) << l.node;
  // conv1 stays dense; the others do half their MACs.
  ASSERT_EQ(report->layers.size(), 4u);
  EXPECT_EQ(report->nonzero_macs,
            report->macs -
                (report->layers[1].macs + report->layers[2].macs + report->layers[3].macs) / 2);
  const data::Dataset& test = fashion(data::Split::kTest, 16);
  EXPECT_EQ(logits_of(model, test, 16), logits_of(*loaded, test, 16));
}

TEST(PruneEndToEnd, MagnitudePrunedMlpKeepsItsAccuracy) {
  Model model = build({{"arch", "mlp"}, {"hidden", {128}}}, 4);
  const data::Dataset& train = fashion(data::Split::kTrain, 4096);
  const data::Dataset& test = fashion(data::Split::kTest, 1000);
  auto dense = engine::train_classifier(model, train, quick(3).options.train);
  ASSERT_TRUE(dense.ok());
  auto before = engine::evaluate_classifier(model, test);
  ASSERT_TRUE(before.ok());
  PruneConfig config;
  config.magnitude.sparsity = 0.85f;
  config.schedule = ScheduleKind::kIterative;
  config.rounds = 2;
  auto s = prune_and_fine_tune(model, config, train, quick(1));
  ASSERT_TRUE(s.ok()) << s.status().message();
  ASSERT_EQ(s->rounds.size(), 2u);
  EXPECT_NEAR(s->rounds[0].sparsity, 1 - std::sqrt(0.15), 1e-3);
  EXPECT_NEAR(s->rounds[1].sparsity, 0.85, 1e-3);
  auto after = engine::evaluate_classifier(model, test);
  ASSERT_TRUE(after.ok());
  EXPECT_GT(before->accuracy, 0.75);
  EXPECT_GT(after->accuracy, before->accuracy - 0.03)
      << "dense " << before->accuracy << " pruned " << after->accuracy;
}

TEST(PruneEndToEnd, UnknownLayerListsTheExistingOnes) {
  Model model = build({{"arch", "lenet-300-100"}}, 1);
  PruneConfig config;
  config.layers = {"fc1", "dense2"};
  auto s = prune_and_fine_tune(model, config, fashion(data::Split::kTrain, 256), quick(1));
  ASSERT_FALSE(s.ok());
  EXPECT_TRUE(contains(s.status().message(),
                       "/params/layers: no prunable layer named 'dense2'; the prunable layers "
                       "are: fc1, fc2, fc3"));
}

}  // namespace
}  // namespace retort::prune
