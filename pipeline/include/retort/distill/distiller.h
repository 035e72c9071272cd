// Knowledge distillation: trains a student from one or several frozen teachers with any
// weighted combination of loss terms.
//
//   kd         Hinton et al. 2015: soft targets at temperature T (scheduled), T^2 scaling,
//              `alpha` between the soft loss and the hard-label cross-entropy.
//   ce         plain cross-entropy on the labels (for recipes without kd).
//   hint       FitNets (Romero et al. 2015): a teacher value regressed by a student value,
//              MSE or cosine; a learned 1x1 conv (feature maps) or linear layer (vectors)
//              bridges different widths; an optional hint-only warm-up.
//   attention  Zagoruyko & Komodakis 2017: spatial attention maps of paired feature maps.
//   rkd        Park et al. 2019: distance- and angle-wise relations within a batch.
//   fsp        Yim et al. 2017: Gram matrices between pairs of layers.
//
// Teachers run in inference mode with no gradient buffers; when nothing is augmented and no
// feature term reads a teacher, its logits are computed once for the whole transfer set.
#pragma once

#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "retort/core/status.h"
#include "retort/data/dataset.h"
#include "retort/distill/soft_targets.h"
#include "retort/engine/plan.h"
#include "retort/engine/trainer.h"
#include "retort/graph/model.h"

namespace retort::distill {

struct KdTerm {
  float weight = 1.0f;  // scales alpha * soft + (1 - alpha) * hard
  float alpha = 0.9f;
  Temperature temperature;
  TeacherMix mix = TeacherMix::kMean;
  std::vector<float> teacher_weights;  // kWeighted: one per teacher
};

struct CeTerm {
  float weight = 1.0f;
  float label_smoothing = 0.0f;
};

struct HintTerm {
  enum class Distance { kMse, kCosine };
  float weight = 1.0f;
  int teacher = 0;
  std::string teacher_value;
  std::string student_value;
  Distance distance = Distance::kMse;
};

struct ValuePair {
  std::string teacher;
  std::string student;
};

struct AttentionTerm {
  float weight = 1000.0f;  // the paper's beta
  int teacher = 0;
  std::vector<ValuePair> pairs;
  float p = 2.0f;
};

struct RkdTerm {
  int teacher = 0;
  std::string teacher_value;
  std::string student_value;
  float distance_weight = 25.0f;  // the paper's defaults
  float angle_weight = 50.0f;
};

struct FspTerm {
  struct Pair {
    ValuePair first;   // the layer the flow starts at
    ValuePair second;  // the layer it ends at (same height and width as first)
  };
  float weight = 1.0f;
  int teacher = 0;
  std::vector<Pair> pairs;
};

struct DistillOptions {
  engine::TrainOptions train;  // epochs, batch, optimizer, schedule, augment, seed, progress
  std::optional<KdTerm> kd;
  std::optional<CeTerm> ce;
  std::vector<HintTerm> hints;
  std::vector<AttentionTerm> attention;
  std::vector<RkdTerm> rkd;
  std::vector<FspTerm> fsp;
  int hint_warmup_epochs = 0;  // extra epochs first, training on the hint terms only
  bool cache_teacher_logits = true;
};

struct DistillSummary {
  engine::TrainSummary train;
  std::vector<std::string> regressors;  // "hint 0: 1x1 conv 32->64" per learned regressor
  std::vector<bool> teacher_logits_cached;
  // Mean of each term over the last epoch, by name ("kd", "hint", "attention", ...).
  std::vector<std::pair<std::string, double>> final_terms;
};

// Checks everything that can be checked without training: class counts, input shapes,
// every named value (listing the ones that exist), feature shapes against what a regressor
// can bridge, teacher indices and weights. The error names the term and the values.
Status check_distill_setup(Model& student, std::span<Model* const> teachers,
                           const data::Dataset& transfer, const DistillOptions& options);

// One distillation step's loss and gradients over bound plans: what distill() runs every
// step, public so tests can check the whole student's gradient against finite differences.
// Everything is allocated in create(); the per-step calls do not allocate.
class Distiller {
 public:
  // Compiles the student (training, with gradients at every value a term reads), the teachers
  // (inference only) and the terms' regressors at `batch`. Runs check_distill_setup first.
  static Expected<std::unique_ptr<Distiller>> create(Model& student,
                                                     std::span<Model* const> teachers,
                                                     const data::Dataset& transfer,
                                                     const DistillOptions& options);
  ~Distiller();

  // Computes teacher logits for every sample of `transfer` once, for the teachers whose
  // outputs cannot change (no augmentation, no feature term reads them). Returns per teacher
  // whether it is now cached.
  Expected<std::vector<bool>> cache_teacher_logits(const data::Dataset& transfer);

  // Forward passes, every term (only the hint terms when `hints_only`), backward into the
  // student's parameter gradients. `images` holds `batch` rows (rows from `count` on are
  // padding); `indices` (dataset rows, for cached teacher logits) may be null when nothing is
  // cached. `progress` in [0, 1] drives the temperature schedule. Returns the total loss.
  float loss_and_gradients(const float* images, const int32_t* labels, const int64_t* indices,
                           int64_t count, double progress, bool hints_only);
  // Loss of each term for the last call, by kind ("kd", "ce", "hint", ...; one entry per term).
  const std::vector<std::pair<std::string, double>>& last_terms() const;
  // Updates the student and any regressor.
  void step(float lr);
  // loss_and_gradients() then step(lr), with the same numbers, but each student parameter is
  // updated as soon as backward is done with it (engine::Optimizer::backward_and_step). When
  // the loss is not finite nothing is updated and the loss is returned for the caller to report.
  float train_step(const float* images, const int32_t* labels, const int64_t* indices,
                   int64_t count, double progress, bool hints_only, float lr);

  const std::vector<engine::Parameter>& parameters() const;  // the student's
  View logits() const;
  std::vector<std::string> regressors() const;

 private:
  struct Impl;
  explicit Distiller(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Trains `student` in place. Teachers are only read.
Expected<DistillSummary> distill(Model& student, std::span<Model* const> teachers,
                                 const data::Dataset& transfer, const DistillOptions& options);

// Parses the loss-term list of a distill stage's params ({"losses": [...], ...}); `where` is
// the JSON path of the params object, for messages.
Status parse_loss_terms(const nlohmann::json& losses, const std::string& where,
                        DistillOptions& options);

}  // namespace retort::distill
