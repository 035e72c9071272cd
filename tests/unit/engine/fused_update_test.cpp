// Optimizer::backward_and_step: updating each parameter inside backward, as soon as the plan
// says it is final, must give exactly the weights of backward() then step(). An update that
// came too early would show: a later kernel would read the new weight (backward-data of a
// layer, a shared weight's other reader) or the gradient would still miss a contribution.
#include <gtest/gtest.h>

#include <cstring>
#include <map>
#include <ostream>
#include <string>
#include <vector>

#include "engine/op_check.h"
#include "nlohmann/json.hpp"
#include "retort/arch/build_model.h"
#include "retort/engine/optimizer.h"
#include "retort/engine/plan.h"

namespace retort::engine {
namespace {

using retort::testing::random_tensor;

// X [5, 6] -> Gemm "first" (W, shared) -> Relu -> Gemm "middle" (V, bias C) -> Relu
// -> Gemm "last" (W again) -> Y. W is read by the first and the last node: it is final only
// after the first node's backward, when its two gradient contributions are summed.
Model shared_weight_model() {
  Model m;
  m.graph.inputs.push_back(ValueInfo{"X", DType::kFloat32, {Dim::fixed(5), Dim::fixed(6)}});
  m.graph.initializers["W"] = random_tensor({6, 6}, 1, -0.6f, 0.6f);
  m.graph.initializers["V"] = random_tensor({6, 6}, 2, -0.6f, 0.6f);
  m.graph.initializers["C"] = random_tensor({6}, 3, -0.2f, 0.2f);
  auto gemm = [](const char* name, std::vector<std::string> in, const char* out) {
    Node n{name, "Gemm", "", std::move(in), {out}, {}};
    n.attributes["transB"] = Attribute::of_int(1);
    return n;
  };
  m.graph.nodes.push_back(gemm("first", {"X", "W"}, "a"));
  m.graph.nodes.push_back(Node{"first.relu", "Relu", "", {"a"}, {"ar"}, {}});
  m.graph.nodes.push_back(gemm("middle", {"ar", "V", "C"}, "b"));
  m.graph.nodes.push_back(Node{"middle.relu", "Relu", "", {"b"}, {"br"}, {}});
  m.graph.nodes.push_back(gemm("last", {"br", "W"}, "Y"));
  m.graph.outputs.push_back(ValueInfo{"Y", DType::kFloat32, {}});
  return m;
}

struct Case {
  std::string label{};
  std::string model{};  // "shared", "cnn_bn" or "mlp"
  OptimizerConfig optimizer{};
};

void PrintTo(const Case& c, std::ostream* os) {
  *os << c.label;
}

Model build(const Case& c) {
  if (c.model == "shared") return shared_weight_model();
  nlohmann::json spec = {{"arch", "mlp"}, {"hidden", {16, 12}}, {"input", {1, 6, 6}}};
  if (c.model == "cnn_bn")
    spec = {{"arch", "cnn"},
            {"input", {2, 8, 8}},
            {"blocks", {{{"conv", 4}, {"kernel", 3}, {"pool", 2}, {"bn", true}}}},
            {"fc", {10}}};
  auto m = arch::build_model(spec, 7);
  EXPECT_TRUE(m.ok()) << m.status().message();
  return std::move(m).value();
}

// Five steps on fixed inputs and output gradients; returns every parameter's final value.
std::map<std::string, std::vector<float>> train(const Case& c, bool fused) {
  Model m = build(c);
  PlanOptions po;
  po.batch = m.graph.inputs[0].dims[0].is_fixed() ? m.graph.inputs[0].dims[0].value : 4;
  po.backward = true;
  auto plan = Plan::compile(m, po);
  EXPECT_TRUE(plan.ok()) << plan.status().message();
  auto optimizer = Optimizer::create(c.optimizer, (*plan)->parameters());
  EXPECT_TRUE(optimizer.ok()) << optimizer.status().message();
  Plan& p = **plan;
  for (int step = 0; step < 5; ++step) {
    const View in = p.input(0);
    const Tensor x = random_tensor(in.shape, 100 + step, -1.0f, 1.0f);
    std::memcpy(in.data, x.raw(), x.nbytes());
    p.forward(true);
    const View dy = p.output_grad(0);
    const Tensor g = random_tensor(dy.shape, 200 + step, -1.0f, 1.0f);
    std::memcpy(dy.data, g.raw(), g.nbytes());
    if (fused) {
      (*optimizer)->backward_and_step(p, 0.05f);
    } else {
      p.backward();
      (*optimizer)->step(0.05f);
    }
  }
  std::map<std::string, std::vector<float>> weights;
  for (const Parameter& param : p.parameters())
    weights[param.name].assign(param.value.data, param.value.data + param.value.numel());
  return weights;
}

class FusedUpdate : public ::testing::TestWithParam<Case> {};

TEST_P(FusedUpdate, GivesExactlyTheWeightsOfBackwardThenStep) {
  const Case& c = GetParam();
  const auto want = train(c, false), got = train(c, true);
  ASSERT_FALSE(want.empty());
  ASSERT_EQ(want.size(), got.size());
  const Model initial = build(c);
  for (const auto& [name, values] : want) {
    SCOPED_TRACE(name);
    ASSERT_EQ(got.at(name), values);  // bit for bit: same arithmetic, same order
    // And training did move it (an update skipped on both sides would also compare equal).
    const auto start = initial.graph.initializers.at(name).span<float>();
    EXPECT_NE(std::vector<float>(start.begin(), start.end()), values);
  }
}

OptimizerConfig sgd(float momentum, bool nesterov = false, float weight_decay = 0.0f) {
  OptimizerConfig c;
  c.momentum = momentum;
  c.nesterov = nesterov;
  c.weight_decay = weight_decay;
  return c;
}

OptimizerConfig adamw() {
  OptimizerConfig c;
  c.type = "adamw";
  c.lr = 0.01f;
  c.weight_decay = 0.01f;
  return c;
}

OptimizerConfig clipped() {
  OptimizerConfig c = sgd(0.9f);
  c.clip_grad_norm = 0.5f;
  return c;
}

INSTANTIATE_TEST_SUITE_P(
    Models, FusedUpdate,
    ::testing::Values(
        Case{.label = "shared_weight_sgd_momentum", .model = "shared", .optimizer = sgd(0.9f)},
        Case{.label = "shared_weight_adamw", .model = "shared", .optimizer = adamw()},
        Case{.label = "mlp_plain_sgd", .model = "mlp", .optimizer = sgd(0.0f)},
        Case{.label = "mlp_nesterov_decay", .model = "mlp", .optimizer = sgd(0.9f, true, 1e-3f)},
        Case{.label = "cnn_bn_sgd_momentum",
             .model = "cnn_bn",
             .optimizer = sgd(0.9f, false, 1e-4f)},
        Case{.label = "cnn_bn_adamw", .model = "cnn_bn", .optimizer = adamw()},
        Case{.label = "mlp_clipped", .model = "mlp", .optimizer = clipped()}),
    [](const auto& info) { return info.param.label; });

// Records, for each notification, the parameter's name and a copy of its gradient then.
class Recorder final : public ParameterObserver {
 public:
  explicit Recorder(const Plan& plan) : plan_(plan) {}
  void parameter_final(size_t index) override {
    const Parameter& p = plan_.parameters().at(index);
    order.push_back(p.name);
    grads[p.name].assign(p.grad.data, p.grad.data + p.grad.numel());
  }
  std::vector<std::string> order;
  std::map<std::string, std::vector<float>> grads;

 private:
  const Plan& plan_;
};

TEST(ParameterObserver, EachParameterOnceAfterItsFirstReadersBackwardWithItsFinalGradient) {
  Model m = shared_weight_model();
  PlanOptions po;
  po.batch = 5;
  po.backward = true;
  auto plan = Plan::compile(m, po);
  ASSERT_TRUE(plan.ok()) << plan.status().message();
  Plan& p = **plan;
  const Tensor x = random_tensor({5, 6}, 9);
  std::memcpy(p.input(0).data, x.raw(), x.nbytes());
  p.forward(true);
  const Tensor g = random_tensor({5, 6}, 10);
  std::memcpy(p.output_grad(0).data, g.raw(), g.nbytes());
  Recorder recorder(p);
  p.backward(recorder);
  // Backward runs last, middle, first: V and C are final after "middle", W after "first".
  ASSERT_EQ(recorder.order.size(), 3u);
  EXPECT_EQ(recorder.order[2], "W");
  EXPECT_NE(recorder.order[0], "W");
  EXPECT_NE(recorder.order[1], "W");
  // What the observer saw is the gradient the whole backward ends with.
  for (const Parameter& param : p.parameters()) {
    SCOPED_TRACE(param.name);
    EXPECT_EQ(recorder.grads.at(param.name),
              std::vector<float>(param.grad.data, param.grad.data + param.grad.numel()));
  }
}

}  // namespace
}  // namespace retort::engine
