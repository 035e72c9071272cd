// BM_StructuredCnn/*: inference throughput at batch 128 of the CNN (conv 32 3x3 + BN, max-pool
// 2, conv 64 3x3 + BN, max-pool 2, fc 128, fc 10 on 28x28) before and after structured channel
// pruning to half its FLOPs (prune::prune_channels, target_flops_fraction 0.5, L1 criterion).
//   dense          the unpruned model
//   half_flops     pruned, kept channel counts as the FLOPs search leaves them
//   half_flops_x8  pruned with channel_multiple 8 (kept counts rounded up to a multiple of 8)
//   half_flops_x16 pruned with channel_multiple 16
//   half_flops_conv1_half_x8  conv1 pruned by half (layer_ratios), the uniform ratio of the
//                  other layers searched for half the FLOPs, channel_multiple 8
// Why the variants: the FLOPs sit in conv2 (about 85%), but much of the time goes to the conv1
// stage (1 input channel, few FLOPs, the largest feature maps: conv, BN, ReLU and pooling over
// 32x28x28 per image are memory-bound), which a uniform ratio shrinks least.
// items_per_second is images/s; counters: flops_fraction (pruned / dense FLOPs per image, from
// engine::count_compute), the kept channel counts c1, c2, fc1, and process_cpu_ms: CPU time of
// all threads per batch (less sensitive than wall time to other load on a shared machine; run
// with OMP_WAIT_POLICY=passive so that idle OpenMP threads do not spin).
#include <benchmark/benchmark.h>

#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <random>

#include "bench_support.h"
#include "nlohmann/json.hpp"
#include "retort/arch/build_model.h"
#include "retort/engine/flops.h"
#include "retort/engine/plan.h"
#include "retort/prune/channel_pruning.h"

namespace {

using namespace retort;
using bench::or_die;

constexpr int64_t kBatch = 128;

double process_cpu_ms() {
  timespec t{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) * 1e3 + static_cast<double>(t.tv_nsec) * 1e-6;
}

Model dense_cnn() {
  const nlohmann::json spec = {
      {"arch", "cnn"},
      {"blocks",
       {{{"conv", 32}, {"pool", 2}, {"bn", true}}, {{"conv", 64}, {"pool", 2}, {"bn", true}}}},
      {"fc", {128}}};
  return or_die(arch::build_model(spec, 1), "building the cnn");
}

struct Variant {
  bool prune = false;
  int64_t channel_multiple = 1;
  float conv1_ratio = -1;  // >= 0: layer_ratios["conv1"]
};

void BM_StructuredCnn(benchmark::State& state, Variant variant) {
  Model dense = dense_cnn();
  Model model = dense;
  std::vector<prune::ChannelChange> changes;
  if (variant.prune) {
    prune::StructuredOptions options;
    options.target_flops_fraction = 0.5;
    options.channel_multiple = variant.channel_multiple;
    if (variant.conv1_ratio >= 0) options.layer_ratios["conv1"] = variant.conv1_ratio;
    auto result = or_die(prune::prune_channels(dense, options), "pruning");
    model = std::move(result.model);
    changes = result.changes;
  }
  const auto dense_cost = or_die(engine::count_compute(dense), "counting dense FLOPs");
  const auto cost = or_die(engine::count_compute(model), "counting FLOPs");

  engine::PlanOptions options;
  options.batch = kBatch;
  auto plan = or_die(engine::Plan::compile(model, options), "compiling the plan");
  std::mt19937 rng(3);
  std::uniform_real_distribution<float> u(0.0f, 1.0f);
  for (float& v : plan->input(0).span()) v = u(rng);
  plan->forward(false);  // warm-up: first-touch page faults, primitive caches
  const double cpu_start = process_cpu_ms();
  for (auto _ : state) {
    plan->forward(false);
    benchmark::DoNotOptimize(plan->output(0).data);
  }
  state.counters["process_cpu_ms"] =
      (process_cpu_ms() - cpu_start) / static_cast<double>(state.iterations());
  state.SetItemsProcessed(state.iterations() * kBatch);
  state.counters["flops_fraction"] =
      static_cast<double>(cost.flops) / static_cast<double>(dense_cost.flops);
  const char* names[] = {"c1", "c2", "fc1"};
  for (size_t i = 0; i < changes.size() && i < 3; ++i)
    state.counters[names[i]] = static_cast<double>(changes[i].after);
}

BENCHMARK_CAPTURE(BM_StructuredCnn, dense, Variant{})->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK_CAPTURE(BM_StructuredCnn, half_flops, Variant{true, 1})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK_CAPTURE(BM_StructuredCnn, half_flops_x8, Variant{true, 8})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK_CAPTURE(BM_StructuredCnn, half_flops_x16, Variant{true, 16})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK_CAPTURE(BM_StructuredCnn, half_flops_conv1_half_x8, Variant{true, 8, 0.5f})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
