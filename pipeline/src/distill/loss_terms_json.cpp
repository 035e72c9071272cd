// The "losses" list of a distill stage, read into DistillOptions with JSON-path errors.
#include <set>

#include "retort/distill/distiller.h"

namespace retort::distill {
namespace {

using nlohmann::json;

Status bad(const std::string& path, const std::string& what) {
  return make_error(ErrorCode::kInvalidArgument, path, ": ", what);
}

// Keys each term type accepts, so a misplaced key is an error rather than silently ignored.
const std::map<std::string, std::set<std::string>>& allowed_keys() {
  static const std::map<std::string, std::set<std::string>> keys = {
      {"kd", {"type", "weight", "alpha", "temperature", "teachers", "teacher_weights"}},
      {"ce", {"type", "weight", "label_smoothing"}},
      {"hint", {"type", "weight", "teacher", "teacher_value", "student_value", "distance"}},
      {"attention", {"type", "weight", "teacher", "pairs", "p"}},
      {"rkd",
       {"type", "teacher", "teacher_value", "student_value", "distance_weight", "angle_weight"}},
      {"fsp", {"type", "weight", "teacher", "pairs"}},
  };
  return keys;
}

Expected<float> number(const json& j, const std::string& key, float fallback,
                       const std::string& path, float min = 0.0f) {
  if (!j.contains(key)) return fallback;
  const json& v = j.at(key);
  if (!v.is_number()) return bad(path + "/" + key, "expected a number, found " + v.dump());
  const float x = v.get<float>();
  if (x < min)
    return bad(path + "/" + key,
               "expected a number >= " + std::to_string(min) + ", found " + v.dump());
  return x;
}

Expected<std::string> string(const json& j, const std::string& key, const std::string& path) {
  if (!j.contains(key)) return bad(path, "missing \"" + key + "\"");
  const json& v = j.at(key);
  if (!v.is_string() || v.get<std::string>().empty())
    return bad(path + "/" + key, "expected a value name (a non-empty string), found " + v.dump());
  return v.get<std::string>();
}

Expected<int> teacher_index(const json& j, const std::string& path) {
  if (!j.contains("teacher")) return 0;
  const json& v = j.at("teacher");
  if (!v.is_number_integer() || v.get<int>() < 0)
    return bad(path + "/teacher",
               "expected a teacher index (0 for the first teacher), found " + v.dump());
  return v.get<int>();
}

Expected<ValuePair> value_pair(const json& j, const std::string& path) {
  if (!j.is_object())
    return bad(path, "expected {\"teacher\": value, \"student\": value}, found " + j.dump());
  ValuePair p;
  RETORT_ASSIGN_OR_RETURN(p.teacher, string(j, "teacher", path));
  RETORT_ASSIGN_OR_RETURN(p.student, string(j, "student", path));
  return p;
}

Expected<Temperature> temperature(const json& term, const std::string& path) {
  Temperature t;
  if (!term.contains("temperature")) return t;
  const json& v = term.at("temperature");
  const std::string where = path + "/temperature";
  if (v.is_number()) {
    t.start = t.end = v.get<float>();
  } else if (v.is_object()) {
    RETORT_ASSIGN_OR_RETURN(t.start, number(v, "start", 4.0f, where));
    RETORT_ASSIGN_OR_RETURN(t.end, number(v, "end", t.start, where));
    const std::string schedule = v.value("schedule", "constant");
    auto s = parse_temperature_schedule(schedule);
    if (!s.ok()) return bad(where + "/schedule", s.status().message());
    t.schedule = *s;
    for (auto& [key, unused] : v.items())
      if (key != "start" && key != "end" && key != "schedule")
        return bad(where + "/" + key, "unknown key; a temperature has start, end and schedule");
  } else {
    return bad(where, "expected a number or {\"start\", \"end\", \"schedule\"}, found " + v.dump());
  }
  if (t.start <= 0 || t.end <= 0) return bad(where, "temperatures must be > 0");
  return t;
}

Status parse_term(const json& term, const std::string& path, DistillOptions& o) {
  if (!term.is_object()) return bad(path, "expected a loss term object, found " + term.dump());
  if (!term.contains("type") || !term.at("type").is_string())
    return bad(path, "a loss term needs \"type\": one of kd, ce, hint, attention, rkd, fsp");
  const std::string type = term.at("type").get<std::string>();
  auto allowed = allowed_keys().find(type);
  if (allowed == allowed_keys().end())
    return bad(path + "/type",
               "unknown loss term \"" + type + "\"; use kd, ce, hint, attention, rkd or fsp");
  for (auto& [key, unused] : term.items())
    if (!allowed->second.count(key)) {
      std::string list;
      for (const std::string& k : allowed->second) list += (list.empty() ? "" : ", ") + k;
      return bad(path + "/" + key,
                 "a \"" + type + "\" term has no key \"" + key + "\"; its keys are " + list);
    }
  if (type == "kd") {
    if (o.kd) return bad(path, "a second kd term; give one kd term (it covers every teacher)");
    KdTerm kd;
    RETORT_ASSIGN_OR_RETURN(kd.weight, number(term, "weight", 1.0f, path));
    RETORT_ASSIGN_OR_RETURN(kd.alpha, number(term, "alpha", 0.9f, path));
    if (kd.alpha > 1)
      return bad(path + "/alpha", "alpha is the weight of the soft loss, in [0, 1]");
    RETORT_ASSIGN_OR_RETURN(kd.temperature, temperature(term, path));
    auto mix = parse_teacher_mix(term.value("teachers", "mean"));
    if (!mix.ok()) return bad(path + "/teachers", mix.status().message());
    kd.mix = *mix;
    if (term.contains("teacher_weights")) {
      const json& w = term.at("teacher_weights");
      if (!w.is_array())
        return bad(path + "/teacher_weights", "expected a list of numbers, one per teacher");
      for (size_t i = 0; i < w.size(); ++i) {
        if (!w[i].is_number() || w[i].get<float>() < 0)
          return bad(path + "/teacher_weights/" + std::to_string(i),
                     "expected a number >= 0, found " + w[i].dump());
        kd.teacher_weights.push_back(w[i].get<float>());
      }
      if (!term.contains("teachers")) kd.mix = TeacherMix::kWeighted;
    }
    if (kd.mix == TeacherMix::kWeighted && kd.teacher_weights.empty())
      return bad(path + "/teacher_weights",
                 "teachers \"weighted\" needs teacher_weights, one per teacher");
    o.kd = kd;
  } else if (type == "ce") {
    if (o.ce) return bad(path, "a second ce term; give one");
    CeTerm ce;
    RETORT_ASSIGN_OR_RETURN(ce.weight, number(term, "weight", 1.0f, path));
    RETORT_ASSIGN_OR_RETURN(ce.label_smoothing, number(term, "label_smoothing", 0.0f, path));
    if (ce.label_smoothing >= 1)
      return bad(path + "/label_smoothing", "expected a value in [0, 1)");
    o.ce = ce;
  } else if (type == "hint") {
    HintTerm h;
    RETORT_ASSIGN_OR_RETURN(h.weight, number(term, "weight", 1.0f, path));
    RETORT_ASSIGN_OR_RETURN(h.teacher, teacher_index(term, path));
    RETORT_ASSIGN_OR_RETURN(h.teacher_value, string(term, "teacher_value", path));
    RETORT_ASSIGN_OR_RETURN(h.student_value, string(term, "student_value", path));
    const std::string d = term.value("distance", "mse");
    if (d != "mse" && d != "cosine")
      return bad(path + "/distance", "expected \"mse\" or \"cosine\", found \"" + d + "\"");
    h.distance = d == "mse" ? HintTerm::Distance::kMse : HintTerm::Distance::kCosine;
    o.hints.push_back(h);
  } else if (type == "attention") {
    AttentionTerm a;
    RETORT_ASSIGN_OR_RETURN(a.weight, number(term, "weight", 1000.0f, path));
    RETORT_ASSIGN_OR_RETURN(a.teacher, teacher_index(term, path));
    RETORT_ASSIGN_OR_RETURN(a.p, number(term, "p", 2.0f, path, 1.0f));
    if (!term.contains("pairs") || !term.at("pairs").is_array() || term.at("pairs").empty())
      return bad(path + "/pairs",
                 "expected a non-empty list of {\"teacher\": value, \"student\": value}");
    for (size_t i = 0; i < term.at("pairs").size(); ++i) {
      RETORT_ASSIGN_OR_RETURN(
          ValuePair p, value_pair(term.at("pairs")[i], path + "/pairs/" + std::to_string(i)));
      a.pairs.push_back(p);
    }
    o.attention.push_back(a);
  } else if (type == "rkd") {
    RkdTerm r;
    RETORT_ASSIGN_OR_RETURN(r.teacher, teacher_index(term, path));
    RETORT_ASSIGN_OR_RETURN(r.teacher_value, string(term, "teacher_value", path));
    RETORT_ASSIGN_OR_RETURN(r.student_value, string(term, "student_value", path));
    RETORT_ASSIGN_OR_RETURN(r.distance_weight, number(term, "distance_weight", 25.0f, path));
    RETORT_ASSIGN_OR_RETURN(r.angle_weight, number(term, "angle_weight", 50.0f, path));
    if (r.distance_weight == 0 && r.angle_weight == 0)
      return bad(path, "distance_weight and angle_weight are both 0: the term does nothing");
    o.rkd.push_back(r);
  } else {  // fsp
    FspTerm f;
    RETORT_ASSIGN_OR_RETURN(f.weight, number(term, "weight", 1.0f, path));
    RETORT_ASSIGN_OR_RETURN(f.teacher, teacher_index(term, path));
    if (!term.contains("pairs") || !term.at("pairs").is_array() || term.at("pairs").empty())
      return bad(path + "/pairs",
                 "expected a non-empty list of {\"student\": [from, to], \"teacher\": [from, to]}");
    for (size_t i = 0; i < term.at("pairs").size(); ++i) {
      const json& p = term.at("pairs")[i];
      const std::string where = path + "/pairs/" + std::to_string(i);
      auto two = [&](const char* side) -> Expected<std::pair<std::string, std::string>> {
        if (!p.is_object() || !p.contains(side) || !p.at(side).is_array() ||
            p.at(side).size() != 2 || !p.at(side)[0].is_string() || !p.at(side)[1].is_string())
          return bad(where + "/" + side, std::string("expected [from, to]: the two ") + side +
                                             " values whose flow the FSP matrix describes");
        return std::make_pair(p.at(side)[0].get<std::string>(), p.at(side)[1].get<std::string>());
      };
      RETORT_ASSIGN_OR_RETURN(auto s, two("student"));
      RETORT_ASSIGN_OR_RETURN(auto t, two("teacher"));
      f.pairs.push_back({{t.first, s.first}, {t.second, s.second}});
    }
    o.fsp.push_back(f);
  }
  return Status::Ok();
}

}  // namespace

Status parse_loss_terms(const json& losses, const std::string& where, DistillOptions& options) {
  const std::string path = where + "/losses";
  if (!losses.is_array() || losses.empty())
    return bad(
        path,
        "expected a non-empty list of loss terms, e.g. [{\"type\": \"kd\", \"temperature\": 4}]");
  for (size_t i = 0; i < losses.size(); ++i)
    RETORT_RETURN_IF_ERROR(parse_term(losses[i], path + "/" + std::to_string(i), options));
  return Status::Ok();
}

}  // namespace retort::distill
