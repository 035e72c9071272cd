#include "retort/prune/prune_config.h"

#include <algorithm>

#include "retort/core/json_util.h"

namespace retort::prune {

namespace {

Status bad(const std::string& path, const std::string& what, const nlohmann::json& found) {
  return make_error(ErrorCode::kInvalidArgument, path, ": expected ", what, ", found ",
                    describe_json(found));
}

Expected<std::map<std::string, float>> read_float_map(const nlohmann::json& obj,
                                                      const std::string& key,
                                                      const std::string& path) {
  std::map<std::string, float> out;
  if (!obj.contains(key)) return out;
  const nlohmann::json& m = obj[key];
  if (!m.is_object()) return bad(path + "/" + key, "an object of numbers by layer name", m);
  for (auto& [name, v] : m.items()) {
    if (!v.is_number()) return bad(path + "/" + key + "/" + name, "a number", v);
    out[name] = v.get<float>();
  }
  return out;
}

Expected<nlohmann::json> object_at(const nlohmann::json& params, const std::string& key,
                                   const std::string& where) {
  if (!params.contains(key)) return nlohmann::json::object();
  if (!params[key].is_object()) return bad(where + "/" + key, "an object", params[key]);
  return params[key];
}

}  // namespace

Expected<PruneConfig> parse_prune_config(const nlohmann::json& params, const std::string& where) {
  PruneConfig c;
  const std::string method = params.value("method", "magnitude");
  if (method == "magnitude") {
    c.method = Method::kMagnitude;
  } else if (method == "nm") {
    c.method = Method::kNm;
  } else if (method == "structured") {
    c.method = Method::kStructured;
  } else {
    return bad(where + "/method", "\"magnitude\", \"nm\" or \"structured\"", params["method"]);
  }
  if (params.contains("layers")) {
    const nlohmann::json& l = params["layers"];
    if (!l.is_array()) return bad(where + "/layers", "a list of layer names", l);
    for (const auto& name : l) {
      if (!name.is_string()) return bad(where + "/layers", "a list of layer names", l);
      c.layers.push_back(name.get<std::string>());
    }
  }

  const std::string mp = where + "/magnitude";
  RETORT_ASSIGN_OR_RETURN(nlohmann::json mag, object_at(params, "magnitude", where));
  c.magnitude.sparsity = mag.value("sparsity", 0.5f);
  RETORT_RETURN_IF_ERROR(check_sparsity(mag.value("sparsity", 0.5), mp + "/sparsity"));
  const std::string scope = mag.value("scope", "layer");
  if (scope != "layer" && scope != "global")
    return bad(mp + "/scope", "\"layer\" or \"global\"", mag["scope"]);
  c.magnitude.scope =
      scope == "global" ? MagnitudeOptions::Scope::kGlobal : MagnitudeOptions::Scope::kLayer;
  RETORT_ASSIGN_OR_RETURN(c.magnitude.layer_sparsity, read_float_map(mag, "layer_sparsity", mp));
  for (const auto& [name, s] : c.magnitude.layer_sparsity)
    RETORT_RETURN_IF_ERROR(check_sparsity(s, mp + "/layer_sparsity/" + name));
  const std::string rule = mag.value("rule", "sparsity");
  if (rule != "sparsity" && rule != "han")
    return bad(mp + "/rule", "\"sparsity\" or \"han\"", mag["rule"]);
  c.magnitude.han_rule = rule == "han";
  c.magnitude.quality = mag.value("quality", 1.0f);
  RETORT_ASSIGN_OR_RETURN(c.magnitude.layer_quality, read_float_map(mag, "layer_quality", mp));
  if (c.magnitude.scope == MagnitudeOptions::Scope::kGlobal && !c.magnitude.layer_sparsity.empty())
    return make_error(ErrorCode::kInvalidArgument, mp,
                      "/layer_sparsity: per-layer sparsities need \"scope\": \"layer\" (a global "
                      "threshold sets one sparsity over all layers)");

  RETORT_ASSIGN_OR_RETURN(nlohmann::json nm, object_at(params, "nm", where));
  c.nm.n = nm.value("n", int64_t{2});
  c.nm.m = nm.value("m", int64_t{4});
  if (c.method == Method::kNm) RETORT_RETURN_IF_ERROR(check_nm_pattern(c.nm, where + "/nm"));

  const std::string sp = where + "/structured";
  RETORT_ASSIGN_OR_RETURN(nlohmann::json st, object_at(params, "structured", where));
  const std::string criterion = st.value("criterion", "l1");
  if (criterion == "l1") {
    c.structured.criterion = ChannelCriterion::kL1;
  } else if (criterion == "l2") {
    c.structured.criterion = ChannelCriterion::kL2;
  } else if (criterion == "bn_scale") {
    c.structured.criterion = ChannelCriterion::kBnScale;
  } else {
    return bad(sp + "/criterion", "\"l1\", \"l2\" or \"bn_scale\"", st["criterion"]);
  }
  c.structured.ratio = st.value("ratio", 0.5f);
  if (!(c.structured.ratio >= 0 && c.structured.ratio < 1))
    return make_error(ErrorCode::kInvalidArgument, sp, "/ratio: must be in [0, 1), got ",
                      c.structured.ratio);
  RETORT_ASSIGN_OR_RETURN(c.structured.layer_ratios, read_float_map(st, "layer_ratios", sp));
  for (const auto& [name, r] : c.structured.layer_ratios)
    if (!(r >= 0 && r < 1))
      return make_error(ErrorCode::kInvalidArgument, sp, "/layer_ratios/", name,
                        ": must be in [0, 1), got ", r);
  c.structured.target_flops_fraction = st.value("target_flops_fraction", 0.0);
  if (!(c.structured.target_flops_fraction >= 0 && c.structured.target_flops_fraction <= 1))
    return make_error(ErrorCode::kInvalidArgument, sp,
                      "/target_flops_fraction: must be in [0, 1], got ",
                      c.structured.target_flops_fraction);
  c.structured.min_channels = st.value("min_channels", int64_t{1});
  c.structured.channel_multiple = st.value("channel_multiple", int64_t{1});

  const std::string schp = where + "/schedule";
  RETORT_ASSIGN_OR_RETURN(nlohmann::json sch, object_at(params, "schedule", where));
  const std::string type = sch.value("type", "one_shot");
  if (type == "one_shot") {
    c.schedule = ScheduleKind::kOneShot;
  } else if (type == "iterative") {
    c.schedule = ScheduleKind::kIterative;
  } else if (type == "gradual") {
    c.schedule = ScheduleKind::kGradual;
  } else {
    return bad(schp + "/type", "\"one_shot\", \"iterative\" or \"gradual\"", sch["type"]);
  }
  c.rounds = sch.value("rounds", 3);
  if (c.rounds < 1)
    return make_error(ErrorCode::kInvalidArgument, schp, "/rounds: must be >= 1, got ", c.rounds);
  c.cubic.initial = sch.value("initial_sparsity", 0.0);
  c.cubic.start_step = sch.value("start_step", int64_t{0});
  c.cubic.end_step = sch.value("end_step", int64_t{0});
  c.cubic.frequency = sch.value("frequency", int64_t{0});
  c.auto_end_step = c.cubic.end_step == 0;
  c.auto_frequency = c.cubic.frequency == 0;
  if (c.schedule == ScheduleKind::kGradual) {
    RETORT_RETURN_IF_ERROR(check_sparsity(c.cubic.initial, schp + "/initial_sparsity"));
    if (c.cubic.start_step < 0 || c.cubic.end_step < 0 || c.cubic.frequency < 0)
      return make_error(ErrorCode::kInvalidArgument, schp,
                        ": start_step, end_step and frequency must be >= 0");
    if (!c.auto_end_step) {
      CubicSchedule probe = c.cubic;
      if (c.auto_frequency) probe.frequency = 1;
      RETORT_RETURN_IF_ERROR(probe.check(schp));
    }
  }
  if (c.method != Method::kMagnitude && c.schedule != ScheduleKind::kOneShot)
    return make_error(ErrorCode::kInvalidArgument, schp, "/type: method \"", method,
                      "\" prunes to a fixed pattern; it supports the \"one_shot\" schedule only "
                      "(got \"",
                      type, "\")");
  return c;
}

void resolve_schedule(PruneConfig& c, int64_t total_steps) {
  if (c.auto_end_step)
    c.cubic.end_step = std::max<int64_t>(c.cubic.start_step + 1, total_steps * 3 / 4);
  if (c.auto_frequency)
    c.cubic.frequency = std::max<int64_t>(1, (c.cubic.end_step - c.cubic.start_step) / 40);
}

}  // namespace retort::prune
