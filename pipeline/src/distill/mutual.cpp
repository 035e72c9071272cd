#include "retort/distill/mutual.h"

#include <chrono>
#include <cmath>
#include <cstring>

#include "retort/data/batch_loader.h"
#include "retort/distill/soft_targets.h"
#include "retort/engine/loss.h"
#include "retort/engine/optimizer.h"
#include "retort/engine/plan.h"
#include "retort/engine/trainer.h"

namespace retort::distill {
namespace {
using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}
}  // namespace

Expected<MutualSummary> train_mutual(std::span<Model* const> students, const data::Dataset& train,
                                     const MutualOptions& options) {
  const engine::TrainOptions& to = options.train;
  const size_t k = students.size();
  if (k < 2)
    return make_error(ErrorCode::kInvalidArgument,
                      "mutual learning needs at least 2 students, got ", k);
  if (to.epochs < 1)
    return make_error(ErrorCode::kInvalidArgument, "epochs must be >= 1, got ", to.epochs);
  if (options.temperature <= 0)
    return make_error(ErrorCode::kInvalidArgument, "temperature must be > 0, got ",
                      options.temperature);
  data::LoaderOptions lo;
  lo.batch_size = to.batch;
  lo.seed = to.seed;
  lo.drop_last = train.size() >= to.batch;
  lo.augment = to.augment;
  RETORT_ASSIGN_OR_RETURN(auto loader, data::BatchLoader::create(train, lo));

  std::vector<std::unique_ptr<engine::Plan>> plans;
  std::vector<std::unique_ptr<engine::Optimizer>> optimizers;
  std::vector<engine::View> logits;
  for (size_t s = 0; s < k; ++s) {
    const std::string who = "student " + std::to_string(s);
    const Model& m = *students[s];
    if (m.graph.inputs.size() != 1 || m.graph.outputs.size() != 1 ||
        shape_numel(m.graph.inputs[0].concrete_shape(1)) != train.sample_numel())
      return make_error(ErrorCode::kInvalidArgument, who, " does not take ", train.channels(), "x",
                        train.height(), "x", train.width(), " images of '", train.name,
                        "' to one output");
    RETORT_RETURN_IF_ERROR(engine::check_fixed_batch(m, to.batch).with_context(who));
    engine::PlanOptions po;
    po.batch = to.batch;
    po.backward = true;
    po.seed = to.seed + s;
    RETORT_ASSIGN_OR_RETURN(auto plan, engine::Plan::compile(*students[s], po));
    RETORT_ASSIGN_OR_RETURN(auto opt, engine::Optimizer::create(to.optimizer, plan->parameters()));
    logits.push_back(plan->output(0));
    if (logits.back().shape.size() != 2 || logits.back().shape != logits.front().shape)
      return make_error(ErrorCode::kInvalidArgument, who, "'s output has shape ",
                        shape_to_string(logits.back().shape), " but student 0's has ",
                        shape_to_string(logits.front().shape),
                        "; mutual learners must predict the same classes");
    plans.push_back(std::move(plan));
    optimizers.push_back(std::move(opt));
  }
  const int64_t classes = logits[0].shape[1];
  if (classes < train.num_classes)
    return make_error(ErrorCode::kInvalidArgument, "the students have ", classes, " outputs but '",
                      train.name, "' has ", train.num_classes, " classes");
  // Each student's peers, and a target buffer per student (all filled before any update).
  std::vector<std::vector<engine::View>> peers(k);
  for (size_t s = 0; s < k; ++s)
    for (size_t o = 0; o < k; ++o)
      if (o != s) peers[s].push_back(logits[o]);
  std::vector<SoftTargets> targets;
  for (size_t s = 0; s < k; ++s) targets.emplace_back(to.batch, classes);

  engine::LrSchedule schedule = to.schedule;
  const int64_t steps_per_epoch = loader->batches_per_epoch();
  schedule.total_steps = steps_per_epoch * to.epochs;
  MutualSummary summary;
  summary.students.resize(k);
  std::vector<double> loss_sum(k);
  std::vector<int64_t> correct(k);
  const size_t bytes = static_cast<size_t>(to.batch * train.sample_numel()) * sizeof(float);
  const auto start = Clock::now();
  int64_t steps = 0;
  data::Batch b;
  for (int epoch = 0; epoch < to.epochs; ++epoch) {
    const auto epoch_start = Clock::now();
    loader->start_epoch(epoch);
    std::fill(loss_sum.begin(), loss_sum.end(), 0.0);
    std::fill(correct.begin(), correct.end(), 0);
    int64_t seen = 0, step = 0;
    float lr = to.optimizer.lr;
    while (loader->next(b)) {
      for (auto& plan : plans) {
        std::memcpy(plan->input(0).data, b.images, bytes);
        plan->forward(true);
      }
      for (size_t s = 0; s < k; ++s)
        targets[s].compute(peers[s], options.temperature, TeacherMix::kMean, {}, b.size);
      lr = to.optimizer.lr * schedule.factor(steps);
      for (size_t s = 0; s < k; ++s) {
        const engine::View grad = plans[s]->output_grad(0);
        const double loss =
            engine::cross_entropy(logits[s], b.labels, b.size, to.label_smoothing, &grad) +
            options.kl_weight * soft_target_loss(logits[s], targets[s].probabilities(),
                                                 options.temperature, b.size, &grad,
                                                 options.kl_weight);
        if (!std::isfinite(loss))
          return make_error(ErrorCode::kNumerical, "student ", s, "'s loss became ", loss,
                            " at epoch ", epoch + 1, " step ", step + 1,
                            "; lower the learning rate (", to.optimizer.lr, ")");
        loss_sum[s] += loss * b.size;
        correct[s] += engine::count_correct(logits[s], b.labels, b.size);
        optimizers[s]->backward_and_step(*plans[s], lr);
      }
      seen += b.size;
      ++step;
      ++steps;
      if (to.after_step) to.after_step(steps);
      if (to.on_progress && (step == steps_per_epoch || step % to.progress_every == 0)) {
        double l = 0, a = 0;
        for (size_t s = 0; s < k; ++s)
          l += loss_sum[s] / seen / k, a += static_cast<double>(correct[s]) / seen / k;
        engine::TrainProgress p{epoch,
                                to.epochs,
                                step,
                                steps_per_epoch,
                                static_cast<float>(l),
                                static_cast<float>(a),
                                lr,
                                seconds_since(start)};
        if (!to.on_progress(p))
          return make_error(ErrorCode::kCancelled, "mutual learning stopped at epoch ", epoch + 1,
                            " step ", step);
      }
    }
    const double n = static_cast<double>(std::max<int64_t>(1, seen));
    for (size_t s = 0; s < k; ++s) {
      summary.students[s].epochs.push_back({static_cast<float>(loss_sum[s] / n),
                                            static_cast<float>(correct[s] / n),
                                            seconds_since(epoch_start)});
      summary.students[s].steps = steps;
    }
  }
  summary.seconds = seconds_since(start);
  for (auto& s : summary.students) s.seconds = summary.seconds;
  return summary;
}

}  // namespace retort::distill
