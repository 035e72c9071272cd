#include <gtest/gtest.h>

#include <algorithm>

#include "arch/arch_test_util.h"
#include "retort/engine/plan.h"

namespace retort {
namespace {

using Strings = std::vector<std::string>;

TEST(LearnableParameters, ConstantsByOpAndByMetadataAreExcluded) {
  Model m = arch::testing::build_or_fail(
      {{"arch", "cnn"}, {"blocks", {{{"conv", 4}, {"bn", true}}}}, {"fc", {8}}, {"dropout", 0.5}});
  // Not: normalize.mean/std (metadata), conv1.bn.mean/var (BN inputs 3, 4), fc1.dropout.ratio.
  EXPECT_EQ(m.learnable_parameters(),
            (Strings{"conv1.bn.bias", "conv1.bn.scale", "conv1.weight", "fc1.bias", "fc1.weight",
                     "fc2.bias", "fc2.weight"}));
  // The normalisation is Sub and Div operands: constants by their role, listed or not.
  m.metadata.erase(kConstantsKey);
  EXPECT_EQ(m.learnable_parameters().size(), 7u);
}

TEST(LearnableParameters, CountMatchesTheCountByNameForEveryArchitecture) {
  for (const std::string& arch : arch::known_architectures()) {
    Model m = arch::testing::build_or_fail({{"arch", arch}});
    EXPECT_EQ(m.parameter_count(), arch::testing::learnable_parameters(m)) << arch;
  }
}

TEST(LearnableParameters, DefaultTrainingPlanTrainsExactlyThem) {
  Model m = arch::testing::build_or_fail(
      {{"arch", "resnet"}, {"depth", 8}, {"width", 4}, {"input", {1, 8, 8}}});
  engine::PlanOptions options;
  options.batch = 2;
  options.backward = true;
  auto plan = engine::Plan::compile(m, options);
  ASSERT_TRUE(plan.ok()) << plan.status().message();
  Strings names;
  for (const engine::Parameter& p : (*plan)->parameters()) names.push_back(p.name);
  std::sort(names.begin(), names.end());
  EXPECT_EQ(names, m.learnable_parameters());
}

}  // namespace
}  // namespace retort
