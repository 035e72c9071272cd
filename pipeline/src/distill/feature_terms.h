// The feature-level loss terms of a distillation step (hint, attention, rkd, fsp), each bound
// once to the student's and teachers' plan buffers. Private to distill/.
#pragma once

#include <memory>
#include <span>
#include <string>
#include <vector>

#include "retort/distill/distiller.h"
#include "retort/engine/optimizer.h"
#include "retort/engine/plan.h"

namespace retort::distill {

class FeatureTerm {
 public:
  virtual ~FeatureTerm() = default;
  virtual const char* kind() const = 0;
  // Adds its weighted gradient into the student's value gradients; returns the weighted loss.
  virtual float apply(int64_t count) = 0;
  // Updates the term's own parameters (a hint regressor), after apply().
  virtual void step(float /*lr*/) {}
};

// Value names of a model that a term may refer to: graph inputs and node outputs, in order.
std::vector<std::string> value_names(const Model& model);

// Student values that terms read (each needs a gradient buffer in the student plan).
std::vector<std::string> student_values(const DistillOptions& options);
// Values of teacher `teacher` that terms read (its plan must keep their buffers).
std::vector<std::string> teacher_values(const DistillOptions& options, int teacher);

// Shapes (batch included) of the values a term names, from plans compiled at batch 1. Checks
// the pairing rules; `describe` collects regressor descriptions.
Status check_feature_terms(const DistillOptions& options, engine::Plan& student,
                           const Model& student_model, std::span<engine::Plan* const> teachers,
                           std::span<Model* const> teacher_models);

// Builds the terms over plans compiled at the training batch.
Expected<std::vector<std::unique_ptr<FeatureTerm>>> make_feature_terms(
    const DistillOptions& options, engine::Plan& student, std::span<engine::Plan* const> teachers,
    std::vector<std::string>& regressor_descriptions);

}  // namespace retort::distill
