#include "import_stage.h"

#include "retort/data/data_section.h"
#include "retort/engine/trainer.h"
#include "retort/graph/input_convention.h"

namespace retort::stages {

const char* const kImportSchema = R"json({
  "type": "object",
  "additionalProperties": false,
  "properties": {
    "scale": {"type": "number", "exclusiveMinimum": 0, "default": 1,
              "description": "the model expects pixels * scale (255 for 0-255 models)"},
    "mean": {"type": "array", "items": {"type": "number"}, "default": [0],
             "description": "per-channel mean the model expects subtracted (after scale)"},
    "std": {"type": "array", "items": {"type": "number", "exclusiveMinimum": 0}, "default": [1],
            "description": "per-channel std the model expects divided by"},
    "class_names": {"type": "array", "items": {"type": "string"}},
    "trainable": {"type": "array", "items": {"type": "string"}, "default": [],
                  "description": "name patterns (* and ? wildcards) of float initializers that training updates although their role would not make them parameters (e.g. a buffer the model multiplies by)"},
    "frozen": {"type": "array", "items": {"type": "string"}, "default": [],
               "description": "name patterns of float initializers that training never updates (wins over trainable)"}
  }
})json";

namespace {

// The model with the input convention baked in and its classes named: what check() passes on
// and run() evaluates and saves.
Expected<Model> imported_model(plugin::StageContext& ctx, const data::Dataset& test) {
  const nlohmann::json& p = ctx.params();
  const std::string path = ctx.input_path("model");
  RETORT_ASSIGN_OR_RETURN(Model model, ctx.load_model("model"));
  Status baked = bake_input_convention(
      model, test.channels(), test.height(), test.width(), p.value("scale", 1.0f),
      p.value("mean", std::vector<float>{0.0f}), p.value("std", std::vector<float>{1.0f}));
  RETORT_RETURN_IF_ERROR(baked.with_context(path.empty() ? "model" : path));
  // The classes the model's outputs stand for: as the params name them, else the data's.
  const std::vector<std::string> names = p.contains("class_names")
                                             ? p.at("class_names").get<std::vector<std::string>>()
                                             : test.class_names;
  set_class_names(model, names);
  RETORT_RETURN_IF_ERROR(override_trainable(model, p.value("trainable", std::vector<std::string>{}),
                                            p.value("frozen", std::vector<std::string>{}),
                                            "/params"));
  return model;
}

}  // namespace

Status ImportStage::check(plugin::StageContext& ctx) {
  if (!ctx.inputs_known("model")) return Status::Ok();
  RETORT_ASSIGN_OR_RETURN(auto data, data::load_data_section(ctx.data()));
  RETORT_ASSIGN_OR_RETURN(Model model, imported_model(ctx, data->test));
  return ctx.save_model("model", model);
}

Status ImportStage::run(plugin::StageContext& ctx) {
  RETORT_ASSIGN_OR_RETURN(auto data, data::load_data_section(ctx.data()));
  const data::Dataset& test = data->test;
  RETORT_ASSIGN_OR_RETURN(Model model, imported_model(ctx, test));
  // Prove it runs on this data before anything downstream relies on it.
  RETORT_ASSIGN_OR_RETURN(engine::EvalResult eval, engine::evaluate_classifier(model, test));
  RETORT_RETURN_IF_ERROR(ctx.save_model("model", model));
  return ctx.save_metrics("metrics", {{"test_accuracy", eval.accuracy},
                                      {"test_loss", eval.loss},
                                      {"parameters", model.parameter_count()},
                                      {"source", ctx.input_path("model")}});
}

}  // namespace retort::stages
