// BM_DistillEpoch/{live_teacher,cached_logits}: one distillation epoch of the hinton recipe's
// pair (recipes/benchmarks/hinton.json) over a fixed Fashion-MNIST transfer slice: the first
// 10,000 training images, batch 128, shuffled, drop_last (78 steps). Teacher MLP
// 784-1200-1200-10 with dropout 0.2, frozen, in inference mode; student MLP 784-800-800-10;
// KD at T = 20, alpha 0.9 (distill::KdTerm: 0.9 * T^2 * KL + 0.1 * CE); SGD momentum 0.9,
// lr 0.01. One benchmark iteration = one epoch of Distiller::loss_and_gradients + step over
// the batches of a data::BatchLoader, as distill() runs it (without its per-step accuracy
// and progress bookkeeping).
//
//   live_teacher   cache_teacher_logits off: the teacher runs forward every step.
//   cached_logits  the teacher's logits for the whole slice are computed once, before the
//                  timed loop (Distiller::cache_teacher_logits); that one-off cost is NOT in
//                  the epoch time but reported separately as the counter teacher_cache_s.
//
// real_time is seconds (ms) per epoch; items_per_second is images/s; peak_rss_mb is the
// process's peak RSS. bench/pytorch_baseline.py --distill runs the same epoch in PyTorch and
// bench/compare_pytorch.sh runs both.
#include <benchmark/benchmark.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "bench_support.h"
#include "nlohmann/json.hpp"
#include "retort/arch/build_model.h"
#include "retort/data/batch_loader.h"
#include "retort/data/dataset.h"
#include "retort/distill/distiller.h"

namespace {

using namespace retort;
using bench::or_die;

constexpr int64_t kBatch = 128;
constexpr int64_t kTransferImages = 10000;
constexpr float kTemperature = 20.0f;
constexpr float kAlpha = 0.9f;
constexpr float kLr = 0.01f;
constexpr float kMomentum = 0.9f;

const data::Dataset& transfer_set() {
  static const data::Dataset set = [] { return bench::fashion_train_slice(kTransferImages); }();
  return set;
}

void BM_DistillEpoch(benchmark::State& state, bool cached) {
  const data::Dataset& set = transfer_set();
  Model teacher =
      or_die(arch::build_model({{"arch", "mlp"}, {"hidden", {1200, 1200}}, {"dropout", 0.2}}, 1),
             "teacher");
  Model student =
      or_die(arch::build_model({{"arch", "mlp"}, {"hidden", {800, 800}}}, 2), "student");

  distill::DistillOptions options;
  options.train.batch = kBatch;
  options.train.seed = 0;
  options.train.optimizer.type = "sgd";
  options.train.optimizer.lr = kLr;
  options.train.optimizer.momentum = kMomentum;
  distill::KdTerm kd;
  kd.alpha = kAlpha;
  kd.temperature.start = kd.temperature.end = kTemperature;
  kd.temperature.schedule = distill::Temperature::Schedule::kConstant;
  options.kd = kd;
  options.cache_teacher_logits = cached;

  Model* teachers[] = {&teacher};
  auto distiller = or_die(distill::Distiller::create(student, teachers, set, options), "distiller");

  data::LoaderOptions lo;  // as distill() makes it
  lo.batch_size = kBatch;
  lo.shuffle = true;
  lo.seed = options.train.seed;
  lo.drop_last = true;
  auto loader = or_die(data::BatchLoader::create(set, lo), "loader");

  double cache_seconds = 0;
  if (cached) {
    const auto start = std::chrono::steady_clock::now();
    auto which = or_die(distiller->cache_teacher_logits(set), "caching teacher logits");
    cache_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (which.size() != 1 || !which[0]) {
      state.SkipWithError("the teacher's logits were not cached");
      return;
    }
  }

  int epoch = 0;
  int64_t steps = 0;
  float loss = 0;
  data::Batch b;
  for (auto _ : state) {
    loader->start_epoch(epoch++);
    while (loader->next(b)) {
      loss = distiller->train_step(b.images, b.labels, b.indices, b.size, 0.0, false, kLr);
      ++steps;
    }
  }
  if (!std::isfinite(loss)) {
    state.SkipWithError("the distillation loss is not finite");
    return;
  }
  state.SetItemsProcessed(steps * kBatch);
  state.counters["peak_rss_mb"] = bench::peak_rss_mb();
  state.counters["steps_per_epoch"] = static_cast<double>(loader->batches_per_epoch());
  state.counters["final_loss"] = loss;
  if (cached) state.counters["teacher_cache_s"] = cache_seconds;
}

BENCHMARK_CAPTURE(BM_DistillEpoch, live_teacher, false)
    ->Name("BM_DistillEpoch/live_teacher")
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK_CAPTURE(BM_DistillEpoch, cached_logits, true)
    ->Name("BM_DistillEpoch/cached_logits")
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
