// profile_train_step: where one training step's time goes. Trains a classifier on the first
// Fashion-MNIST training images the way engine::train_classifier does (loader, input copy,
// forward, cross-entropy, backward, SGD update, accuracy bookkeeping), timing each phase and,
// through PlanOptions::profile, each node's forward and backward kernel. Prints milliseconds
// per step and shares of the step. A tool for finding what to speed up, not a benchmark: the
// clock readings themselves cost about 50 ns each.
//
//   profile_train_step [--spec JSON] [--steps N] [--warmup N] [--batch N] [--prefetch K]
//                      [--crop-padding P] [--lr X] [--momentum X] [--weight-decay X]
//                      [--fused-update 0|1]
//
// --fused-update 1 (the default, as train_classifier): each parameter is updated inside
// backward as soon as it is final (Optimizer::backward_and_step), so the update's time is
// part of "backward"; 0 runs backward, then the whole update, and times them apart.
// --prefetch K: batches prepared ahead on the loader's worker; -1 (the default, as
// train_classifier) lets the loader decide (0 when the OpenMP threads take every CPU).
//
// The default is the hinton benchmark's student (recipes/benchmarks/hinton.json, stage
// "scratch"): MLP 784-800-800-10, batch 128, SGD lr 0.02 momentum 0.9, no augmentation.
// Threads: OMP_NUM_THREADS, as for every retort binary.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <string>
#include <vector>

#include "bench_support.h"
#include "nlohmann/json.hpp"
#include "retort/arch/build_model.h"
#include "retort/data/batch_loader.h"
#include "retort/engine/loss.h"
#include "retort/engine/optimizer.h"
#include "retort/engine/plan.h"

namespace {

using namespace retort;
using Clock = std::chrono::steady_clock;

struct Options {
  nlohmann::json spec = {{"arch", "mlp"}, {"hidden", {800, 800}}};
  int64_t steps = 300;
  int64_t warmup = 20;
  int64_t batch = 128;
  int prefetch = data::LoaderOptions::kAutoPrefetch;
  bool fused_update = true;
  int64_t crop_padding = 0;
  engine::OptimizerConfig optimizer{.type = "sgd", .lr = 0.02f, .momentum = 0.9f};
};

[[noreturn]] void usage_error(const std::string& message) {
  std::fprintf(stderr,
               "profile_train_step: %s\nusage: profile_train_step [--spec JSON] [--steps N] "
               "[--warmup N] [--batch N] [--prefetch K] [--crop-padding P] [--lr X] "
               "[--momentum X] [--weight-decay X] [--fused-update 0|1]\n",
               message.c_str());
  std::exit(2);
}

double number_arg(const std::string& flag, const char* text) {
  char* end = nullptr;
  const double v = std::strtod(text, &end);
  if (end == text || *end != '\0' || !std::isfinite(v))
    usage_error(flag + " takes a number, got '" + text + "'");
  return v;
}

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    if (i + 1 >= argc) usage_error(flag + " needs a value");
    const char* value = argv[++i];
    if (flag == "--spec") {
      o.spec = nlohmann::json::parse(value, nullptr, false);
      if (o.spec.is_discarded()) usage_error(std::string("--spec is not valid JSON: ") + value);
    } else if (flag == "--steps") {
      o.steps = static_cast<int64_t>(number_arg(flag, value));
    } else if (flag == "--warmup") {
      o.warmup = static_cast<int64_t>(number_arg(flag, value));
    } else if (flag == "--batch") {
      o.batch = static_cast<int64_t>(number_arg(flag, value));
    } else if (flag == "--prefetch") {
      o.prefetch = static_cast<int>(number_arg(flag, value));
    } else if (flag == "--crop-padding") {
      o.crop_padding = static_cast<int64_t>(number_arg(flag, value));
    } else if (flag == "--lr") {
      o.optimizer.lr = static_cast<float>(number_arg(flag, value));
    } else if (flag == "--momentum") {
      o.optimizer.momentum = static_cast<float>(number_arg(flag, value));
    } else if (flag == "--weight-decay") {
      o.optimizer.weight_decay = static_cast<float>(number_arg(flag, value));
    } else if (flag == "--fused-update") {
      o.fused_update = number_arg(flag, value) != 0.0;
    } else {
      usage_error("unknown option '" + flag + "'");
    }
  }
  if (o.steps < 1 || o.warmup < 0 || o.batch < 1) usage_error("--steps, --batch must be >= 1");
  return o;
}

enum Phase { kLoader, kInput, kForward, kLoss, kBackward, kUpdate, kBookkeeping, kPhases };
constexpr const char* kPhaseNames[kPhases] = {
    "loader (wait for the next batch)",
    "input copy",
    "forward",
    "loss (cross-entropy)",
    "backward (+ update when fused)",
    "SGD update (when not fused)",
    "accuracy bookkeeping",
};

int run(const Options& o) {
  const int64_t needed = (o.steps + o.warmup) * o.batch;
  const data::Dataset train = bench::fashion_train_slice(std::min<int64_t>(needed, 60000));

  Model model = bench::or_die(arch::build_model(o.spec, 1), "building the model");
  engine::PlanOptions po;
  po.batch = o.batch;
  po.backward = true;
  po.profile = true;
  auto plan = bench::or_die(engine::Plan::compile(model, po), "compiling the plan");
  auto optimizer =
      bench::or_die(engine::Optimizer::create(o.optimizer, plan->parameters()), "optimizer");
  data::LoaderOptions lo;
  lo.batch_size = o.batch;
  lo.drop_last = true;
  lo.prefetch = o.prefetch;
  lo.augment.crop_padding = o.crop_padding;
  auto loader = bench::or_die(data::BatchLoader::create(train, lo), "creating the loader");

  const engine::View input = plan->input(0), logits = plan->output(0), grad = plan->output_grad(0);
  double phase[kPhases] = {};
  std::vector<engine::NodeTime> before;
  data::Batch batch;
  int epoch = 0;
  loader->start_epoch(epoch);
  Clock::time_point start;
  auto lap = [](Clock::time_point& t) {
    const Clock::time_point now = Clock::now();
    const double s = std::chrono::duration<double>(now - t).count();
    t = now;
    return s;
  };
  int64_t correct = 0;
  for (int64_t step = 0; step < o.warmup + o.steps; ++step) {
    if (step == o.warmup) {
      std::fill(std::begin(phase), std::end(phase), 0.0);
      before = plan->node_times();
      start = Clock::now();
    }
    Clock::time_point t = Clock::now();
    if (!loader->next(batch)) {
      loader->start_epoch(++epoch);
      loader->next(batch);
    }
    phase[kLoader] += lap(t);
    std::memcpy(input.data, batch.images,
                static_cast<size_t>(batch.capacity * batch.sample_numel()) * sizeof(float));
    phase[kInput] += lap(t);
    plan->forward(true);
    phase[kForward] += lap(t);
    engine::cross_entropy(logits, batch.labels, batch.size, 0.0f, &grad);
    phase[kLoss] += lap(t);
    if (o.fused_update) {
      optimizer->backward_and_step(*plan, o.optimizer.lr);
      phase[kBackward] += lap(t);
    } else {
      plan->backward();
      phase[kBackward] += lap(t);
      optimizer->step(o.optimizer.lr);
      phase[kUpdate] += lap(t);
    }
    correct += engine::count_correct(logits, batch.labels, batch.size);
    phase[kBookkeeping] += lap(t);
  }
  const double total = std::chrono::duration<double>(Clock::now() - start).count();
  const double per_step_ms = 1e3 * total / static_cast<double>(o.steps);
  const char* threads = std::getenv("OMP_NUM_THREADS");

  std::printf("model %s, batch %lld, %lld steps after %lld warm-up, OMP_NUM_THREADS=%s\n",
              o.spec.dump().c_str(), static_cast<long long>(o.batch),
              static_cast<long long>(o.steps), static_cast<long long>(o.warmup),
              threads ? threads : "(unset)");
  std::printf("%.3f ms per step, %.0f images/s (%lld correct: keeps the work observable)\n\n",
              per_step_ms, 1e3 * static_cast<double>(o.batch) / per_step_ms,
              static_cast<long long>(correct));
  std::printf("%-36s %10s %7s\n", "phase", "ms/step", "share");
  for (int p = 0; p < kPhases; ++p)
    std::printf("%-36s %10.3f %6.1f%%\n", kPhaseNames[p],
                1e3 * phase[p] / static_cast<double>(o.steps), 100.0 * phase[p] / total);

  std::printf("\n%-48s %10s %10s %7s\n", "node", "fwd ms", "bwd ms", "share");
  const std::vector<engine::NodeTime>& after = plan->node_times();
  for (size_t n = 0; n < after.size(); ++n) {
    const double fwd = after[n].forward_seconds - before[n].forward_seconds;
    const double bwd = after[n].backward_seconds - before[n].backward_seconds;
    std::printf("%-48s %10.3f %10.3f %6.1f%%\n", after[n].node.c_str(),
                1e3 * fwd / static_cast<double>(o.steps), 1e3 * bwd / static_cast<double>(o.steps),
                100.0 * (fwd + bwd) / total);
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return run(parse(argc, argv));
  } catch (const std::exception& e) {  // e.g. std::bad_alloc for a huge --batch
    std::fprintf(stderr, "profile_train_step: %s\n", e.what());
    return 1;
  }
}
