#include "mutual_stage.h"

#include "retort/data/data_section.h"
#include "retort/distill/mutual.h"
#include "retort/engine/train_options_json.h"
#include "retort/engine/trainer.h"
#include "retort/graph/input_convention.h"
#include "retort/plugin/training_progress.h"

namespace retort::stages {

const char* const kMutualSchema = R"json({
  "type": "object",
  "additionalProperties": false,
  "properties": {)json" RETORT_TRAIN_LOOP_PROPERTIES R"json(,
    "temperature": {"type": "number", "exclusiveMinimum": 0, "default": 1},
    "kl_weight": {"type": "number", "minimum": 0, "default": 1,
                  "description": "weight of the mean KL to the other students"},
    "label_smoothing": {"type": "number", "minimum": 0, "exclusiveMaximum": 1, "default": 0}
  }
})json";

Status MutualStage::check(plugin::StageContext& ctx) {
  // Mutual learning keeps every student's graph: pass them on for the checks downstream.
  if (!ctx.inputs_known("students")) return Status::Ok();
  RETORT_ASSIGN_OR_RETURN(engine::TrainOptions options,
                          engine::train_options_from_json(ctx.params(), "/params"));
  for (size_t i = 0; i < ctx.input_count("students"); ++i) {
    RETORT_ASSIGN_OR_RETURN(Model m, ctx.load_model("students", i));
    RETORT_RETURN_IF_ERROR(
        engine::check_fixed_batch(m, options.batch).with_context("student " + std::to_string(i)));
    RETORT_RETURN_IF_ERROR(ctx.save_model("models", m, static_cast<int>(i)));
    if (i == 0) RETORT_RETURN_IF_ERROR(ctx.save_model("model", m));
  }
  return Status::Ok();
}

Status MutualStage::run(plugin::StageContext& ctx) {
  const nlohmann::json& p = ctx.params();
  distill::MutualOptions options;
  RETORT_ASSIGN_OR_RETURN(options.train, engine::train_options_from_json(p, "/params"));
  options.train.seed = ctx.seed();
  options.train.label_smoothing = p.value("label_smoothing", 0.0f);
  options.train.on_progress = plugin::training_progress(ctx);
  options.temperature = p.value("temperature", 1.0f);
  options.kl_weight = p.value("kl_weight", 1.0f);

  RETORT_ASSIGN_OR_RETURN(auto data, data::load_data_section(ctx.data()));
  const size_t count = ctx.input_count("students");
  if (count < 2)
    return make_error(ErrorCode::kInvalidArgument,
                      "/inputs/students: mutual learning needs at least 2 students, got ", count,
                      "; bind a list such as [\"models.a\", \"models.b\"]");
  std::vector<Model> students;
  for (size_t i = 0; i < count; ++i) {
    RETORT_ASSIGN_OR_RETURN(Model m, ctx.load_model("students", i));
    students.push_back(std::move(m));
  }
  std::vector<Model*> ptrs;
  ptrs.reserve(students.size());
  for (Model& m : students) ptrs.push_back(&m);
  RETORT_ASSIGN_OR_RETURN(distill::MutualSummary summary,
                          distill::train_mutual(ptrs, data->train, options));

  nlohmann::json per_student = nlohmann::json::array();
  for (size_t i = 0; i < count; ++i) {
    RETORT_ASSIGN_OR_RETURN(engine::EvalResult eval,
                            engine::evaluate_classifier(students[i], data->test));
    set_class_names(students[i], data->train.class_names);
    RETORT_RETURN_IF_ERROR(ctx.save_model("models", students[i], static_cast<int>(i)));
    per_student.push_back({{"student", i},
                           {"test_accuracy", eval.accuracy},
                           {"test_loss", eval.loss},
                           {"train_accuracy", summary.students[i].epochs.back().accuracy},
                           {"parameters", students[i].parameter_count()}});
  }
  RETORT_RETURN_IF_ERROR(ctx.save_model("model", students[0]));
  return ctx.save_metrics("metrics", {{"students", per_student},
                                      {"test_accuracy", per_student[0]["test_accuracy"]},
                                      {"train_seconds", summary.seconds}});
}

}  // namespace retort::stages
