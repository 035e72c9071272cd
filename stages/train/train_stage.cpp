#include "train_stage.h"

#include "retort/data/data_section.h"
#include "retort/engine/trainer.h"

namespace retort::stages {

const char* const kTrainSchema = R"json({
  "type": "object",
  "additionalProperties": false,
  "properties": {
    "epochs": {"type": "integer", "minimum": 1, "default": 5, "description": "passes over the training data"},
    "batch": {"type": "integer", "minimum": 1, "default": 128},
    "optimizer": {
      "type": "object", "additionalProperties": false, "default": {},
      "properties": {
        "type": {"type": "string", "enum": ["sgd", "adamw"], "default": "sgd"},
        "lr": {"type": "number", "exclusiveMinimum": 0, "default": 0.05},
        "momentum": {"type": "number", "minimum": 0, "exclusiveMaximum": 1, "default": 0.9},
        "nesterov": {"type": "boolean", "default": false},
        "weight_decay": {"type": "number", "minimum": 0, "default": 0}
      }
    },
    "schedule": {
      "type": "object", "additionalProperties": false, "default": {},
      "properties": {
        "type": {"type": "string", "enum": ["constant", "step", "cosine"], "default": "cosine"},
        "warmup_steps": {"type": "integer", "minimum": 0, "default": 0},
        "step_size": {"type": "integer", "minimum": 1, "default": 1000},
        "gamma": {"type": "number", "minimum": 0, "maximum": 1, "default": 0.1},
        "min_factor": {"type": "number", "minimum": 0, "maximum": 1, "default": 0}
      }
    },
    "label_smoothing": {"type": "number", "minimum": 0, "exclusiveMaximum": 1, "default": 0},
    "augment": {
      "type": "object", "additionalProperties": false, "default": {},
      "properties": {
        "crop_padding": {"type": "integer", "minimum": 0, "default": 0},
        "horizontal_flip": {"type": "boolean", "default": false}
      }
    }
  }
})json";

Status TrainStage::run(plugin::StageContext& ctx) {
  const nlohmann::json& p = ctx.params();
  RETORT_ASSIGN_OR_RETURN(Model model, ctx.load_model("model"));
  RETORT_ASSIGN_OR_RETURN(auto data, data::load_data_section(ctx.data()));

  engine::TrainOptions options;
  options.epochs = p.value("epochs", 5);
  options.batch = p.value("batch", 128);
  options.seed = ctx.seed();
  options.label_smoothing = p.value("label_smoothing", 0.0f);
  RETORT_ASSIGN_OR_RETURN(options.optimizer,
                          engine::optimizer_config_from_json(p.value("optimizer", nlohmann::json::object()),
                                                             "/params/optimizer"));
  RETORT_ASSIGN_OR_RETURN(options.schedule,
                          engine::schedule_from_json(p.value("schedule", nlohmann::json::object()),
                                                     "/params/schedule"));
  const nlohmann::json augment = p.value("augment", nlohmann::json::object());
  options.augment.crop_padding = augment.value("crop_padding", 0);
  options.augment.horizontal_flip = augment.value("horizontal_flip", false);
  options.on_progress = [&ctx](const engine::TrainProgress& pr) {
    ctx.progress({{"epoch", pr.epoch + 1}, {"epochs", pr.epochs}, {"step", pr.step},
                  {"steps", pr.steps_per_epoch}, {"loss", pr.loss}, {"accuracy", pr.accuracy},
                  {"seconds", pr.seconds}});
    return !ctx.cancelled();
  };

  RETORT_ASSIGN_OR_RETURN(engine::TrainSummary summary, engine::train_classifier(model, data->train, options));
  RETORT_ASSIGN_OR_RETURN(engine::EvalResult eval, engine::evaluate_classifier(model, data->test));
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
