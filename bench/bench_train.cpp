// BM_KdStep/{mlp,cnn}: one distillation training step at batch 128 — frozen teacher
// 784-1200-1200-10 forward, student forward and backward on 0.5*T^2*KL(T=4) + 0.5*CE, SGD
// with momentum. items_per_second is images/s; peak_rss_mb is the process's peak RSS.
// bench/pytorch_baseline.py runs the same step in PyTorch; bench/compare_pytorch.sh runs both.
#include <benchmark/benchmark.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "bench_support.h"
#include "nlohmann/json.hpp"
#include "retort/arch/build_model.h"
#include "retort/data/dataset.h"
#include "retort/engine/loss.h"
#include "retort/engine/optimizer.h"
#include "retort/engine/plan.h"

namespace {

using namespace retort;
using bench::or_die;

constexpr int64_t kBatch = 128;
constexpr int kBatchesInRotation = 8;
constexpr float kTemperature = 4.0f;
constexpr float kAlpha = 0.5f;

const data::Dataset& images() {
  static const data::Dataset set = [] {
    return bench::fashion_train_slice(kBatch * kBatchesInRotation);
  }();
  return set;
}

nlohmann::json student_spec(const std::string& kind) {
  if (kind == "mlp") return {{"arch", "mlp"}, {"hidden", {256, 256}}};
  return {{"arch", "cnn"},
          {"blocks",
           {{{"conv", 32}, {"kernel", 3}, {"pad", "valid"}, {"pool", 2}},
            {{"conv", 64}, {"kernel", 3}, {"pad", "valid"}, {"pool", 2}}}},
          {"fc", {128}}};
}

void BM_KdStep(benchmark::State& state, const std::string& kind) {
  Model teacher =
      or_die(arch::build_model({{"arch", "mlp"}, {"hidden", {1200, 1200}}}, 1), "teacher");
  Model student = or_die(arch::build_model(student_spec(kind), 2), "student");
  engine::PlanOptions frozen;
  frozen.batch = kBatch;
  frozen.constant_weights = true;  // as distill::Distiller compiles its teachers
  auto teacher_plan = or_die(engine::Plan::compile(teacher, frozen), "teacher plan");
  engine::PlanOptions train;
  train.batch = kBatch;
  train.backward = true;
  auto student_plan = or_die(engine::Plan::compile(student, train), "student plan");
  engine::OptimizerConfig sgd;
  sgd.lr = 0.01f;
  sgd.momentum = 0.9f;
  auto optimizer = or_die(engine::Optimizer::create(sgd, student_plan->parameters()), "optimizer");

  const data::Dataset& set = images();
  const size_t batch_bytes = static_cast<size_t>(kBatch * set.sample_numel()) * sizeof(float);
  engine::View grad = student_plan->output_grad(0);
  int64_t step = 0;
  for (auto _ : state) {
    const int64_t b = step++ % kBatchesInRotation;
    const float* x = set.sample(b * kBatch);
    std::memcpy(teacher_plan->input(0).data, x, batch_bytes);
    std::memcpy(student_plan->input(0).data, x, batch_bytes);
    teacher_plan->forward(false);
    student_plan->forward(true);
    const int32_t* labels = set.labels.data() + b * kBatch;
    engine::kl_divergence(student_plan->output(0), teacher_plan->output(0), kTemperature, kBatch,
                          &grad, kAlpha);
    engine::cross_entropy(student_plan->output(0), labels, kBatch, 0.0f, &grad, 1.0f - kAlpha);
    optimizer->backward_and_step(*student_plan, sgd.lr);  // as engine::train_classifier
  }
  state.SetItemsProcessed(state.iterations() * kBatch);
  state.counters["peak_rss_mb"] = bench::peak_rss_mb();
}

BENCHMARK_CAPTURE(BM_KdStep, mlp, std::string("mlp"))
    ->Name("BM_KdStep/mlp")
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK_CAPTURE(BM_KdStep, cnn, std::string("cnn"))
    ->Name("BM_KdStep/cnn")
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
