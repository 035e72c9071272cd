// BM_Linear{Forward,Backward}/rows/in/out: one Linear layer (ONNX Gemm, W [out, in] with
// transB = 1, bias [out], followed by ReLU, as arch::build_model emits it) in a training plan:
// the forward, or the backward with both parameter gradients. The speed check of the op, after
// ggml's test-backend-ops (values and gradients are checked in tests/unit/engine/ops/).
// Threads: OMP_NUM_THREADS. items_per_second is rows/s; GFLOPS counts 2 * rows * in * out for
// the forward and twice that for the backward (dW and dX), once for a first layer (in = 784:
// its input is the image, which needs no gradient).
#include <benchmark/benchmark.h>

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "bench_support.h"
#include "retort/engine/plan.h"
#include "retort/graph/model.h"

namespace {

using namespace retort;
using bench::or_die;

constexpr int64_t kFirstLayerInputs = 784;  // a graph input: no gradient wanted

Tensor filled(Shape shape, float scale) {
  Tensor t(DType::kFloat32, std::move(shape));
  float* p = t.data<float>();
  for (int64_t i = 0; i < t.numel(); ++i) p[i] = scale * static_cast<float>((i * 7919) % 201 - 100);
  return t;
}

// The plan reads the model's initializers in place: the model must outlive it.
struct LinearLayer {
  Model model;
  std::unique_ptr<engine::Plan> plan;
};

LinearLayer linear_layer(int64_t rows, int64_t in, int64_t out) {
  LinearLayer layer;
  Model& m = layer.model;
  m.graph.inputs.push_back(ValueInfo{"X", DType::kFloat32, {Dim::fixed(rows), Dim::fixed(in)}});
  m.graph.initializers["W"] = filled({out, in}, 1e-4f);
  m.graph.initializers["C"] = filled({out}, 1e-3f);
  Node gemm{"fc", "Gemm", "", {"X", "W", "C"}, {"g"}, {}};
  gemm.attributes["transB"] = Attribute::of_int(1);
  m.graph.nodes.push_back(gemm);
  m.graph.nodes.push_back(Node{"fc.relu", "Relu", "", {"g"}, {"Y"}, {}});
  m.graph.outputs.push_back(ValueInfo{"Y", DType::kFloat32, {}});
  engine::PlanOptions options;
  options.batch = rows;
  options.backward = true;
  options.trainable = {"W", "C"};
  options.input_grads = in != kFirstLayerInputs;
  layer.plan = or_die(engine::Plan::compile(m, options), "Linear plan");
  engine::Plan* plan = layer.plan.get();
  const Tensor x = filled({rows, in}, 1e-2f);
  std::copy(x.data<float>(), x.data<float>() + x.numel(), plan->input(0).data);
  const engine::View dy = plan->output_grad(0);
  const Tensor g = filled({rows, out}, 1e-3f);
  std::copy(g.data<float>(), g.data<float>() + g.numel(), dy.data);
  return layer;
}

void BM_LinearForward(benchmark::State& state) {
  const int64_t rows = state.range(0), in = state.range(1), out = state.range(2);
  LinearLayer layer = linear_layer(rows, in, out);
  for (auto _ : state) layer.plan->forward(true);
  state.SetItemsProcessed(state.iterations() * rows);
  state.counters["GFLOPS"] = benchmark::Counter(static_cast<double>(2 * rows * in * out) / 1e9,
                                                benchmark::Counter::kIsIterationInvariantRate);
}

void BM_LinearBackward(benchmark::State& state) {
  const int64_t rows = state.range(0), in = state.range(1), out = state.range(2);
  LinearLayer layer = linear_layer(rows, in, out);
  layer.plan->forward(true);
  for (auto _ : state) layer.plan->backward();
  const int64_t products = in == kFirstLayerInputs ? 1 : 2;
  state.SetItemsProcessed(state.iterations() * rows);
  state.counters["GFLOPS"] =
      benchmark::Counter(static_cast<double>(products * 2 * rows * in * out) / 1e9,
                         benchmark::Counter::kIsIterationInvariantRate);
}

// The hinton student's (784-800-800) and teacher's (784-1200-1200) layers and KdStep/mlp's
// student (784-256-256), at batch 128.
void linear_shapes(benchmark::internal::Benchmark* b) {
  for (const std::vector<int64_t>& s : std::vector<std::vector<int64_t>>{{128, 784, 800},
                                                                         {128, 800, 800},
                                                                         {128, 784, 1200},
                                                                         {128, 1200, 1200},
                                                                         {128, 784, 256},
                                                                         {128, 256, 256}})
    b->Args(s);
  b->ArgNames({"rows", "in", "out"})->Unit(benchmark::kMicrosecond)->UseRealTime();
}

BENCHMARK(BM_LinearForward)->Apply(linear_shapes);
BENCHMARK(BM_LinearBackward)->Apply(linear_shapes);

}  // namespace

BENCHMARK_MAIN();
