#include "quantize_stage.h"

#include <filesystem>

#include "retort/data/data_section.h"
#include "retort/distill/distiller.h"
#include "retort/engine/speed.h"
#include "retort/engine/train_options_json.h"
#include "retort/engine/trainer.h"
#include "retort/graph/input_convention.h"
#include "retort/graph/onnx_io.h"
#include "retort/plugin/training_progress.h"
#include "retort/quant/quantize.h"

namespace retort::stages {

const char* const kQuantizeSchema = R"json({
  "type": "object",
  "additionalProperties": false,
  "properties": {)json" RETORT_QUANTIZE_PROPERTIES R"json(,
    "train": {"type": "object", "additionalProperties": false,
              "description": "qat/qad: the training loop through the fake quantization (defaults as the train stage's)",
              "properties": {)json" RETORT_TRAIN_LOOP_PROPERTIES R"json(}},
    "losses": {"type": "array", "minItems": 1, "items": {"type": "object"},
               "description": "qad: distillation terms (default [{\"type\": \"kd\", \"temperature\": 4, \"alpha\": 0.9}]); see docs/distillation.md"},
    "measure_speed": {"type": "boolean", "default": true,
                      "description": "measure latency (batch 1) and throughput of the float32 and the int8 model"},
    "latency_iterations": {"type": "integer", "minimum": 1, "default": 30},
    "throughput_batch": {"type": "integer", "minimum": 1, "default": 128}
  }
})json";

namespace {

Status parse_params(const plugin::StageContext& ctx, quant::QuantizeOptions& o) {
  const nlohmann::json& p = ctx.params();
  RETORT_ASSIGN_OR_RETURN(o, quant::parse_quantize_options(p, "/params"));
  RETORT_ASSIGN_OR_RETURN(
      o.fine_tune.options.train,
      engine::train_options_from_json(p.value("train", nlohmann::json::object()), "/params/train"));
  o.fine_tune.options.train.seed = ctx.seed();
  const size_t teachers = ctx.input_count("teacher");
  if (o.mode == quant::QuantMode::kQad && teachers == 0)
    return make_error(ErrorCode::kInvalidArgument,
                      "/params/mode: qad distills from a teacher, but the stage has no \"teacher\" "
                      "input (add one, or use mode qat)");
  if (o.mode != quant::QuantMode::kQad && teachers > 0)
    return make_error(ErrorCode::kInvalidArgument, "/params/mode: ", quant::mode_name(o.mode),
                      " does not use the \"teacher\" input (use mode qad to distill from it)");
  if (o.mode != quant::QuantMode::kQad && p.contains("losses"))
    return make_error(ErrorCode::kInvalidArgument,
                      "/params/losses: distillation terms need mode qad and a teacher");
  if (o.mode == quant::QuantMode::kPtq && p.contains("train"))
    return make_error(ErrorCode::kInvalidArgument,
                      "/params/train: mode ptq does not train (use mode qat or qad)");
  if (o.mode == quant::QuantMode::kQad)
    RETORT_RETURN_IF_ERROR(distill::parse_loss_terms(
        p.value("losses",
                nlohmann::json::array({{{"type", "kd"}, {"temperature", 4}, {"alpha", 0.9}}})),
        "/params", o.fine_tune.options));
  return Status::Ok();
}

// Top-1 agreement of two models on `test` (the int8 engine against the float32 simulation).
Expected<double> top1_agreement(Model& a, bool a_int8, Model& b, bool b_int8,
                                const data::Dataset& test) {
  const int64_t batch = std::min<int64_t>(engine::runnable_batch(b, 256), test.size());
  RETORT_RETURN_IF_ERROR(engine::check_fixed_batch(a, batch));
  engine::PlanOptions pa, pb;
  pa.batch = pb.batch = batch;
  pa.lower_int8 = a_int8;
  pb.lower_int8 = b_int8;
  RETORT_ASSIGN_OR_RETURN(auto plan_a, engine::Plan::compile(a, pa));
  RETORT_ASSIGN_OR_RETURN(auto plan_b, engine::Plan::compile(b, pb));
  int64_t same = 0;
  for (int64_t start = 0; start < test.size(); start += batch) {
    const int64_t count = std::min(batch, test.size() - start);
    for (auto* plan : {plan_a.get(), plan_b.get()}) {
      std::copy(test.sample(start), test.sample(start) + count * test.sample_numel(),
                plan->input(0).data);
      plan->forward(false);
    }
    const engine::View la = plan_a->output(0), lb = plan_b->output(0);
    const int64_t classes = la.shape[1];
    for (int64_t i = 0; i < count; ++i) {
      const float* ra = la.data + i * classes;
      const float* rb = lb.data + i * classes;
      same +=
          (std::max_element(ra, ra + classes) - ra) == (std::max_element(rb, rb + classes) - rb);
    }
  }
  return test.size() ? static_cast<double>(same) / static_cast<double>(test.size()) : 0.0;
}

nlohmann::json speed_json(const engine::SpeedReport& s) {
  return {{"latency_ms_median", s.latency_ms_median},
          {"latency_ms_p99", s.latency_ms_p99},
          {"throughput", s.throughput},
          {"throughput_batch", s.throughput_batch},
          {"threads", s.threads}};
}

}  // namespace

Status QuantizeStage::check(plugin::StageContext& ctx) {
  quant::QuantizeOptions o;
  RETORT_RETURN_IF_ERROR(parse_params(ctx, o));
  if (!ctx.inputs_known("model")) return Status::Ok();
  RETORT_ASSIGN_OR_RETURN(Model model, ctx.load_model("model"));
  // The graph the run produces follows from the graph alone: fold, plan, insert, convert.
  if (o.fold_batch_norm != quant::BatchNormFold::kOff)
    RETORT_RETURN_IF_ERROR(quant::fold_batch_norms(model).status());
  RETORT_ASSIGN_OR_RETURN(quant::QuantizationPlan plan, quant::plan_quantization(model, o.spec));
  if (plan.quantized.empty())
    return make_error(ErrorCode::kInvalidArgument,
                      "/params/ops: no node of the requested op types can be quantized",
                      plan.skipped.empty()
                          ? std::string()
                          : " ('" + plan.skipped[0].node + "': " + plan.skipped[0].reason + ")");
  if (o.mode == quant::QuantMode::kQad && ctx.inputs_known("teacher")) {
    std::vector<Model> teachers;
    for (size_t i = 0; i < ctx.input_count("teacher"); ++i) {
      RETORT_ASSIGN_OR_RETURN(Model t, ctx.load_model("teacher", i));
      teachers.push_back(std::move(t));
    }
    for (Model& t : teachers) o.fine_tune.teachers.push_back(&t);
    RETORT_ASSIGN_OR_RETURN(auto data, data::load_data_section(ctx.data()));
    RETORT_RETURN_IF_ERROR(distill::check_distill_setup(model, o.fine_tune.teachers, data->train,
                                                        o.fine_tune.options));
  }
  RETORT_RETURN_IF_ERROR(quant::compute_weight_qparams(model, plan, o.weight_observer));
  RETORT_RETURN_IF_ERROR(quant::apply_quantization(model, plan, {}));
  RETORT_RETURN_IF_ERROR(quant::to_int8_weights(model).status());
  return ctx.save_model("model", model);
}

Status QuantizeStage::run(plugin::StageContext& ctx) {
  const nlohmann::json& p = ctx.params();
  quant::QuantizeOptions o;
  RETORT_RETURN_IF_ERROR(parse_params(ctx, o));
  o.fine_tune.options.train.on_progress = plugin::training_progress(ctx);
  RETORT_ASSIGN_OR_RETURN(auto data, data::load_data_section(ctx.data()));
  std::vector<Model> teachers;
  for (size_t i = 0; i < ctx.input_count("teacher"); ++i) {
    RETORT_ASSIGN_OR_RETURN(Model t, ctx.load_model("teacher", i));
    teachers.push_back(std::move(t));
  }
  for (Model& t : teachers) o.fine_tune.teachers.push_back(&t);
  RETORT_ASSIGN_OR_RETURN(Model model, ctx.load_model("model"));
  RETORT_ASSIGN_OR_RETURN(std::string fp32_bytes, serialize_onnx(model));
  RETORT_ASSIGN_OR_RETURN(Model fp32, parse_onnx(fp32_bytes, "the float32 model"));

  ctx.log("measuring the float32 model");
  RETORT_ASSIGN_OR_RETURN(engine::EvalResult fp32_eval,
                          engine::evaluate_classifier(fp32, data->test));
  RETORT_ASSIGN_OR_RETURN(quant::QuantizeSummary s, quant::quantize_model(model, data->train, o));
  RETORT_ASSIGN_OR_RETURN(
      engine::EvalResult sim_eval,
      engine::evaluate_classifier(model, data->test, 256, /*lower_int8=*/false));
  RETORT_ASSIGN_OR_RETURN(int converted, quant::to_int8_weights(model));
  set_class_names(model, data->train.class_names);
  RETORT_RETURN_IF_ERROR(ctx.save_model("model", model));
  const std::filesystem::path saved = std::filesystem::path(ctx.output_dir()) / "model.onnx";
  std::error_code ec;
  const auto int8_bytes = static_cast<int64_t>(std::filesystem::file_size(saved, ec));
  RETORT_ASSIGN_OR_RETURN(engine::EvalResult int8_eval,
                          engine::evaluate_classifier(model, data->test));
  RETORT_ASSIGN_OR_RETURN(double agreement, top1_agreement(model, true, model, false, data->test));
  // Which quantized nodes the engine really runs in int8, and why any does not.
  engine::PlanOptions lowered_options;
  lowered_options.lower_int8 = true;
  RETORT_ASSIGN_OR_RETURN(auto lowered_plan, engine::Plan::compile(model, lowered_options));
  const engine::Int8Lowering& lowering = lowered_plan->int8_lowering();

  nlohmann::json metrics = {
      {"mode", quant::mode_name(o.mode)},
      {"test_accuracy", int8_eval.accuracy},
      {"fp32_test_accuracy", fp32_eval.accuracy},
      {"change_vs_fp32", int8_eval.accuracy - fp32_eval.accuracy},
      {"fake_quant_test_accuracy", sim_eval.accuracy},
      {"int8_vs_fake_quant_top1_agreement", agreement},
      {"fp32_bytes", static_cast<int64_t>(fp32_bytes.size())},
      {"bytes", ec ? -1 : int8_bytes},
      {"size_ratio", ec || fp32_bytes.empty() ? 0.0
                                              : static_cast<double>(int8_bytes) /
                                                    static_cast<double>(fp32_bytes.size())},
      {"weight_bits", o.spec.weight_bits},
      {"activation_bits", o.spec.activation_bits},
      {"per_channel", o.spec.per_channel},
      {"activation_type", o.spec.activation_signed ? "int8" : "uint8"},
      {"observer", quant::observer_name(o.activation_observer.kind)},
      {"weight_observer", quant::observer_name(o.weight_observer)},
      {"calibration_images", s.calibration_images},
      {"quantized_nodes", s.plan.quantized},
      {"int8_weights", converted},
      {"folded_batch_norms", s.folding.folded},
      {"teachers", teachers.size()}};
  nlohmann::json skipped = nlohmann::json::array();
  for (const quant::SkippedNode& k : s.plan.skipped)
    skipped.push_back({{"node", k.node}, {"op_type", k.op_type}, {"reason", k.reason}});
  nlohmann::json int8_nodes = nlohmann::json::array();
  for (const std::string& n : s.plan.quantized) {
    if (lowering.is_lowered(n)) {
      int8_nodes.push_back(n);
    } else {
      const std::string why = lowering.reason(n);
      skipped.push_back({{"node", n},
                         {"op_type", "quantized"},
                         {"reason", "the int8 engine runs it as float32 simulation: " +
                                        (why.empty() ? std::string("not lowered") : why)}});
    }
  }
  metrics["int8_nodes"] = int8_nodes;
  metrics["int8_regions"] = lowering.regions;
  metrics["float32_nodes"] = skipped;
  if (!s.folding.kept.empty()) metrics["batch_norms_kept"] = s.folding.kept;
  if (s.train) {
    metrics["steps"] = s.train->steps;
    metrics["train_seconds"] = s.train->seconds;
    metrics["freeze_observers_step"] = s.freeze_observers_step;
    if (o.fold_batch_norm == quant::BatchNormFold::kDuring)
      metrics["freeze_bn_epochs"] = s.freeze_bn_epochs;
    metrics["learn_scales"] = o.learn_scales;
    if (!s.train->epochs.empty()) metrics["train_accuracy"] = s.train->epochs.back().accuracy;
  }
  if (p.value("measure_speed", true)) {
    RETORT_ASSIGN_OR_RETURN(
        auto speeds, engine::measure_speed_pair(fp32, model, p.value("latency_iterations", 30),
                                                p.value("throughput_batch", int64_t{128})));
    const engine::SpeedReport best[2] = {speeds.first, speeds.second};
    metrics["fp32_speed"] = speed_json(best[0]);
    metrics["int8_speed"] = speed_json(best[1]);
    metrics["throughput_speedup"] =
        best[0].throughput > 0 ? best[1].throughput / best[0].throughput : 0;
    metrics["latency_speedup"] =
        best[1].latency_ms_median > 0 ? best[0].latency_ms_median / best[1].latency_ms_median : 0;
    metrics["speedup"] = metrics["throughput_speedup"];
  }
  return ctx.save_metrics("metrics", metrics);
}

}  // namespace retort::stages
