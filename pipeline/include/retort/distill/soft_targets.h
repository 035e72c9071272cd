// Hinton et al.'s soft targets: teachers' predictions softened by a temperature, combined
// over several teachers, and the student's loss against them.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "nlohmann/json.hpp"
#include "retort/core/status.h"
#include "retort/engine/kernel.h"

namespace retort::distill {

using engine::View;

// The distillation temperature over training: constant T0, or annealed from T0 to T1
// linearly or along a half cosine (progress 0 at the first step, 1 at the last).
struct Temperature {
  enum class Schedule { kConstant, kLinear, kCosine };
  float start = 4.0f;
  float end = 4.0f;
  Schedule schedule = Schedule::kConstant;

  float at(double progress) const;
};
Expected<Temperature::Schedule> parse_temperature_schedule(const std::string& name);

// How several teachers' softened predictions make one target distribution.
//   mean:       the plain average;
//   weighted:   an average with the given weights (normalised to sum to 1);
//   confidence: per sample, each teacher weighted by its confidence, the largest of its own
//               probabilities at T = 1, so a teacher unsure about a sample counts less there.
enum class TeacherMix { kMean, kWeighted, kConfidence };
Expected<TeacherMix> parse_teacher_mix(const std::string& name);

// Holds the combined target probabilities of one batch; allocates once, in the constructor.
class SoftTargets {
 public:
  SoftTargets(int64_t batch, int64_t classes);

  // teacher_logits: one [batch, classes] view per teacher. `weights` (kWeighted) has one
  // entry per teacher. Rows from `count` on are left untouched.
  void compute(std::span<const View> teacher_logits, float temperature, TeacherMix mix,
               std::span<const float> weights, int64_t count);
  const View& probabilities() const { return view_; }

 private:
  std::vector<float> probs_;
  std::vector<double> row_weights_;
  View view_;
};

// KL(target || softmax(student / T)) * T^2, mean over the first `count` rows; ADDS
// scale * d/dlogits into *grad (see engine/loss.h). With a single teacher its value and
// gradient equal engine::kl_divergence on that teacher's logits.
float soft_target_loss(const View& student_logits, const View& target_probabilities,
                       float temperature, int64_t count, const View* grad = nullptr,
                       float scale = 1.0f);

}  // namespace retort::distill
