// Supervised training of a classifier and its evaluation: the loop every training stage uses.
// Plans, optimizer state and batch buffers are created before the first step; the step loop
// only copies the batch in and executes.
#pragma once

#include <functional>
#include <span>
#include <vector>

#include "retort/core/status.h"
#include "retort/data/batch_loader.h"
#include "retort/data/dataset.h"
#include "retort/engine/optimizer.h"
#include "retort/engine/schedule.h"
#include "retort/graph/model.h"

namespace retort::engine {

struct TrainProgress {
  int epoch = 0;  // 0-based
  int epochs = 0;
  int64_t step = 0;  // within the epoch
  int64_t steps_per_epoch = 0;
  float loss = 0;      // running mean over the epoch so far
  float accuracy = 0;  // running training accuracy over the epoch so far
  float learning_rate = 0;
  double seconds = 0;  // since training started
};

struct TrainOptions {
  int epochs = 1;
  int64_t batch = 128;
  OptimizerConfig optimizer;
  LrSchedule schedule;
  float label_smoothing = 0.0f;
  data::AugmentOptions augment;
  uint64_t seed = 0;
  // Called every `progress_every` steps and at the end of each epoch; return false to stop
  // (the result is then kCancelled).
  std::function<bool(const TrainProgress&)> on_progress;
  int64_t progress_every = 50;
  // Called after every optimizer step with the number of steps taken so far in this run
  // (from 1), e.g. to re-apply pruning masks. It runs inside the step loop: no allocation.
  std::function<void(int64_t steps_done)> after_step;
  // Called between the backward pass and each optimizer step with the parameters and their
  // gradients (train_classifier and distill::distill), e.g. to zero the gradients of pruned
  // weights so that their momentum stays zero. No allocation.
  std::function<void(std::span<const Parameter> parameters)> before_update;
};

struct EpochSummary {
  float loss = 0;
  float accuracy = 0;
  double seconds = 0;
};

struct TrainSummary {
  std::vector<EpochSummary> epochs;
  int64_t steps = 0;
  double seconds = 0;
};

// Whether `model` is a classifier for `set`'s images fed in batches of `batch` (0: any): one
// NCHW input of the data's channels and size, one output, and a fixed batch (an export for
// one batch that could not be made dynamic) only when it is `batch`. The error says how to fix.
Status check_classifier_fits(const Model& model, const data::Dataset& set, int64_t batch);
// Whether `model` can be fed batches of `batch`: always, unless it has a fixed batch (an
// export for one batch that could not be made dynamic) that differs. The error says how to fix.
Status check_fixed_batch(const Model& model, int64_t batch);

// Trains `model` in place with cross-entropy. A non-finite loss stops training with a
// kNumerical error naming the epoch and step.
Expected<TrainSummary> train_classifier(Model& model, const data::Dataset& train,
                                        const TrainOptions& options);

struct EvalResult {
  int64_t count = 0;
  double accuracy = 0;                     // top-1, in [0, 1]
  double loss = 0;                         // mean cross-entropy
  std::vector<double> per_class_accuracy;  // NaN for a class absent from the data
};

// Inference-mode evaluation (dropout off, batch norm on running statistics). QDQ patterns
// run on int8 kernels unless `lower_int8` is false (then they are simulated in float32). A model
// with a fixed batch (runnable_batch) is evaluated at that batch. An empty `test` is an error
// (there is no accuracy over no images); so is an empty `train` for train_classifier. The plan
// shares buffers (PlanOptions::share_buffers): memory grows with the values alive at once, not
// with the depth of the model.
Expected<EvalResult> evaluate_classifier(Model& model, const data::Dataset& test,
                                         int64_t batch = 256, bool lower_int8 = true);

}  // namespace retort::engine
