// Shared by the quantization tests: a model's logits on a slice of Fashion-MNIST, and a CNN
// with batch norm trained for a few steps (so that ranges and statistics are realistic).
#pragma once

#include <algorithm>
#include <vector>

#include "retort/engine/plan.h"
#include "retort/engine/trainer.h"
#include "support/test_support.h"

namespace retort::quant_testing {

inline std::vector<float> logits(Model& model, const data::Dataset& images,
                                 bool lower_int8 = false) {
  engine::PlanOptions po;
  po.batch = images.size();
  po.lower_int8 = lower_int8;
  auto plan = engine::Plan::compile(model, po);
  EXPECT_TRUE(plan.ok()) << plan.status().message();
  if (!plan.ok()) return {};
  std::copy(images.sample(0), images.sample(0) + images.size() * images.sample_numel(),
            (*plan)->input(0).data);
  (*plan)->forward(false);
  const engine::View out = (*plan)->output(0);
  return {out.data, out.data + out.numel()};
}

inline float max_abs_diff(const std::vector<float>& a, const std::vector<float>& b) {
  EXPECT_EQ(a.size(), b.size());
  float worst = 0;
  for (size_t i = 0; i < std::min(a.size(), b.size()); ++i)
    worst = std::max(worst, std::abs(a[i] - b[i]));
  return worst;
}

inline Model trained_cnn(bool bn, int epochs = 1, int64_t images = 2000) {
  Model m = test_support::build(
      {{"arch", "cnn"},
       {"blocks",
        {{{"conv", 8}, {"pool", 2}, {"bn", bn}}, {{"conv", 16}, {"pool", 2}, {"bn", bn}}}},
       {"fc", {32}}},
      3);
  engine::TrainOptions o;
  o.epochs = epochs;
  o.batch = 64;
  o.optimizer.lr = 0.05f;
  o.seed = 1;
  auto t = engine::train_classifier(m, test_support::fashion(data::Split::kTrain, images), o);
  EXPECT_TRUE(t.ok()) << t.status().message();
  return m;
}

}  // namespace retort::quant_testing
