#include "distill_stage.h"

#include <cmath>

#include "retort/data/data_section.h"
#include "retort/distill/class_bias.h"
#include "retort/distill/distiller.h"
#include "retort/distill/student_init.h"
#include "retort/engine/train_options_json.h"
#include "retort/graph/input_convention.h"
#include "retort/plugin/training_progress.h"

namespace retort::stages {

const char* const kDistillSchema = R"json({
  "type": "object",
  "additionalProperties": false,
  "properties": {)json" RETORT_TRAIN_LOOP_PROPERTIES R"json(,
    "losses": {
      "type": "array", "minItems": 1, "items": {"type": "object"},
      "default": [{"type": "kd", "temperature": 4, "alpha": 0.9}],
      "description": "weighted loss terms: kd, ce, hint, attention, rkd, fsp (see docs/distillation.md)"
    },
    "hint_warmup_epochs": {"type": "integer", "minimum": 0, "default": 0,
                           "description": "epochs on the hint terms alone before the rest (FitNets stage 1)"},
    "cache_teacher_logits": {"type": "boolean", "default": true,
                             "description": "compute teacher logits once when nothing is augmented"},
    "init": {"type": "string", "enum": ["random", "teacher"], "default": "random",
             "description": "teacher: copy the teacher's layers where shapes match (evenly spaced)"},
    "exclude_classes": {"type": "array", "items": {"type": "integer", "minimum": 0}, "default": [],
                        "description": "classes dropped from the transfer set (Hinton et al. sec. 3)"},
    "bias_correction": {"type": "string", "enum": ["none", "fit"], "default": "none",
                        "description": "fit: after training, raise the excluded classes' logit bias to the value that maximises training accuracy"},
    "class_bias": {"type": "object", "additionalProperties": {"type": "number"}, "default": {},
                   "description": "fixed logit offsets by class index, e.g. {\"3\": 3.5}"}
  }
})json";

namespace {

nlohmann::json per_class_json(const std::vector<double>& per_class) {
  nlohmann::json out = nlohmann::json::array();
  for (double a : per_class) out.push_back(std::isnan(a) ? nlohmann::json() : nlohmann::json(a));
  return out;
}

Expected<std::vector<float>> explicit_bias(const nlohmann::json& class_bias, int64_t classes) {
  std::vector<float> bias(static_cast<size_t>(classes), 0.0f);
  for (auto& [key, value] : class_bias.items()) {
    char* end = nullptr;
    const long c = std::strtol(key.c_str(), &end, 10);
    if (key.empty() || *end != '\0' || c < 0 || c >= classes)
      return make_error(ErrorCode::kInvalidArgument, "/params/class_bias/", key,
                        ": expected a class index in [0, ", classes, "), found \"", key, "\"");
    bias[static_cast<size_t>(c)] = value.get<float>();
  }
  return bias;
}

// What run() and check() share: the options, the models and the transfer set, checked.
struct DistillSetup {
  distill::DistillOptions options;
  std::shared_ptr<const data::DataSplits> data;
  std::vector<Model> teachers;
  std::vector<Model*> teacher_ptrs;
  Model student;
  std::vector<int> excluded;
  data::Dataset filtered;  // the transfer set when classes are left out
  const data::Dataset* transfer = nullptr;
};

Status prepare(plugin::StageContext& ctx, DistillSetup& setup) {
  const nlohmann::json& p = ctx.params();
  distill::DistillOptions& options = setup.options;
  RETORT_ASSIGN_OR_RETURN(options.train, engine::train_options_from_json(p, "/params"));
  options.train.seed = ctx.seed();
  options.train.on_progress = plugin::training_progress(ctx);
  RETORT_RETURN_IF_ERROR(
      distill::parse_loss_terms(p.value("losses", nlohmann::json::array()), "/params", options));
  options.hint_warmup_epochs = p.value("hint_warmup_epochs", 0);
  options.cache_teacher_logits = p.value("cache_teacher_logits", true);

  RETORT_ASSIGN_OR_RETURN(setup.data, data::load_data_section(ctx.data()));
  for (size_t i = 0; i < ctx.input_count("teacher"); ++i) {
    RETORT_ASSIGN_OR_RETURN(Model t, ctx.load_model("teacher", i));
    setup.teachers.push_back(std::move(t));
  }
  for (Model& t : setup.teachers) setup.teacher_ptrs.push_back(&t);
  RETORT_ASSIGN_OR_RETURN(setup.student, ctx.load_model("student"));

  // The transfer set: the training data, minus any left-out classes.
  setup.excluded = p.value("exclude_classes", std::vector<int>{});
  setup.transfer = &setup.data->train;
  if (!setup.excluded.empty()) {
    auto f = data::filter_classes(setup.data->train, setup.excluded);
    if (!f.ok())
      return make_error(ErrorCode::kInvalidArgument,
                        "/params/exclude_classes: ", f.status().message());
    setup.filtered = std::move(f).value();
    setup.transfer = &setup.filtered;
  }
  // Everything checkable is checked before the first step (and before copying weights).
  RETORT_RETURN_IF_ERROR(
      distill::check_distill_setup(setup.student, setup.teacher_ptrs, *setup.transfer, options));
  if (p.value("bias_correction", "none") == "fit" && setup.excluded.empty())
    return make_error(
        ErrorCode::kInvalidArgument,
        "/params/bias_correction: \"fit\" adjusts the classes in exclude_classes, which is empty");
  return explicit_bias(p.value("class_bias", nlohmann::json::object()),
                       setup.data->test.num_classes)
      .status();
}

}  // namespace

Status DistillStage::check(plugin::StageContext& ctx) {
  // The loss terms parse without any model.
  distill::DistillOptions options;
  RETORT_RETURN_IF_ERROR(distill::parse_loss_terms(
      ctx.params().value("losses", nlohmann::json::array()), "/params", options));
  if (!ctx.inputs_known("teacher") || !ctx.inputs_known("student")) return Status::Ok();
  DistillSetup setup;
  RETORT_RETURN_IF_ERROR(prepare(ctx, setup));
  // The distilled student has the student's graph: downstream checks can use it.
  return ctx.save_model("model", setup.student);
}

Status DistillStage::run(plugin::StageContext& ctx) {
  const nlohmann::json& p = ctx.params();
  DistillSetup setup;
  RETORT_RETURN_IF_ERROR(prepare(ctx, setup));
  distill::DistillOptions& options = setup.options;
  const std::vector<int>& excluded = setup.excluded;
  const data::Dataset* transfer = setup.transfer;
  std::vector<Model>& teachers = setup.teachers;
  std::vector<Model*>& teacher_ptrs = setup.teacher_ptrs;
  Model& student = setup.student;
  const auto& data = setup.data;
  const std::string bias_mode = p.value("bias_correction", "none");

  nlohmann::json metrics;
  if (p.value("init", "random") == "teacher") {
    RETORT_ASSIGN_OR_RETURN(distill::InitFromTeacher init,
                            distill::init_student_from_teacher(student, teachers[0]));
    metrics["init_copied"] = init.copied;
    metrics["init_skipped"] = init.skipped;
    ctx.log("student initialised from teacher 0: " + std::to_string(init.copied.size()) +
            " layers copied, " + std::to_string(init.skipped.size()) + " kept random");
  }

  RETORT_ASSIGN_OR_RETURN(distill::DistillSummary summary,
                          distill::distill(student, teacher_ptrs, *transfer, options));
  RETORT_ASSIGN_OR_RETURN(engine::EvalResult eval,
                          engine::evaluate_classifier(student, data->test));

  const int64_t classes = static_cast<int64_t>(eval.per_class_accuracy.size());
  RETORT_ASSIGN_OR_RETURN(std::vector<float> bias,
                          explicit_bias(p.value("class_bias", nlohmann::json::object()), classes));
  if (bias_mode == "fit") {
    RETORT_ASSIGN_OR_RETURN(std::vector<float> fitted,
                            distill::fit_class_bias(student, data->train, excluded));
    for (int c : excluded) bias[c] += fitted[c];
  }
  if (std::any_of(bias.begin(), bias.end(), [](float b) { return b != 0.0f; })) {
    metrics["before_bias_correction"] = {
        {"test_accuracy", eval.accuracy},
        {"per_class_accuracy", per_class_json(eval.per_class_accuracy)}};
    RETORT_RETURN_IF_ERROR(distill::add_class_bias(student, bias));
    RETORT_ASSIGN_OR_RETURN(eval, engine::evaluate_classifier(student, data->test));
    metrics["class_bias"] = bias;
  }

  set_class_names(student, data->train.class_names);
  RETORT_RETURN_IF_ERROR(ctx.save_model("model", student));
  nlohmann::json terms = nlohmann::json::object();
  for (auto& [name, value] : summary.final_terms) terms[name] = terms.value(name, 0.0) + value;
  metrics.update({{"epochs", options.train.epochs},
                  {"teachers", teachers.size()},
                  {"transfer_images", transfer->size()},
                  {"train_loss", summary.train.epochs.back().loss},
                  {"train_accuracy", summary.train.epochs.back().accuracy},
                  {"loss_terms", terms},
                  {"test_accuracy", eval.accuracy},
                  {"test_loss", eval.loss},
                  {"per_class_accuracy", per_class_json(eval.per_class_accuracy)},
                  {"train_seconds", summary.train.seconds},
                  {"teacher_logits_cached", summary.teacher_logits_cached},
                  {"regressors", summary.regressors},
                  {"parameters", student.parameter_count()}});
  return ctx.save_metrics("metrics", metrics);
}

}  // namespace retort::stages
