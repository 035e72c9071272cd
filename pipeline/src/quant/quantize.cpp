#include "retort/quant/quantize.h"

#include <algorithm>
#include <cstring>

#include "retort/core/json_util.h"
#include "retort/engine/plan.h"

namespace retort::quant {

const char* mode_name(QuantMode mode) {
  switch (mode) {
    case QuantMode::kPtq:
      return "ptq";
    case QuantMode::kQat:
      return "qat";
    case QuantMode::kQad:
      return "qad";
  }
  return "?";
}

Status calibrate_activations(Model& model, QuantizationPlan& plan, const data::Dataset& calibration,
                             const RangeObserver::Options& observer, int64_t batch) {
  if (calibration.size() == 0)
    return make_error(ErrorCode::kInvalidArgument, "the calibration set '", calibration.name,
                      "' is empty: quantization needs images to observe activation ranges "
                      "(set calibration_images to at least 1 and check the data section)");
  if (plan.activations.empty()) return Status::Ok();
  batch = std::min(batch, calibration.size());
  engine::PlanOptions po;
  po.batch = batch;
  RETORT_ASSIGN_OR_RETURN(auto fp32, engine::Plan::compile(model, po));
  const engine::View input = fp32->input(0);
  if (input.numel() != batch * calibration.sample_numel())
    return make_error(ErrorCode::kInvalidArgument, "the model's input ",
                      shape_to_string(input.shape), " does not fit the images of '",
                      calibration.name, "'");
  std::vector<RangeObserver> observers;
  std::vector<engine::View> views;
  const CodeRange range = plan.activation_range();
  for (const ActivationQuant& a : plan.activations) {
    observers.emplace_back(observer, range, /*symmetric=*/false);
    RETORT_ASSIGN_OR_RETURN(engine::View v, fp32->value(a.observed));
    views.push_back(v);
  }
  for (int64_t start = 0; start < calibration.size(); start += batch) {
    const int64_t count = std::min(batch, calibration.size() - start);
    std::memcpy(input.data, calibration.sample(start),
                static_cast<size_t>(count * calibration.sample_numel()) * sizeof(float));
    fp32->forward(false);
    for (size_t i = 0; i < observers.size(); ++i) {
      const int64_t per_sample = views[i].numel() / batch;
      observers[i].observe({views[i].data, static_cast<size_t>(count * per_sample)});
    }
  }
  for (size_t i = 0; i < observers.size(); ++i) {
    RETORT_ASSIGN_OR_RETURN(plan.activations[i].qparams, observers[i].qparams());
  }
  return Status::Ok();
}

namespace {

// A new plan counts its observers' steps from 0: after `steps` already taken, the freeze steps
// in the metadata move down by as many (a frozen observer stays frozen).
void shift_observer_freeze(Model& model, int64_t steps) {
  auto it = model.metadata.find(kQuantizationKey);
  if (it == model.metadata.end()) return;
  nlohmann::json entries = nlohmann::json::parse(it->second, nullptr, false);
  if (!entries.is_object()) return;
  for (auto& [name, e] : entries.items()) {
    if (!e.is_object() || !e.contains("freeze_step")) continue;
    const int64_t freeze = e["freeze_step"].get<int64_t>();
    if (freeze >= 0) e["freeze_step"] = std::max<int64_t>(0, freeze - steps);
  }
  it->second = entries.dump();
}

}  // namespace

Expected<QuantizeSummary> quantize_model(Model& model, const data::Dataset& train,
                                         const QuantizeOptions& options) {
  QuantizeSummary summary;
  if (options.mode == QuantMode::kQad && options.fine_tune.teachers.empty())
    return make_error(ErrorCode::kInvalidArgument,
                      "mode qad distills from a teacher, but none was given (add a teacher or "
                      "use mode qat)");
  const bool trains = options.mode != QuantMode::kPtq;
  if (options.fold_batch_norm == BatchNormFold::kDuring && !trains)
    return make_error(ErrorCode::kInvalidArgument,
                      "fold_batch_norm \"during\" folds during training, but mode ptq does not "
                      "train (use \"before\", or mode qat or qad)");
  if (options.fold_batch_norm == BatchNormFold::kBefore) {
    RETORT_ASSIGN_OR_RETURN(summary.folding, fold_batch_norms(model));
  }
  RETORT_ASSIGN_OR_RETURN(summary.plan, plan_quantization(model, options.spec));
  if (summary.plan.quantized.empty())
    return make_error(ErrorCode::kInvalidArgument,
                      "nothing to quantize: no node of the requested op types has an int8 path",
                      summary.plan.skipped.empty()
                          ? std::string()
                          : " (first skipped: '" + summary.plan.skipped[0].node + "', " +
                                summary.plan.skipped[0].reason + ")");
  RETORT_ASSIGN_OR_RETURN(
      data::Dataset calibration,
      data::slice(train, 0, std::min(options.calibration_images, train.size())));
  summary.calibration_images = calibration.size();
  RETORT_RETURN_IF_ERROR(calibrate_activations(
      model, summary.plan, calibration, options.activation_observer, options.calibration_batch));
  RETORT_RETURN_IF_ERROR(compute_weight_qparams(model, summary.plan, options.weight_observer));

  FakeQuantTraining training;
  if (trains) {
    const int64_t steps = prune::fine_tune_steps(train, options.fine_tune.options.train);
    summary.freeze_observers_step = options.freeze_observers_step.value_or(steps / 2);
    training.learn_scales = options.learn_scales;
    training.observe_weights = !options.learn_scales;
    training.observe_activations = !options.learn_scales && summary.freeze_observers_step != 0;
    training.momentum = options.observer_momentum;
    training.freeze_step = summary.freeze_observers_step;
  }
  RETORT_RETURN_IF_ERROR(apply_quantization(model, summary.plan, training));
  if (trains && options.fold_batch_norm == BatchNormFold::kDuring) {
    // Two phases: batch statistics adapt to the quantized weights, then they are frozen and
    // folded (the weight pairs' scales follow) and training goes on with the folded weights.
    const int epochs = options.fine_tune.options.train.epochs;
    summary.freeze_bn_epochs = options.freeze_bn_epochs.value_or(std::max(1, epochs / 2));
    if (summary.freeze_bn_epochs >= epochs)
      return make_error(ErrorCode::kInvalidArgument, "freeze_bn_epochs is ",
                        summary.freeze_bn_epochs, " but training has only ", epochs,
                        " epochs; it must be smaller so that some training follows the folding");
    prune::FineTune phase = options.fine_tune;
    phase.options.train.epochs = summary.freeze_bn_epochs;
    RETORT_ASSIGN_OR_RETURN(engine::TrainSummary first, prune::fine_tune(model, train, phase, {}));
    RETORT_ASSIGN_OR_RETURN(summary.folding, fold_batch_norms(model));
    shift_observer_freeze(model, first.steps);
    phase.options.train.epochs = epochs - summary.freeze_bn_epochs;
    phase.options.train.seed += 1;
    RETORT_ASSIGN_OR_RETURN(engine::TrainSummary second, prune::fine_tune(model, train, phase, {}));
    first.epochs.insert(first.epochs.end(), second.epochs.begin(), second.epochs.end());
    first.steps += second.steps;
    first.seconds += second.seconds;
    summary.train = std::move(first);
  } else if (trains) {
    RETORT_ASSIGN_OR_RETURN(engine::TrainSummary t,
                            prune::fine_tune(model, train, options.fine_tune, {}));
    summary.train = std::move(t);
  }
  return summary;
}

namespace {

Status bad(const std::string& path, const std::string& what, const nlohmann::json& found) {
  return make_error(ErrorCode::kInvalidArgument, path, ": expected ", what, ", found ",
                    describe_json(found));
}

Expected<std::vector<std::string>> string_list(const nlohmann::json& p, const std::string& key,
                                               const std::string& where,
                                               std::vector<std::string> fallback) {
  if (!p.contains(key)) return fallback;
  const nlohmann::json& l = p[key];
  std::vector<std::string> out;
  if (!l.is_array()) return bad(where + "/" + key, "a list of strings", l);
  for (const auto& s : l) {
    if (!s.is_string()) return bad(where + "/" + key, "a list of strings", l);
    out.push_back(s.get<std::string>());
  }
  return out;
}

}  // namespace

Expected<QuantizeOptions> parse_quantize_options(const nlohmann::json& p,
                                                 const std::string& where) {
  QuantizeOptions o;
  const std::string mode = p.value("mode", "qat");
  if (mode == "ptq")
    o.mode = QuantMode::kPtq;
  else if (mode == "qat")
    o.mode = QuantMode::kQat;
  else if (mode == "qad")
    o.mode = QuantMode::kQad;
  else
    return bad(where + "/mode", "\"ptq\", \"qat\" or \"qad\"", p["mode"]);
  for (const char* key : {"weight_bits", "activation_bits"}) {
    if (!p.contains(key)) continue;
    const auto bits = as_integer(p[key]);
    if (!bits) return bad(where + "/" + key, "an integer from 2 to 8", p[key]);
    if (*bits < 2 || *bits > 8)
      return make_error(ErrorCode::kInvalidArgument, where, "/", key, ": ", *bits,
                        " bits is outside 2..8 (codes are stored as int8/uint8; below 2 bits "
                        "nothing is left to quantize with)");
    (std::string(key) == "weight_bits" ? o.spec.weight_bits : o.spec.activation_bits) =
        static_cast<int>(*bits);
  }
  o.spec.per_channel = p.value("per_channel", true);
  const std::string atype = p.value("activation_type", "uint8");
  if (atype != "uint8" && atype != "int8")
    return bad(where + "/activation_type", "\"uint8\" or \"int8\"", p["activation_type"]);
  o.spec.activation_signed = atype == "int8";
  const std::string obs = p.value("observer", "minmax");
  if (obs == "minmax")
    o.activation_observer.kind = ObserverKind::kMinMax;
  else if (obs == "ema")
    o.activation_observer.kind = ObserverKind::kEma;
  else if (obs == "percentile")
    o.activation_observer.kind = ObserverKind::kPercentile;
  else if (obs == "mse")
    o.activation_observer.kind = ObserverKind::kMse;
  else
    return bad(where + "/observer", "\"minmax\", \"ema\", \"percentile\" or \"mse\"",
               p["observer"]);
  o.activation_observer.percentile = p.value("percentile", 99.99);
  const std::string wobs = p.value("weight_observer", "minmax");
  if (wobs == "minmax")
    o.weight_observer = ObserverKind::kMinMax;
  else if (wobs == "mse")
    o.weight_observer = ObserverKind::kMse;
  else
    return bad(where + "/weight_observer", "\"minmax\" or \"mse\"", p["weight_observer"]);
  o.calibration_images = p.value("calibration_images", int64_t{1024});
  if (o.calibration_images < 1)
    return make_error(ErrorCode::kInvalidArgument, where,
                      "/calibration_images: must be at least 1 (calibration needs images)");
  RETORT_ASSIGN_OR_RETURN(o.spec.op_types,
                          string_list(p, "ops", where, {"Conv", "Gemm", "MatMul"}));
  RETORT_ASSIGN_OR_RETURN(o.spec.exclude, string_list(p, "exclude", where, {}));
  const std::string fold = p.value("fold_batch_norm", "before");
  if (fold == "before")
    o.fold_batch_norm = BatchNormFold::kBefore;
  else if (fold == "during")
    o.fold_batch_norm = BatchNormFold::kDuring;
  else if (fold == "off")
    o.fold_batch_norm = BatchNormFold::kOff;
  else
    return bad(where + "/fold_batch_norm", "\"before\", \"during\" or \"off\"",
               p["fold_batch_norm"]);
  if (p.contains("freeze_bn_epochs")) {
    if (o.fold_batch_norm != BatchNormFold::kDuring)
      return make_error(ErrorCode::kInvalidArgument, where,
                        "/freeze_bn_epochs: only used with fold_batch_norm \"during\"");
    o.freeze_bn_epochs = p["freeze_bn_epochs"].get<int>();
  }
  if (o.fold_batch_norm == BatchNormFold::kDuring && o.mode == QuantMode::kPtq)
    return make_error(ErrorCode::kInvalidArgument, where,
                      "/fold_batch_norm: \"during\" folds during training, but mode ptq does not "
                      "train (use \"before\", or mode qat or qad)");
  o.learn_scales = p.value("learn_scales", false);
  o.observer_momentum = p.value("observer_momentum", 0.01f);
  if (p.contains("freeze_observers_step"))
    o.freeze_observers_step = p["freeze_observers_step"].get<int64_t>();
  if (o.mode == QuantMode::kPtq && o.learn_scales)
    return make_error(ErrorCode::kInvalidArgument, where,
                      "/learn_scales: scales are learned by training; mode ptq does not train "
                      "(use mode qat or qad)");
  return o;
}

}  // namespace retort::quant
