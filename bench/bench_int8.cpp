// BM_Int8Cnn/*: inference throughput at batch 128 of the CNN conv 32 3x3 -> relu -> maxpool 2
// -> conv 64 3x3 -> relu -> maxpool 2 -> flatten -> gemm 128 -> relu -> gemm 10 (28x28x1).
//   fp32      the float graph on the float32 plan
//   int8      the QDQ graph (QDQ before every layer, per-channel int8 weights, uint8
//             activations, a nonzero zero point on the input) with PlanOptions::lower_int8
//   qdq_sim   the same QDQ graph simulated in float32 (lower_int8 off), for reference
// items_per_second is images/s. Random weights and inputs (speed does not depend on them).
// Run: bench_int8 --benchmark_min_time=0.5 (OMP_NUM_THREADS=2 on the 2-core machine).
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <random>
#include <string>

#include "bench_support.h"
#include "retort/engine/plan.h"

namespace {

using namespace retort;
using bench::or_die;

constexpr int64_t kBatch = 128;

class CnnBuilder {
 public:
  explicit CnnBuilder(bool qdq) : qdq_(qdq) {}

  Model build() {
    ValueInfo in{"x", DType::kFloat32, {}};
    for (int64_t d : {kBatch, int64_t{1}, int64_t{28}, int64_t{28}})
      in.dims.push_back(Dim::fixed(d));
    m_.graph.inputs.push_back(in);
    std::string x = act("x", 0.02f, 128);
    x = conv("conv1", x, 32, 1);
    x = act(relu(x), 0.02f, 0);
    x = act(pool("pool1", x), 0.02f, 0);
    x = conv("conv2", x, 64, 32);
    x = act(relu(x), 0.03f, 0);
    x = act(pool("pool2", x), 0.03f, 0);
    x = act(node("flat", "Flatten", {x}), 0.03f, 0);
    x = gemm("fc1", x, 128, 1600);
    x = act(relu(x), 0.05f, 0);
    x = gemm("fc2", x, 10, 128);
    m_.graph.outputs.push_back(ValueInfo{x, DType::kFloat32, {}});
    return std::move(m_);
  }

 private:
  std::string node(const std::string& name, const std::string& op, std::vector<std::string> in,
                   std::map<std::string, Attribute> attrs = {}) {
    Node n;
    n.name = name;
    n.op_type = op;
    n.inputs = std::move(in);
    n.outputs = {name};
    n.attributes = std::move(attrs);
    m_.graph.nodes.push_back(std::move(n));
    return name;
  }
  std::string act(const std::string& x, float scale, uint8_t zp) {
    if (!qdq_) return x;
    m_.graph.initializers[x + ".s"] = Tensor::scalar(scale);
    m_.graph.initializers[x + ".zp"] = Tensor::from_vector<uint8_t>({}, {zp});
    node(x + "_q", "QuantizeLinear", {x, x + ".s", x + ".zp"});
    return node(x + "_dq", "DequantizeLinear", {x + "_q", x + ".s", x + ".zp"});
  }
  // Weights [out, ...]: float, or int8 codes with per-channel scales behind a DequantizeLinear.
  std::string weight(const std::string& name, Shape shape) {
    const int64_t out = shape[0];
    Tensor w(DType::kFloat32, shape);
    const float bound = std::sqrt(6.0f / static_cast<float>(w.numel() / out));
    std::uniform_real_distribution<float> u(-bound, bound);
    for (float& v : w.span<float>()) v = u(rng_);
    if (!qdq_) {
      m_.graph.initializers[name] = w;
      return name;
    }
    const int64_t per = w.numel() / out;
    Tensor codes(DType::kInt8, shape);
    std::vector<float> scales(out);
    for (int64_t c = 0; c < out; ++c) {
      float amax = 1e-6f;
      for (int64_t i = 0; i < per; ++i)
        amax = std::max(amax, std::fabs(w.data<float>()[c * per + i]));
      scales[c] = amax / 127.0f;
      for (int64_t i = 0; i < per; ++i)
        codes.data<int8_t>()[c * per + i] =
            static_cast<int8_t>(std::nearbyint(w.data<float>()[c * per + i] / scales[c]));
    }
    m_.graph.initializers[name + ".q"] = codes;
    m_.graph.initializers[name + ".s"] = Tensor::from_vector<float>({out}, scales);
    m_.graph.initializers[name + ".zp"] =
        Tensor::from_vector<int8_t>({out}, std::vector<int8_t>(out, 0));
    return node(name, "DequantizeLinear", {name + ".q", name + ".s", name + ".zp"},
                {{"axis", Attribute::of_int(0)}});
  }
  std::string bias(const std::string& name, int64_t n) {
    std::uniform_real_distribution<float> u(-0.1f, 0.1f);
    Tensor b(DType::kFloat32, {n});
    for (float& v : b.span<float>()) v = u(rng_);
    m_.graph.initializers[name] = b;
    return name;
  }
  std::string conv(const std::string& name, const std::string& x, int64_t maps, int64_t c) {
    return node(name, "Conv", {x, weight(name + ".w", {maps, c, 3, 3}), bias(name + ".b", maps)});
  }
  std::string gemm(const std::string& name, const std::string& x, int64_t n, int64_t k) {
    return node(name, "Gemm", {x, weight(name + ".w", {n, k}), bias(name + ".b", n)},
                {{"transB", Attribute::of_int(1)}});
  }
  std::string relu(const std::string& x) { return node(x + "_relu", "Relu", {x}); }
  std::string pool(const std::string& name, const std::string& x) {
    return node(
        name, "MaxPool", {x},
        {{"kernel_shape", Attribute::of_ints({2, 2})}, {"strides", Attribute::of_ints({2, 2})}});
  }

  bool qdq_;
  Model m_;
  std::mt19937 rng_{7};
};

enum class Variant { kFp32, kInt8, kQdqSim };

void BM_Int8Cnn(benchmark::State& state, Variant variant) {
  Model model = CnnBuilder(variant != Variant::kFp32).build();
  engine::PlanOptions options;
  options.batch = kBatch;
  options.lower_int8 = variant == Variant::kInt8;
  auto plan = or_die(engine::Plan::compile(model, options), "compiling the plan");
  if (variant == Variant::kInt8 && plan->int8_lowering().skipped.size() > 0) {
    state.SkipWithError(("not lowered: " + plan->int8_lowering().skipped[0].node + ": " +
                         plan->int8_lowering().skipped[0].reason)
                            .c_str());
    return;
  }
  std::mt19937 rng(3);
  std::uniform_real_distribution<float> u(-0.5f, 2.0f);
  for (float& v : plan->input(0).span()) v = u(rng);
  for (int i = 0; i < 3; ++i) plan->forward(false);  // warm up
  for (auto _ : state) {
    plan->forward(false);
    benchmark::DoNotOptimize(plan->output(0).data);
  }
  state.SetItemsProcessed(state.iterations() * kBatch);
  state.counters["regions"] = plan->int8_lowering().regions;
}

BENCHMARK_CAPTURE(BM_Int8Cnn, fp32, Variant::kFp32)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK_CAPTURE(BM_Int8Cnn, int8, Variant::kInt8)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK_CAPTURE(BM_Int8Cnn, qdq_sim, Variant::kQdqSim)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
