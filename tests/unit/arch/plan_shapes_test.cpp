// Every built-in architecture compiles into an engine plan and produces [batch, classes] logits.
#include <gtest/gtest.h>

#include <cmath>

#include "arch/arch_test_util.h"
#include "retort/arch/build_model.h"
#include "retort/engine/plan.h"

namespace retort::arch {
namespace {

using nlohmann::json;

struct Case {
  const char* name;
  json spec;
  Shape logits;
};

void PrintTo(const Case& c, std::ostream* os) {
  *os << c.spec.dump();
}

class ArchPlan : public ::testing::TestWithParam<Case> {};

TEST_P(ArchPlan, ForwardGivesBatchByClassesLogits) {
  Model model = testing::build_or_fail(GetParam().spec, 1);
  engine::PlanOptions options;
  options.batch = 2;
  auto plan = engine::Plan::compile(model, options);
  ASSERT_TRUE(plan.ok()) << plan.status().message();
  engine::View input = (*plan)->input(0);
  ASSERT_TRUE(input);
  for (size_t i = 0; i < input.span().size(); ++i)
    input.data[i] = static_cast<float>(i % 97) / 96.0f;  // raw pixels in [0, 1]
  (*plan)->forward(false);
  const engine::View logits = (*plan)->output(0);
  EXPECT_EQ(logits.shape, GetParam().logits);
  for (float v : logits.span()) ASSERT_TRUE(std::isfinite(v));
}

INSTANTIATE_TEST_SUITE_P(
    Builtin, ArchPlan,
    ::testing::Values(
        Case{"mlp", {{"arch", "mlp"}, {"hidden", {32, 16}}, {"dropout", 0.5}}, {2, 10}},
        Case{"lenet_300_100", {{"arch", "lenet-300-100"}}, {2, 10}},
        Case{"cnn",
             {{"arch", "cnn"},
              {"blocks",
               {{{"conv", 4}, {"pool", 2}, {"bn", true}},
                {{"conv", 8}, {"stride", 2}, {"pad", "same"}}}},
              {"fc", {16}},
              {"dropout", 0.25}},
             {2, 10}},
        Case{"lenet5", {{"arch", "lenet5"}}, {2, 10}},
        Case{"resnet8", {{"arch", "resnet"}, {"depth", 8}, {"width", 4}}, {2, 10}},
        Case{"resnet8_rgb",
             {{"arch", "resnet"},
              {"depth", 8},
              {"width", 4},
              {"input", {3, 32, 32}},
              {"classes", 100}},
             {2, 100}},
        Case{"plain_cnn2", {{"arch", "plain-cnn"}, {"depth", 2}, {"width", 4}}, {2, 10}},
        Case{"plain_cnn10", {{"arch", "plain-cnn"}, {"depth", 10}, {"width", 4}}, {2, 10}}),
    [](const ::testing::TestParamInfo<Case>& info) { return std::string(info.param.name); });

}  // namespace
}  // namespace retort::arch
