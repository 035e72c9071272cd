#include "train_stage.h"

#include "retort/data/data_section.h"
#include "retort/engine/train_options_json.h"
#include "retort/engine/trainer.h"
#include "retort/graph/input_convention.h"
#include "retort/plugin/training_progress.h"

namespace retort::stages {

const char* const kTrainSchema = R"json({
  "type": "object",
  "additionalProperties": false,
  "properties": {)json" RETORT_TRAIN_LOOP_PROPERTIES R"json(,
    "label_smoothing": {"type": "number", "minimum": 0, "exclusiveMaximum": 1, "default": 0}
  }
})json";

Status TrainStage::check(plugin::StageContext& ctx) {
  // Training keeps the graph: pass the model on for the checks downstream.
  if (!ctx.inputs_known("model")) return Status::Ok();
  RETORT_ASSIGN_OR_RETURN(Model model, ctx.load_model("model"));
  // What run() feeds it: the training images in batches of "batch".
  RETORT_ASSIGN_OR_RETURN(auto data, data::load_data_section(ctx.data()));
  RETORT_ASSIGN_OR_RETURN(engine::TrainOptions options,
                          engine::train_options_from_json(ctx.params(), "/params"));
  RETORT_RETURN_IF_ERROR(engine::check_classifier_fits(model, data->train, options.batch));
  return ctx.save_model("model", model);
}

Status TrainStage::run(plugin::StageContext& ctx) {
  const nlohmann::json& p = ctx.params();
  RETORT_ASSIGN_OR_RETURN(Model model, ctx.load_model("model"));
  RETORT_ASSIGN_OR_RETURN(auto data, data::load_data_section(ctx.data()));

  RETORT_ASSIGN_OR_RETURN(engine::TrainOptions options,
                          engine::train_options_from_json(p, "/params"));
  options.seed = ctx.seed();
  options.label_smoothing = p.value("label_smoothing", 0.0f);
  options.on_progress = plugin::training_progress(ctx);

  RETORT_ASSIGN_OR_RETURN(engine::TrainSummary summary,
                          engine::train_classifier(model, data->train, options));
  RETORT_ASSIGN_OR_RETURN(engine::EvalResult eval, engine::evaluate_classifier(model, data->test));
  // The model's outputs now stand for the training data's classes: their names go into the
  // ONNX metadata (the recipe's data.class_names, or the dataset's own).
  const std::vector<std::string> before = class_names(model);
  if (!before.empty() && before != data->train.class_names)
    ctx.log("the data's class names replace the ones of the model spec in the model's metadata");
  set_class_names(model, data->train.class_names);
  RETORT_RETURN_IF_ERROR(ctx.save_model("model", model));
  return ctx.save_metrics("metrics", {{"epochs", options.epochs},
                                      {"train_loss", summary.epochs.back().loss},
                                      {"train_accuracy", summary.epochs.back().accuracy},
                                      {"test_accuracy", eval.accuracy},
                                      {"test_loss", eval.loss},
                                      {"train_seconds", summary.seconds},
                                      {"parameters", model.parameter_count()}});
}

}  // namespace retort::stages
