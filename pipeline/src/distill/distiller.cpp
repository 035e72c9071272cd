#include "retort/distill/distiller.h"

#include <cassert>
#include <chrono>
#include <cmath>
#include <cstring>

#include "feature_terms.h"
#include "retort/data/batch_loader.h"
#include "retort/engine/loss.h"
#include "retort/engine/plan.h"
#include "retort/engine/trainer.h"

namespace retort::distill {
namespace {

using Clock = std::chrono::steady_clock;
using engine::Plan;
using engine::PlanOptions;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

Status check_fits(const Model& model, const data::Dataset& set, const std::string& who,
                  int64_t batch) {
  if (model.graph.inputs.size() != 1 || model.graph.outputs.size() != 1)
    return make_error(ErrorCode::kInvalidArgument, "the ", who,
                      " needs one input and one output; it has ", model.graph.inputs.size(),
                      " inputs and ", model.graph.outputs.size(), " outputs");
  const Shape in = model.graph.inputs[0].concrete_shape(1);
  if (shape_numel(in) != set.sample_numel())
    return make_error(ErrorCode::kInvalidArgument, "the ", who, "'s input '",
                      model.graph.inputs[0].name, "' has shape ", shape_to_string(in),
                      " (batch 1) but the images of '", set.name, "' are ", set.channels(), "x",
                      set.height(), "x", set.width());
  return engine::check_fixed_batch(model, batch).with_context("the " + who);
}

Expected<int64_t> class_count(Plan& plan, const std::string& who) {
  const Shape& s = plan.output(0).shape;
  if (s.size() != 2)
    return make_error(ErrorCode::kInvalidArgument, "the ", who, "'s output has shape ",
                      shape_to_string(s), "; distillation needs logits [N, classes]");
  return s[1];
}

// Whether any feature term reads teacher t (its forward pass is then needed every step).
bool features_read_teacher(const DistillOptions& o, int t) {
  for (const auto& h : o.hints)
    if (h.teacher == t) return true;
  for (const auto& a : o.attention)
    if (a.teacher == t) return true;
  for (const auto& r : o.rkd)
    if (r.teacher == t) return true;
  for (const auto& f : o.fsp)
    if (f.teacher == t) return true;
  return false;
}

Status check_options(const DistillOptions& o, size_t teachers) {
  if (teachers == 0)
    return make_error(ErrorCode::kInvalidArgument, "distillation needs at least one teacher");
  if (!o.kd && !o.ce)
    return make_error(
        ErrorCode::kInvalidArgument,
        "no loss term trains the student's logits; add a \"kd\" or a \"ce\" term to \"losses\"");
  if (o.train.epochs < 1)
    return make_error(ErrorCode::kInvalidArgument, "epochs must be >= 1, got ", o.train.epochs);
  if (o.hint_warmup_epochs > 0 && o.hints.empty())
    return make_error(ErrorCode::kInvalidArgument, "hint_warmup_epochs is ", o.hint_warmup_epochs,
                      " but there is no hint term to warm up");
  if (o.kd) {
    if (o.kd->temperature.start <= 0 || o.kd->temperature.end <= 0)
      return make_error(ErrorCode::kInvalidArgument, "kd temperature must be > 0");
    if (o.kd->mix == TeacherMix::kWeighted && o.kd->teacher_weights.size() != teachers)
      return make_error(ErrorCode::kInvalidArgument,
                        "kd mix \"weighted\" needs one weight per teacher: got ",
                        o.kd->teacher_weights.size(), " weights for ", teachers, " teachers");
  }
  return Status::Ok();
}

}  // namespace

Status check_distill_setup(Model& student, std::span<Model* const> teachers,
                           const data::Dataset& transfer, const DistillOptions& options) {
  RETORT_RETURN_IF_ERROR(check_options(options, teachers.size()));
  RETORT_RETURN_IF_ERROR(check_fits(student, transfer, "student", options.train.batch));
  PlanOptions one;
  one.batch = engine::runnable_batch(student, 1);
  RETORT_ASSIGN_OR_RETURN(auto student_plan, Plan::compile(student, one));
  RETORT_ASSIGN_OR_RETURN(int64_t classes, class_count(*student_plan, "student"));
  if (classes < transfer.num_classes)
    return make_error(ErrorCode::kInvalidArgument, "the student has ", classes, " outputs but '",
                      transfer.name, "' has ", transfer.num_classes, " classes");
  std::vector<std::unique_ptr<Plan>> owned;
  std::vector<Plan*> plans;
  for (size_t t = 0; t < teachers.size(); ++t) {
    const std::string who = "teacher " + std::to_string(t);
    RETORT_RETURN_IF_ERROR(check_fits(*teachers[t], transfer, who, options.train.batch));
    one.batch = engine::runnable_batch(*teachers[t], 1);
    RETORT_ASSIGN_OR_RETURN(auto plan, Plan::compile(*teachers[t], one));
    RETORT_ASSIGN_OR_RETURN(int64_t tc, class_count(*plan, who));
    if (tc != classes)
      return make_error(ErrorCode::kInvalidArgument, "teacher ", t, " has ", tc,
                        " classes but the student has ", classes,
                        "; a teacher and its student must predict the same classes");
    plans.push_back(plan.get());
    owned.push_back(std::move(plan));
  }
  return check_feature_terms(options, *student_plan, student, plans, teachers);
}

struct Distiller::Impl {
  DistillOptions options;
  std::unique_ptr<Plan> student;
  std::unique_ptr<engine::Optimizer> optimizer;
  std::vector<std::unique_ptr<Plan>> teachers;
  std::vector<std::unique_ptr<FeatureTerm>> features;
  std::vector<std::string> regressors;
  std::vector<std::vector<float>> cached;    // per teacher: [N, classes] logits, or empty
  std::vector<std::vector<float>> gathered;  // per cached teacher: this batch's rows
  std::vector<View> teacher_logits;          // what the kd term reads, per teacher
  std::unique_ptr<SoftTargets> targets;
  std::vector<std::pair<std::string, double>> terms;
  int64_t batch = 0, classes = 0;
  size_t sample_bytes = 0;

  // Teachers and student forward, every term's loss and its gradient at the student's
  // outputs and features; everything of a step but the student's backward and update.
  float forward_and_loss(const float* images, const int32_t* labels, const int64_t* indices,
                         int64_t count, double progress, bool hints_only);
};

Distiller::Distiller(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Distiller::~Distiller() = default;

Expected<std::unique_ptr<Distiller>> Distiller::create(Model& student,
                                                       std::span<Model* const> teachers,
                                                       const data::Dataset& transfer,
                                                       const DistillOptions& options) {
  RETORT_RETURN_IF_ERROR(check_distill_setup(student, teachers, transfer, options));
  auto impl = std::make_unique<Impl>();
  impl->options = options;
  impl->batch = options.train.batch;
  impl->sample_bytes = static_cast<size_t>(transfer.sample_numel()) * sizeof(float);
  PlanOptions spo;
  spo.batch = impl->batch;
  spo.backward = true;
  spo.seed = options.train.seed;
  spo.grad_values = student_values(options);
  RETORT_ASSIGN_OR_RETURN(impl->student, Plan::compile(student, spo));
  RETORT_ASSIGN_OR_RETURN(impl->optimizer, engine::Optimizer::create(options.train.optimizer,
                                                                     impl->student->parameters()));
  PlanOptions tpo;
  tpo.batch = impl->batch;
  tpo.constant_weights = true;  // teachers are frozen for the plan's whole life
  std::vector<Plan*> teacher_ptrs;
  for (size_t t = 0; t < teachers.size(); ++t) {
    tpo.keep_values = teacher_values(options, static_cast<int>(t));  // what feature terms read
    RETORT_ASSIGN_OR_RETURN(auto plan, Plan::compile(*teachers[t], tpo));
    teacher_ptrs.push_back(plan.get());
    impl->teacher_logits.push_back(plan->output(0));
    impl->teachers.push_back(std::move(plan));
  }
  RETORT_ASSIGN_OR_RETURN(
      impl->features, make_feature_terms(options, *impl->student, teacher_ptrs, impl->regressors));
  impl->classes = impl->student->output(0).shape[1];
  impl->cached.resize(teachers.size());
  impl->gathered.resize(teachers.size());
  impl->targets = std::make_unique<SoftTargets>(impl->batch, impl->classes);
  if (options.kd) impl->terms.emplace_back("kd", 0.0);
  if (options.ce) impl->terms.emplace_back("ce", 0.0);
  for (auto& f : impl->features) impl->terms.emplace_back(f->kind(), 0.0);
  return std::unique_ptr<Distiller>(new Distiller(std::move(impl)));
}

Expected<std::vector<bool>> Distiller::cache_teacher_logits(const data::Dataset& transfer) {
  Impl& m = *impl_;
  const data::AugmentOptions& aug = m.options.train.augment;
  const bool augmented = aug.crop_padding > 0 || aug.horizontal_flip;
  std::vector<bool> cached;
  for (size_t t = 0; t < m.teachers.size(); ++t) {
    const bool cache =
        m.options.kd && !augmented && !features_read_teacher(m.options, static_cast<int>(t));
    cached.push_back(cache);
    if (!cache) continue;
    const View out = m.teachers[t]->output(0);
    m.cached[t].assign(static_cast<size_t>(transfer.size() * m.classes), 0.0f);
    data::LoaderOptions in_order;
    in_order.batch_size = m.batch;
    in_order.shuffle = false;
    RETORT_ASSIGN_OR_RETURN(auto all, data::BatchLoader::create(transfer, in_order));
    data::Batch b;
    while (all->next(b)) {
      std::memcpy(m.teachers[t]->input(0).data, b.images, b.capacity * m.sample_bytes);
      m.teachers[t]->forward(false);
      for (int64_t i = 0; i < b.size; ++i)
        std::memcpy(m.cached[t].data() + b.indices[i] * m.classes, out.data + i * m.classes,
                    static_cast<size_t>(m.classes) * sizeof(float));
    }
    m.gathered[t].assign(static_cast<size_t>(m.batch * m.classes), 0.0f);
    m.teacher_logits[t] = View{m.gathered[t].data(), {m.batch, m.classes}};
  }
  return cached;
}

float Distiller::Impl::forward_and_loss(const float* images, const int32_t* labels,
                                        const int64_t* indices, int64_t count, double progress,
                                        bool hints_only) {
  Impl& m = *this;
  const size_t batch_bytes = static_cast<size_t>(m.batch) * m.sample_bytes;
  for (size_t t = 0; t < m.teachers.size(); ++t) {
    if (!m.cached[t].empty()) {
      if (hints_only) continue;
      assert(indices != nullptr && "cached teacher logits need dataset indices");
      for (int64_t i = 0; i < count; ++i)
        std::memcpy(m.gathered[t].data() + i * m.classes,
                    m.cached[t].data() + indices[i] * m.classes,
                    static_cast<size_t>(m.classes) * sizeof(float));
      continue;
    }
    std::memcpy(m.teachers[t]->input(0).data, images, batch_bytes);
    m.teachers[t]->forward(false);
  }
  std::memcpy(m.student->input(0).data, images, batch_bytes);
  m.student->forward(true);
  const View logits = m.student->output(0), grad = m.student->output_grad(0);
  double loss = 0;
  size_t term = 0;
  for (auto& t : m.terms) t.second = 0;
  if (m.options.kd) {
    if (!hints_only) {
      const KdTerm& kd = *m.options.kd;
      const float temperature = kd.temperature.at(progress);
      m.targets->compute(m.teacher_logits, temperature, kd.mix, kd.teacher_weights, count);
      const float soft = soft_target_loss(logits, m.targets->probabilities(), temperature, count,
                                          &grad, kd.weight * kd.alpha);
      const float hard =
          engine::cross_entropy(logits, labels, count, 0.0f, &grad, kd.weight * (1 - kd.alpha));
      m.terms[term].second = kd.weight * (kd.alpha * soft + (1 - kd.alpha) * hard);
    }
    ++term;
  }
  if (m.options.ce) {
    if (!hints_only) {
      const CeTerm& ce = *m.options.ce;
      m.terms[term].second =
          ce.weight *
          engine::cross_entropy(logits, labels, count, ce.label_smoothing, &grad, ce.weight);
    }
    ++term;
  }
  for (auto& f : m.features) {
    if (!hints_only || std::string_view(f->kind()) == "hint")
      m.terms[term].second = f->apply(count);
    ++term;
  }
  for (auto& t : m.terms) loss += t.second;
  return static_cast<float>(loss);
}

float Distiller::loss_and_gradients(const float* images, const int32_t* labels,
                                    const int64_t* indices, int64_t count, double progress,
                                    bool hints_only) {
  const float loss = impl_->forward_and_loss(images, labels, indices, count, progress, hints_only);
  impl_->student->backward();
  return loss;
}

float Distiller::train_step(const float* images, const int32_t* labels, const int64_t* indices,
                            int64_t count, double progress, bool hints_only, float lr) {
  Impl& m = *impl_;
  const float loss = m.forward_and_loss(images, labels, indices, count, progress, hints_only);
  if (!std::isfinite(loss)) return loss;  // nothing updated; the caller reports it
  m.optimizer->backward_and_step(*m.student, lr);
  for (auto& f : m.features) f->step(lr);
  return loss;
}

const std::vector<std::pair<std::string, double>>& Distiller::last_terms() const {
  return impl_->terms;
}

void Distiller::step(float lr) {
  impl_->optimizer->step(lr);
  for (auto& f : impl_->features) f->step(lr);
}

const std::vector<engine::Parameter>& Distiller::parameters() const {
  return impl_->student->parameters();
}
View Distiller::logits() const {
  return impl_->student->output(0);
}
std::vector<std::string> Distiller::regressors() const {
  return impl_->regressors;
}

Expected<DistillSummary> distill(Model& student, std::span<Model* const> teachers,
                                 const data::Dataset& transfer, const DistillOptions& options) {
  const engine::TrainOptions& to = options.train;
  data::LoaderOptions lo;
  lo.batch_size = to.batch;
  lo.shuffle = true;
  lo.seed = to.seed;
  lo.drop_last = transfer.size() >= to.batch;
  lo.augment = to.augment;
  RETORT_ASSIGN_OR_RETURN(auto loader, data::BatchLoader::create(transfer, lo));
  RETORT_ASSIGN_OR_RETURN(auto distiller, Distiller::create(student, teachers, transfer, options));
  DistillSummary summary;
  summary.regressors = distiller->regressors();
  if (options.cache_teacher_logits) {
    RETORT_ASSIGN_OR_RETURN(summary.teacher_logits_cached,
                            distiller->cache_teacher_logits(transfer));
  } else {
    summary.teacher_logits_cached.assign(teachers.size(), false);
  }

  const int warmup = options.hint_warmup_epochs;
  const int epochs = warmup + to.epochs;
  engine::LrSchedule schedule = to.schedule;
  const int64_t steps_per_epoch = loader->batches_per_epoch();
  schedule.total_steps = steps_per_epoch * epochs;
  const double kd_steps =
      static_cast<double>(std::max<int64_t>(1, steps_per_epoch * to.epochs - 1));
  std::vector<double> term_sums(distiller->last_terms().size());
  const View logits = distiller->logits();
  const auto start = Clock::now();
  data::Batch b;
  for (int epoch = 0; epoch < epochs; ++epoch) {
    const bool hints_only = epoch < warmup;
    const auto epoch_start = Clock::now();
    loader->start_epoch(epoch);
    double loss_sum = 0;
    int64_t correct = 0, seen = 0, step = 0;
    std::fill(term_sums.begin(), term_sums.end(), 0.0);
    float lr = to.optimizer.lr;
    while (loader->next(b)) {
      const double progress =
          static_cast<double>(summary.train.steps - warmup * steps_per_epoch) / kd_steps;
      lr = to.optimizer.lr * schedule.factor(summary.train.steps);
      // before_update (pruning masks) must see every gradient before any update.
      const float loss = to.before_update
                             ? distiller->loss_and_gradients(b.images, b.labels, b.indices, b.size,
                                                             progress, hints_only)
                             : distiller->train_step(b.images, b.labels, b.indices, b.size,
                                                     progress, hints_only, lr);
      if (!std::isfinite(loss))
        return make_error(ErrorCode::kNumerical, "distillation loss became ", loss, " at epoch ",
                          epoch + 1, " step ", step + 1, "; lower the learning rate (",
                          to.optimizer.lr, ") or the loss weights");
      if (to.before_update) {
        to.before_update(distiller->parameters());
        distiller->step(lr);
      }
      for (size_t t = 0; t < term_sums.size(); ++t)
        term_sums[t] += distiller->last_terms()[t].second * b.size;
      loss_sum += static_cast<double>(loss) * b.size;
      correct += engine::count_correct(logits, b.labels, b.size);
      seen += b.size;
      ++step;
      ++summary.train.steps;
      if (to.after_step) to.after_step(summary.train.steps);
      if (to.on_progress && (step == steps_per_epoch || step % to.progress_every == 0)) {
        engine::TrainProgress p{epoch,
                                epochs,
                                step,
                                steps_per_epoch,
                                static_cast<float>(loss_sum / seen),
                                static_cast<float>(correct) / seen,
                                lr,
                                seconds_since(start)};
        if (!to.on_progress(p))
          return make_error(ErrorCode::kCancelled, "distillation stopped at epoch ", epoch + 1,
                            " step ", step);
      }
    }
    const double n = static_cast<double>(std::max<int64_t>(1, seen));
    summary.train.epochs.push_back({static_cast<float>(loss_sum / n),
                                    static_cast<float>(correct / n), seconds_since(epoch_start)});
    if (epoch + 1 == epochs)
      for (size_t t = 0; t < term_sums.size(); ++t)
        summary.final_terms.emplace_back(distiller->last_terms()[t].first, term_sums[t] / n);
  }
  summary.train.seconds = seconds_since(start);
  return summary;
}

}  // namespace retort::distill
