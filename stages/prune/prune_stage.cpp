#include "prune_stage.h"

#include <filesystem>

#include "retort/data/data_section.h"
#include "retort/engine/speed.h"
#include "retort/engine/train_options_json.h"
#include "retort/graph/input_convention.h"
#include "retort/graph/onnx_io.h"
#include "retort/plugin/training_progress.h"
#include "retort/prune/channel_pruning.h"
#include "retort/prune/pruning.h"
#include "retort/prune/sparse_format.h"
#include "retort/prune/sparsity_report.h"

namespace retort::stages {

const char* const kPruneSchema = R"json({
  "type": "object",
  "additionalProperties": false,
  "properties": {)json" RETORT_PRUNE_CONFIG_PROPERTIES R"json(,
    "fine_tune": {"type": "object", "additionalProperties": false, "default": {},
                  "description": "the training loop after (and between) pruning steps",
                  "properties": {)json" RETORT_TRAIN_LOOP_PROPERTIES R"json(}},
    "losses": {"type": "array", "minItems": 1, "items": {"type": "object"},
               "description": "distillation terms when a teacher is given (default [{\"type\": \"kd\", \"temperature\": 4, \"alpha\": 0.9}]); see docs/distillation.md"},
    "measure_speed": {"type": "boolean", "default": true,
                      "description": "measure latency (batch 1) and throughput before and after"},
    "latency_iterations": {"type": "integer", "minimum": 1, "default": 30},
    "throughput_batch": {"type": "integer", "minimum": 1, "default": 128}
  }
})json";

namespace {

constexpr const char* kCompactFormat =
    "retort-sparse-v1 + zstd-19: per initializer, a bitmap of non-zeros (1 bit per weight) and "
    "the non-zero float32 values when that is smaller than dense float32, else dense; the whole "
    "stream compressed with zstd level 19 (weights only, not the graph)";

const char* method_name(prune::Method m) {
  switch (m) {
    case prune::Method::kMagnitude:
      return "magnitude";
    case prune::Method::kNm:
      return "nm";
    case prune::Method::kStructured:
      return "structured";
  }
  return "?";
}

const char* schedule_name(prune::ScheduleKind k) {
  switch (k) {
    case prune::ScheduleKind::kOneShot:
      return "one_shot";
    case prune::ScheduleKind::kIterative:
      return "iterative";
    case prune::ScheduleKind::kGradual:
      return "gradual";
  }
  return "?";
}

struct Measured {  // NOLINT(bugprone-exception-escape): json's default constructor never throws
  nlohmann::json json;
  double accuracy = 0;
  double latency_ms = 0;
  double throughput = 0;
};

// The dense and the pruned model's speed, measured as a pair (engine::measure_speed_pair).
Status measure_speed_pair(Model& dense, Model& pruned, const nlohmann::json& p, Measured& before,
                          Measured& after) {
  RETORT_ASSIGN_OR_RETURN(
      auto speeds, engine::measure_speed_pair(dense, pruned, p.value("latency_iterations", 30),
                                              p.value("throughput_batch", int64_t{128})));
  for (auto [m, r] : {std::pair{&before, &speeds.first}, std::pair{&after, &speeds.second}}) {
    m->latency_ms = r->latency_ms_median;
    m->throughput = r->throughput;
    m->json["latency_ms_median"] = r->latency_ms_median;
    m->json["latency_ms_p99"] = r->latency_ms_p99;
    m->json["throughput"] = r->throughput;
    m->json["throughput_batch"] = r->throughput_batch;
    m->json["threads"] = r->threads;
  }
  return Status::Ok();
}

Expected<Measured> measure(Model& model, const data::Dataset& test, int64_t file_bytes) {
  Measured m;
  RETORT_ASSIGN_OR_RETURN(engine::EvalResult eval, engine::evaluate_classifier(model, test));
  RETORT_ASSIGN_OR_RETURN(prune::SparsityReport sparsity, prune::measure_sparsity(model));
  RETORT_ASSIGN_OR_RETURN(prune::CompactSize compact, prune::compact_size(model));
  m.accuracy = eval.accuracy;
  m.json = {{"test_accuracy", eval.accuracy},
            {"test_loss", eval.loss},
            {"parameters", sparsity.parameters},
            {"nonzero_parameters", sparsity.nonzero_parameters},
            {"sparsity", sparsity.sparsity},
            {"prunable_sparsity", sparsity.prunable_sparsity},
            {"onnx_bytes", file_bytes},
            {"weight_bytes", compact.dense_weight_bytes},
            {"weight_zstd_bytes", compact.dense_zstd_bytes},
            {"sparse_bytes", compact.sparse_bytes},
            {"compact_bytes", compact.sparse_zstd_bytes},
            {"macs", sparsity.macs},
            {"flops", sparsity.flops},
            {"nonzero_macs", sparsity.nonzero_macs},
            {"nonzero_flops", sparsity.nonzero_flops},
            {"layers", prune::to_json(sparsity)["layers"]}};
  return m;
}

// The params that need no model: the pruning config, the fine-tuning loop and, with
// teachers, the distillation terms.
Status parse_params(const plugin::StageContext& ctx, prune::PruneConfig& config,
                    prune::FineTune& ft) {
  const nlohmann::json& p = ctx.params();
  RETORT_ASSIGN_OR_RETURN(config, prune::parse_prune_config(p, "/params"));
  const nlohmann::json fine = p.value("fine_tune", nlohmann::json::object());
  RETORT_ASSIGN_OR_RETURN(ft.options.train,
                          engine::train_options_from_json(fine, "/params/fine_tune"));
  ft.options.train.seed = ctx.seed();
  const size_t teachers = ctx.input_count("teacher");
  if (teachers == 0 && p.contains("losses"))
    return make_error(ErrorCode::kInvalidArgument,
                      "/params/losses: distillation terms need a \"teacher\" input; without one "
                      "fine-tuning uses the labels (remove \"losses\" or add a teacher)");
  if (teachers > 0)
    RETORT_RETURN_IF_ERROR(distill::parse_loss_terms(
        p.value("losses",
                nlohmann::json::array({{{"type", "kd"}, {"temperature", 4}, {"alpha", 0.9}}})),
        "/params", ft.options));
  if (config.method == prune::Method::kStructured && !config.layers.empty()) {
    // Only the named layers' groups, at the ratio.
    for (const std::string& l : config.layers)
      config.structured.layer_ratios.emplace(l, config.structured.ratio);
    config.structured.ratio = 0;
  }
  return Status::Ok();
}

}  // namespace

Status PruneStage::check(plugin::StageContext& ctx) {
  prune::PruneConfig config;
  prune::FineTune ft;
  RETORT_RETURN_IF_ERROR(parse_params(ctx, config, ft));
  if (!ctx.inputs_known("model")) return Status::Ok();
  RETORT_ASSIGN_OR_RETURN(Model model, ctx.load_model("model"));
  if (config.method == prune::Method::kStructured) {
    // The kept channel counts follow from the ratios and the graph alone, not from the
    // weights: the untrained model's surgery gives the graph the run will produce.
    RETORT_ASSIGN_OR_RETURN(prune::StructuredResult result,
                            prune::prune_channels(model, config.structured));
    model = std::move(result.model);
  } else {
    RETORT_RETURN_IF_ERROR(prune::select_layers(model, config.layers, "/params/layers").status());
  }
  const size_t count = ctx.input_count("teacher");
  if (count > 0 && ctx.inputs_known("teacher")) {
    std::vector<Model> teachers;
    for (size_t i = 0; i < count; ++i) {
      RETORT_ASSIGN_OR_RETURN(Model t, ctx.load_model("teacher", i));
      teachers.push_back(std::move(t));
    }
    for (Model& t : teachers) ft.teachers.push_back(&t);
    RETORT_ASSIGN_OR_RETURN(auto data, data::load_data_section(ctx.data()));
    RETORT_RETURN_IF_ERROR(
        distill::check_distill_setup(model, ft.teachers, data->train, ft.options));
  }
  return ctx.save_model("model", model);
}

Status PruneStage::run(plugin::StageContext& ctx) {
  const nlohmann::json& p = ctx.params();
  prune::PruneConfig config;
  prune::FineTune ft;
  RETORT_RETURN_IF_ERROR(parse_params(ctx, config, ft));
  ft.options.train.on_progress = plugin::training_progress(ctx);

  RETORT_ASSIGN_OR_RETURN(auto data, data::load_data_section(ctx.data()));
  std::vector<Model> teachers;
  for (size_t i = 0; i < ctx.input_count("teacher"); ++i) {
    RETORT_ASSIGN_OR_RETURN(Model t, ctx.load_model("teacher", i));
    teachers.push_back(std::move(t));
  }
  for (Model& t : teachers) ft.teachers.push_back(&t);
  RETORT_ASSIGN_OR_RETURN(Model model, ctx.load_model("model"));
  if (config.method != prune::Method::kStructured) {
    // Layer names are checked before anything is measured or trained.
    RETORT_RETURN_IF_ERROR(prune::select_layers(model, config.layers, "/params/layers").status());
  }
  if (!teachers.empty())
    RETORT_RETURN_IF_ERROR(
        distill::check_distill_setup(model, ft.teachers, data->train, ft.options));

  RETORT_ASSIGN_OR_RETURN(std::string dense_bytes, serialize_onnx(model));
  ctx.log("measuring the dense model");
  RETORT_ASSIGN_OR_RETURN(Measured before,
                          measure(model, data->test, static_cast<int64_t>(dense_bytes.size())));

  nlohmann::json metrics = {{"method", method_name(config.method)},
                            {"schedule", schedule_name(config.schedule)},
                            {"teachers", teachers.size()}};
  if (config.method == prune::Method::kStructured) {
    RETORT_ASSIGN_OR_RETURN(prune::StructuredResult result,
                            prune::prune_channels(model, config.structured));
    nlohmann::json changes = nlohmann::json::array();
    for (const prune::ChannelChange& c : result.changes)
      changes.push_back({{"group", c.group}, {"before", c.before}, {"after", c.after}});
    metrics["channels"] = changes;
    model = std::move(result.model);
    RETORT_ASSIGN_OR_RETURN(engine::TrainSummary t, prune::fine_tune(model, data->train, ft, {}));
    metrics["steps"] = t.steps;
    metrics["train_seconds"] = t.seconds;
    if (!t.epochs.empty()) metrics["train_accuracy"] = t.epochs.back().accuracy;
  } else {
    RETORT_ASSIGN_OR_RETURN(prune::PruneSummary s,
                            prune::prune_and_fine_tune(model, config, data->train, ft, "/params"));
    nlohmann::json rounds = nlohmann::json::array();
    for (const prune::PruneRound& r : s.rounds)
      rounds.push_back({{"target", r.target},
                        {"sparsity", r.sparsity},
                        {"train_loss", r.train_loss},
                        {"train_accuracy", r.train_accuracy}});
    metrics["rounds"] = rounds;
    metrics["steps"] = s.steps;
    metrics["mask_updates"] = s.mask_updates;
    metrics["train_seconds"] = s.train_seconds;
    metrics["pruned_layers"] = prune::layer_names(s.layers);
    if (!s.skipped.empty()) metrics["skipped_layers"] = s.skipped;
    if (config.schedule == prune::ScheduleKind::kGradual)
      metrics["gradual"] = {{"initial_sparsity", s.cubic.initial},
                            {"start_step", s.cubic.start_step},
                            {"end_step", s.cubic.end_step},
                            {"frequency", s.cubic.frequency}};
    if (config.method == prune::Method::kNm)
      metrics["pattern"] = std::to_string(config.nm.n) + ":" + std::to_string(config.nm.m);
  }

  set_class_names(model, data->train.class_names);
  RETORT_RETURN_IF_ERROR(ctx.save_model("model", model));
  const std::filesystem::path saved = std::filesystem::path(ctx.output_dir()) / "model.onnx";
  std::error_code ec;
  const auto saved_bytes = std::filesystem::file_size(saved, ec);
  RETORT_ASSIGN_OR_RETURN(Measured after,
                          measure(model, data->test, ec ? -1 : static_cast<int64_t>(saved_bytes)));

  // The headline numbers first (the report shows the first few), then the details.
  metrics["test_accuracy"] = after.accuracy;
  metrics["dense_test_accuracy"] = before.accuracy;
  metrics["change_vs_dense"] = after.accuracy - before.accuracy;
  metrics["sparsity"] = after.json["prunable_sparsity"];
  metrics["parameters"] = after.json["parameters"];
  metrics["nonzero_parameters"] = after.json["nonzero_parameters"];
  metrics["dense_bytes"] = before.json["onnx_bytes"];
  metrics["bytes"] = after.json["onnx_bytes"];
  metrics["compact_bytes"] = after.json["compact_bytes"];
  metrics["compact_format"] = kCompactFormat;
  metrics["flops_before"] = before.json["flops"];
  metrics["flops_after"] = after.json["flops"];
  metrics["sparse_flops_after"] = after.json["nonzero_flops"];
  if (p.value("measure_speed", true)) {
    RETORT_ASSIGN_OR_RETURN(Model dense, parse_onnx(dense_bytes, "the dense model"));
    RETORT_RETURN_IF_ERROR(measure_speed_pair(dense, model, p, before, after));
    const double lat = after.latency_ms > 0 ? before.latency_ms / after.latency_ms : 0;
    const double thr = before.throughput > 0 ? after.throughput / before.throughput : 0;
    metrics["latency_speedup"] = lat;
    metrics["throughput_speedup"] = thr;
    metrics["speedup"] = thr;
    char text[640];
    if (config.method == prune::Method::kStructured) {
      std::snprintf(text, sizeof text,
                    "structured: the layers are smaller dense layers; measured %.2fx throughput "
                    "(batch %lld) and %.2fx latency (batch 1)",
                    thr, static_cast<long long>(p.value("throughput_batch", int64_t{128})), lat);
    } else {
      std::snprintf(
          text, sizeof text,
          "%s: %s sparsity keeps every layer's dense shape and the engine runs dense kernels, "
          "so zeros cost the same as other weights (measured: %.2fx throughput, %.2fx "
          "latency); the gains are size (%.1fx smaller compact form) and the %.1fx fewer "
          "non-zero FLOPs a sparse kernel could skip",
          thr < 1.1 && lat < 1.1 ? "no speed-up"
                                 : "no speed-up expected (the difference is timing noise)",
          config.method == prune::Method::kNm ? "N:M" : "unstructured", thr, lat,
          after.json["compact_bytes"].get<double>() > 0
              ? before.json["compact_bytes"].get<double>() /
                    after.json["compact_bytes"].get<double>()
              : 0.0,
          after.json["nonzero_flops"].get<double>() > 0
              ? before.json["flops"].get<double>() / after.json["nonzero_flops"].get<double>()
              : 0.0);
    }
    metrics["speed_note"] = text;
  }
  // Nested one level deeper so the run report's summary line keeps to the headline numbers.
  metrics["measured"] = {{"before", std::move(before.json)}, {"after", std::move(after.json)}};
  return ctx.save_metrics("metrics", metrics);
}

}  // namespace retort::stages
