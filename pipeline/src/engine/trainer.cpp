#include "retort/engine/trainer.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <limits>

#include "retort/engine/loss.h"
#include "retort/engine/plan.h"
#include "retort/graph/fold_constants.h"

namespace retort::engine {
namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

}  // namespace

Status check_classifier_fits(const Model& model, const data::Dataset& set, int64_t batch) {
  if (model.graph.inputs.size() != 1 || model.graph.outputs.size() != 1)
    return make_error(
        ErrorCode::kInvalidArgument, "a classifier needs one input and one output; the model has ",
        model.graph.inputs.size(), " inputs and ", model.graph.outputs.size(), " outputs");
  const ValueInfo& in = model.graph.inputs[0];
  Shape expected = in.concrete_shape(1);
  Shape got = {1, set.channels(), set.height(), set.width()};
  if (expected.size() != 4 || !std::equal(expected.begin() + 1, expected.end(), got.begin() + 1))
    return make_error(ErrorCode::kInvalidArgument, "model input '", in.name, "' has shape ",
                      shape_to_string(expected), " (batch 1) but dataset '", set.name,
                      "' has images of shape ", shape_to_string(got),
                      "; use a model built for this data");
  return batch > 0 ? check_fixed_batch(model, batch) : Status::Ok();
}

Status check_fixed_batch(const Model& model, int64_t batch) {
  const auto fixed = model.graph.fixed_batch();
  if (!fixed || *fixed == batch) return Status::Ok();
  const std::string input = model.graph.inputs.empty() ? "" : model.graph.inputs[0].name;
  return make_error(ErrorCode::kInvalidArgument, "model input '", input, "' has a fixed batch of ",
                    *fixed, " but batches of ", batch,
                    " are fed to it (the model was exported without a dynamic batch axis, and "
                    "retort cannot make it dynamic: ",
                    analyze_fixed_batch(model).conflict, "); set the stage's \"batch\" to ", *fixed,
                    " or re-export the model with dynamic_axes={'", input, "': {0: 'batch'}, ...}");
}

namespace {

// An empty split would "train" without a step or "evaluate" to accuracy 0: say so instead.
Status check_has_samples(const data::Dataset& set, const char* use, const char* size_key) {
  if (set.size() > 0) return Status::Ok();
  return make_error(ErrorCode::kInvalidArgument, "dataset '", set.name, "' has no images to ", use,
                    " on; give a \"", size_key,
                    "\" of at least 1 (or leave it out to use every image) and check that the "
                    "data files hold samples");
}

// The batch into the plan's input: never more rows than the plan holds.
void copy_batch(const data::Batch& batch, const View& input) {
  const int64_t rows = std::min(batch.capacity, input.shape.empty() ? 0 : input.shape[0]);
  std::memcpy(input.data, batch.images,
              static_cast<size_t>(rows * batch.sample_numel()) * sizeof(float));
}

}  // namespace

Expected<TrainSummary> train_classifier(Model& model, const data::Dataset& train,
                                        const TrainOptions& options) {
  RETORT_RETURN_IF_ERROR(check_has_samples(train, "train", "train_size"));
  RETORT_RETURN_IF_ERROR(check_classifier_fits(model, train, options.batch));
  if (options.epochs < 1)
    return make_error(ErrorCode::kInvalidArgument, "epochs must be >= 1, got ", options.epochs);
  data::LoaderOptions lo;
  lo.batch_size = options.batch;
  lo.shuffle = true;
  lo.seed = options.seed;
  lo.drop_last = train.size() >= options.batch;  // full batches keep batch-norm statistics sane
  lo.augment = options.augment;
  RETORT_ASSIGN_OR_RETURN(auto loader, data::BatchLoader::create(train, lo));

  PlanOptions po;
  po.batch = options.batch;
  po.backward = true;
  po.seed = options.seed;
  RETORT_ASSIGN_OR_RETURN(auto plan, Plan::compile(model, po));
  RETORT_ASSIGN_OR_RETURN(auto optimizer, Optimizer::create(options.optimizer, plan->parameters()));
  const View input = plan->input(0), logits = plan->output(0), grad = plan->output_grad(0);
  if (logits.shape.size() != 2 || logits.shape[1] < train.num_classes)
    return make_error(ErrorCode::kInvalidArgument, "model output '", model.graph.outputs[0].name,
                      "' has shape ", shape_to_string(logits.shape), " but dataset '", train.name,
                      "' has ", train.num_classes, " classes");

  LrSchedule schedule = options.schedule;
  const int64_t steps_per_epoch = loader->batches_per_epoch();
  schedule.total_steps = steps_per_epoch * options.epochs;
  TrainSummary summary;
  const auto start = Clock::now();
  data::Batch batch;
  for (int epoch = 0; epoch < options.epochs; ++epoch) {
    const auto epoch_start = Clock::now();
    loader->start_epoch(epoch);
    double loss_sum = 0;
    int64_t correct = 0, seen = 0, step = 0;
    float lr = options.optimizer.lr;
    while (loader->next(batch)) {
      copy_batch(batch, input);
      plan->forward(true);
      const float loss =
          cross_entropy(logits, batch.labels, batch.size, options.label_smoothing, &grad);
      if (!std::isfinite(loss))
        return make_error(ErrorCode::kNumerical, "loss became ", loss, " at epoch ", epoch + 1,
                          " step ", step + 1, "; lower the learning rate (", options.optimizer.lr,
                          ") or check the data");
      lr = options.optimizer.lr * schedule.factor(summary.steps);
      if (options.before_update) {  // it sees every gradient before any update
        plan->backward();
        options.before_update(plan->parameters());
        optimizer->step(lr);
      } else {
        optimizer->backward_and_step(*plan, lr);
      }
      loss_sum += static_cast<double>(loss) * batch.size;
      correct += count_correct(logits, batch.labels, batch.size);
      seen += batch.size;
      ++step;
      ++summary.steps;
      if (options.after_step) options.after_step(summary.steps);
      const bool last = step == steps_per_epoch;
      if (options.on_progress && (last || step % options.progress_every == 0)) {
        TrainProgress p{epoch,
                        options.epochs,
                        step,
                        steps_per_epoch,
                        static_cast<float>(loss_sum / seen),
                        static_cast<float>(correct) / seen,
                        lr,
                        seconds_since(start)};
        if (!options.on_progress(p))
          return make_error(ErrorCode::kCancelled, "training stopped at epoch ", epoch + 1,
                            " step ", step);
      }
    }
    summary.epochs.push_back({static_cast<float>(loss_sum / std::max<int64_t>(1, seen)),
                              static_cast<float>(correct) / std::max<int64_t>(1, seen),
                              seconds_since(epoch_start)});
  }
  summary.seconds = seconds_since(start);
  return summary;
}

Expected<EvalResult> evaluate_classifier(Model& model, const data::Dataset& test, int64_t batch,
                                         bool lower_int8) {
  RETORT_RETURN_IF_ERROR(check_has_samples(test, "evaluate", "test_size"));
  batch = runnable_batch(model, batch);  // a model with a fixed batch runs at that batch
  RETORT_RETURN_IF_ERROR(check_classifier_fits(model, test, batch));
  data::LoaderOptions lo;
  lo.batch_size = std::min<int64_t>(batch, test.size());
  lo.shuffle = false;
  RETORT_ASSIGN_OR_RETURN(auto loader, data::BatchLoader::create(test, lo));
  PlanOptions po;
  po.batch = lo.batch_size;
  po.lower_int8 = lower_int8;
  po.share_buffers = true;  // only the logits are read: hold the live values, not all of them
  RETORT_ASSIGN_OR_RETURN(auto plan, Plan::compile(model, po));
  const View input = plan->input(0), logits = plan->output(0);
  if (logits.shape.size() != 2 || logits.shape[1] < test.num_classes)
    return make_error(ErrorCode::kInvalidArgument, "model output has shape ",
                      shape_to_string(logits.shape), " but dataset '", test.name, "' has ",
                      test.num_classes, " classes");
  const int64_t classes = logits.shape[1];
  std::vector<int64_t> class_total(classes, 0), class_correct(classes, 0);
  double loss_sum = 0;
  int64_t correct = 0;
  EvalResult result;
  data::Batch b;
  while (loader->next(b)) {
    copy_batch(b, input);
    plan->forward(false);
    loss_sum += static_cast<double>(cross_entropy(logits, b.labels, b.size)) * b.size;
    for (int64_t i = 0; i < b.size; ++i) {
      const float* row = logits.data + i * classes;
      const bool hit = (std::max_element(row, row + classes) - row) == b.labels[i];
      ++class_total[b.labels[i]];
      class_correct[b.labels[i]] += hit ? 1 : 0;
      correct += hit ? 1 : 0;
    }
    result.count += b.size;
  }
  result.accuracy = static_cast<double>(correct) / static_cast<double>(result.count);
  result.loss = loss_sum / static_cast<double>(result.count);
  for (int64_t c = 0; c < classes; ++c)
    result.per_class_accuracy.push_back(class_total[c]
                                            ? static_cast<double>(class_correct[c]) / class_total[c]
                                            : std::numeric_limits<double>::quiet_NaN());
  return result;
}

}  // namespace retort::engine
