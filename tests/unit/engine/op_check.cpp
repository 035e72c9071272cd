#include "engine/op_check.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>

#include "retort/engine/plan.h"

namespace retort::testing {
namespace {

uint64_t splitmix(uint64_t& state) {
  uint64_t z = (state += 0x9E3779B97F4A7C15ULL);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

void load_inputs(engine::Plan& plan, const Model& model, const OpCase& c) {
  for (size_t i = 0, g = 0; i < c.inputs.size(); ++i) {
    const Tensor& t = c.inputs[i];
    if (t.empty() || t.dtype() != DType::kFloat32) continue;
    (void)model;
    std::memcpy(plan.input(g).data, t.raw(), t.nbytes());
    ++g;
  }
}

}  // namespace

Model make_single_op_model(const OpCase& c) {
  Model model;
  model.graph.nodes.push_back(c.node);
  for (size_t i = 0; i < c.inputs.size() && i < c.node.inputs.size(); ++i) {
    const Tensor& t = c.inputs[i];
    if (t.empty() || c.node.inputs[i].empty()) continue;
    if (t.dtype() == DType::kFloat32) {
      ValueInfo info{c.node.inputs[i], DType::kFloat32, {}};
      for (int64_t d : t.shape()) info.dims.push_back(Dim::fixed(d));
      model.graph.inputs.push_back(info);
    } else {
      model.graph.initializers[c.node.inputs[i]] = t;
    }
  }
  for (const std::string& out : c.node.outputs)
    if (!out.empty()) model.graph.outputs.push_back(ValueInfo{out, DType::kFloat32, {}});
  return model;
}

std::vector<Tensor> run_op(const OpCase& c, bool training) {
  Model model = make_single_op_model(c);
  auto plan = compile_or_fail(model, engine::PlanOptions{});
  if (!plan) return {};
  load_inputs(*plan, model, c);
  plan->forward(training);
  std::vector<Tensor> outs;
  for (size_t o = 0; o < model.graph.outputs.size(); ++o) {
    engine::View v = plan->output(o);
    Tensor t(DType::kFloat32, v.shape);
    std::memcpy(t.raw(), v.data, t.nbytes());
    outs.push_back(t);
  }
  return outs;
}

void expect_gradients_match_fd(const OpCase& c, double eps, double tol, bool training) {
  Model model = make_single_op_model(c);
  engine::PlanOptions options;
  options.backward = true;
  options.input_grads = true;
  auto plan = compile_or_fail(model, options);
  if (!plan) return;
  load_inputs(*plan, model, c);

  // Random projection of the outputs: loss = sum_k out_k * R_k.
  std::vector<Tensor> weights;
  for (size_t o = 0; o < model.graph.outputs.size(); ++o)
    weights.push_back(random_tensor(plan->output(o).shape, 1234 + o));
  auto loss = [&]() {
    double sum = 0;
    for (size_t o = 0; o < weights.size(); ++o) {
      engine::View out = plan->output(o);
      for (int64_t k = 0; k < out.numel(); ++k)
        sum += static_cast<double>(out.data[k]) * weights[o].data<float>()[k];
    }
    return sum;
  };

  plan->forward(training);
  for (size_t o = 0; o < weights.size(); ++o)
    std::memcpy(plan->output_grad(o).data, weights[o].raw(), weights[o].nbytes());
  plan->backward();

  for (size_t g = 0; g < model.graph.inputs.size(); ++g) {
    engine::View x = plan->input(g);
    auto analytic_grad = plan->grad(model.graph.inputs[g].name);
    if (!analytic_grad.ok()) continue;  // e.g. an input the op cannot differentiate
    std::vector<float> analytic(analytic_grad->data, analytic_grad->data + x.numel());
    double worst = 0;
    int64_t worst_at = -1;
    double worst_a = 0, worst_n = 0;
    for (int64_t k = 0; k < x.numel(); ++k) {
      const float saved = x.data[k];
      x.data[k] = saved + static_cast<float>(eps);
      plan->forward(training);
      const double up = loss();
      x.data[k] = saved - static_cast<float>(eps);
      plan->forward(training);
      const double down = loss();
      x.data[k] = saved;
      const double numeric = (up - down) / (2 * eps);
      const double err = std::abs(analytic[k] - numeric) / std::max(1.0, std::abs(numeric));
      if (err > worst) {
        worst = err;
        worst_at = k;
        worst_a = analytic[k];
        worst_n = numeric;
      }
    }
    EXPECT_LE(worst, tol) << c.node.describe() << ": gradient of input '"
                          << model.graph.inputs[g].name << "' " << shape_to_string(x.shape)
                          << " differs at element " << worst_at << ": backward " << worst_a
                          << ", finite differences " << worst_n;
  }
}

Tensor random_tensor(Shape shape, uint64_t seed, float lo, float hi) {
  Tensor t(DType::kFloat32, std::move(shape));
  uint64_t state = seed;
  for (float& v : t.span<float>()) {
    const double u = static_cast<double>(splitmix(state) >> 11) * 0x1.0p-53;
    v = lo + static_cast<float>(u) * (hi - lo);
  }
  return t;
}

std::unique_ptr<engine::Plan> compile_or_fail(Model& model, const engine::PlanOptions& options) {
  engine::PlanOptions at_its_batch = options;  // a graph of fixed shapes runs at its own batch
  at_its_batch.batch = engine::runnable_batch(model, options.batch);
  auto plan = engine::Plan::compile(model, at_its_batch);
  if (!plan.ok()) {
    ADD_FAILURE() << "plan compile failed: " << plan.status().message();
    return nullptr;
  }
  return std::move(plan).value();
}

std::vector<float> values_of(const engine::View& view) {
  return std::vector<float>(view.data, view.data + view.numel());
}

void expect_near(const Tensor& actual, const Tensor& expected, float tol) {
  ASSERT_EQ(shape_to_string(actual.shape()), shape_to_string(expected.shape()));
  int64_t bad = 0;
  for (int64_t i = 0; i < actual.numel(); ++i) {
    const float a = actual.data<float>()[i], e = expected.data<float>()[i];
    if (!(std::abs(a - e) <= tol * (1 + std::abs(e)))) {
      if (++bad <= 5) ADD_FAILURE() << "element " << i << ": got " << a << ", expected " << e;
    }
  }
  EXPECT_EQ(bad, 0) << bad << " of " << actual.numel() << " elements differ by more than " << tol;
}

}  // namespace retort::testing
