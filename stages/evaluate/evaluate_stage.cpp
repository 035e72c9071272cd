#include "evaluate_stage.h"

#include <filesystem>

#include "retort/data/data_section.h"
#include "retort/distill/ensemble.h"
#include "retort/engine/flops.h"
#include "retort/engine/speed.h"
#include "retort/engine/trainer.h"
#include "retort/graph/model_size.h"

namespace retort::stages {

const char* const kEvaluateSchema = R"json({
  "type": "object",
  "additionalProperties": false,
  "properties": {
    "speed": {"type": "boolean", "default": true, "description": "measure latency and throughput"},
    "latency_iterations": {"type": "integer", "minimum": 1, "default": 50},
    "throughput_batch": {"type": "integer", "minimum": 1, "default": 128},
    "per_class": {"type": "boolean", "default": false, "description": "report per-class accuracy"},
    "ensemble": {"type": "boolean", "default": false,
                 "description": "also evaluate the models together (mean of their softmax), e.g. born-again generations"},
    "baseline": {"type": "integer", "minimum": 0, "default": 0,
                 "description": "index of the model the others are compared with (accuracy retained in percent, compression ratio, speed-up), e.g. the teacher"}
  }
})json";

std::string artifact_name(const std::string& path) {
  const std::filesystem::path p(path);
  return p.parent_path().filename().string() + "." + p.stem().string();
}

Status EvaluateStage::run(plugin::StageContext& ctx) {
  const nlohmann::json& p = ctx.params();
  RETORT_ASSIGN_OR_RETURN(auto data, data::load_data_section(ctx.data()));
  nlohmann::json models = nlohmann::json::array();
  const size_t count = ctx.input_count("models");
  for (size_t i = 0; i < count; ++i) {
    if (ctx.cancelled()) return make_error(ErrorCode::kCancelled, "evaluation stopped");
    const std::string path = ctx.input_path("models", i);
    RETORT_ASSIGN_OR_RETURN(Model model, ctx.load_model("models", i));
    const std::string name = path.empty() ? "models." + std::to_string(i) : artifact_name(path);
    RETORT_ASSIGN_OR_RETURN(engine::EvalResult eval,
                            engine::evaluate_classifier(model, data->test));
    RETORT_ASSIGN_OR_RETURN(engine::ComputeCost cost, engine::count_compute(model));
    nlohmann::json m = {{"name", name},
                        {"accuracy", eval.accuracy},
                        {"loss", eval.loss},
                        {"test_images", eval.count},
                        {"parameters", model.parameter_count()},
                        {"nonzero_parameters", model.nonzero_parameters()},
                        {"macs", cost.macs},
                        {"flops", cost.flops}};
    if (!path.empty()) {
      RETORT_ASSIGN_OR_RETURN(ModelFileSize size, model_file_size(path));
      m["bytes"] = size.bytes;
      m["gzip_bytes"] = size.gzip_bytes;
    }
    if (p.value("per_class", false)) {
      nlohmann::json per_class = nlohmann::json::array();
      for (double a : eval.per_class_accuracy)
        per_class.push_back(std::isnan(a) ? nlohmann::json() : nlohmann::json(a));
      m["per_class_accuracy"] = per_class;
    }
    if (p.value("speed", true)) {
      RETORT_ASSIGN_OR_RETURN(engine::SpeedReport speed,
                              engine::measure_speed(model, p.value("latency_iterations", 50),
                                                    p.value("throughput_batch", int64_t{128})));
      m["latency_ms_median"] = speed.latency_ms_median;
      if (speed.latency_batch != 1) m["latency_batch"] = speed.latency_batch;
      m["latency_ms_p99"] = speed.latency_ms_p99;
      m["throughput"] = speed.throughput;
      m["throughput_batch"] = speed.throughput_batch;
      m["threads"] = speed.threads;
    }
    ctx.progress({{"step", i + 1}, {"steps", count}, {"accuracy", eval.accuracy}});
    models.push_back(m);
  }
  nlohmann::json metrics = {{"models", models}};
  if (p.value("ensemble", false)) {
    std::vector<Model> members;
    for (size_t i = 0; i < count; ++i) {
      RETORT_ASSIGN_OR_RETURN(Model m, ctx.load_model("models", i));
      members.push_back(std::move(m));
    }
    std::vector<Model*> ptrs;
    for (Model& m : members) ptrs.push_back(&m);
    RETORT_ASSIGN_OR_RETURN(engine::EvalResult eval, distill::evaluate_ensemble(ptrs, data->test));
    metrics["ensemble"] = {
        {"name", "ensemble"}, {"members", count}, {"accuracy", eval.accuracy}, {"loss", eval.loss}};
  }
  // Each model against the baseline (the teacher of a pipeline): what compression kept and won.
  const auto baseline = static_cast<size_t>(p.value("baseline", int64_t{0}));
  if (count > 1 && baseline >= count)
    return make_error(ErrorCode::kInvalidArgument, "/params/baseline: ", baseline,
                      " is not a model index; the stage has ", count, " models (0 to ", count - 1,
                      ")");
  if (count > 1) {
    const nlohmann::json base = models[baseline];
    for (nlohmann::json& m : models) {
      m["accuracy_retained"] =
          base["accuracy"].get<double>() > 0
              ? 100.0 * m["accuracy"].get<double>() / base["accuracy"].get<double>()
              : 0.0;
      if (m.contains("bytes") && base.contains("bytes") && m["bytes"].get<double>() > 0)
        m["compression_ratio"] = base["bytes"].get<double>() / m["bytes"].get<double>();
      if (m.contains("throughput") && base.contains("throughput") &&
          base["throughput"].get<double>() > 0)
        m["speedup"] = m["throughput"].get<double>() / base["throughput"].get<double>();
    }
    metrics["baseline"] = base["name"];
    metrics["models"] = models;
  }
  // The most accurate model (ties: the first), so a sweep's report names its winner.
  const nlohmann::json* best = nullptr;
  for (const nlohmann::json& m : models)
    if (best == nullptr || m["accuracy"].get<double>() > (*best)["accuracy"].get<double>())
      best = &m;
  if (best != nullptr)
    metrics["best"] = {{"name", (*best)["name"]}, {"accuracy", (*best)["accuracy"]}};
  return ctx.save_metrics("metrics", metrics);
}

}  // namespace retort::stages
