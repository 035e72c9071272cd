// ta_chain and born_again: recipe constructs that expand into distill stages.
#include <charconv>

#include "retort/core/json_util.h"
#include "sections.h"

namespace retort::recipe::detail {
namespace {

using nlohmann::json;

// The construct's stage object with its type, inputs and params replaced.
json derived_stage(const json& construct, const std::string& id, json inputs, json params,
                   uint64_t seed, const std::string& what) {
  json stage = {{"id", id},
                {"type", "distill"},
                {"inputs", std::move(inputs)},
                {"params", std::move(params)},
                {"seed", seed}};
  const std::string description = construct.value("description", "");
  stage["description"] = description.empty() ? what : description + " (" + what + ")";
  return stage;
}

// An input reference of the construct, or a problem reported.
const json* input_of(const json& construct, const std::string& port, const std::string& at,
                     const Checker& checker, const std::string& usage) {
  const auto inputs = construct.find("inputs");
  if (inputs == construct.end() || !inputs->is_object() || !inputs->contains(port)) {
    checker.add(at + "/inputs", "a " + construct.value("type", std::string()) + " needs input \"" +
                                    port + "\": " + usage);
    return nullptr;
  }
  return &inputs->at(port);
}

void expand_ta_chain(const json& c, size_t index, uint64_t seed, const Checker& checker, json& out,
                     std::vector<StageOrigin>* origins) {
  const std::string at = "/stages/" + std::to_string(index);
  const std::string id = c.value("id", std::string());
  const json* teacher = input_of(c, "teacher", at, checker, "the model to distil from");
  const json* student = input_of(c, "student", at, checker, "the final student");
  const json* assistants =
      input_of(c, "assistants", at, checker,
               "a list of assistant models, largest first, e.g. [\"models.ta8\"]");
  if (!teacher || !student || !assistants) return;
  if (!assistants->is_array() || assistants->empty()) {
    checker.add(at + "/inputs/assistants",
                "expected a non-empty list of assistant models, largest first, found " +
                    describe_json(*assistants));
    return;
  }
  const json params = c.value("params", json::object());
  json previous = *teacher;
  std::string previous_path = "teacher";
  const size_t n = assistants->size();
  for (size_t k = 0; k <= n; ++k) {
    const bool last = k == n;
    const std::string step_id = last ? id : id + "-ta" + std::to_string(k + 1);
    const std::string student_path = last ? "student" : "assistants/" + std::to_string(k);
    json inputs = {{"teacher", previous}, {"student", last ? *student : (*assistants)[k]}};
    const std::string what = last ? "teacher-assistant chain: the student"
                                  : "teacher-assistant chain: assistant " + std::to_string(k + 1) +
                                        " of " + std::to_string(n);
    out.push_back(derived_stage(c, step_id, inputs, params, seed, what));
    origins->push_back({index, {{"teacher", previous_path}, {"student", student_path}}});
    previous = step_id + ".model";
    previous_path = "assistants/" + std::to_string(k);
  }
}

void expand_born_again(const json& c, size_t index, uint64_t seed, const Checker& checker,
                       json& out, std::vector<StageOrigin>* origins) {
  const std::string at = "/stages/" + std::to_string(index);
  const std::string id = c.value("id", std::string());
  const json* teacher = input_of(c, "teacher", at, checker, "the first generation's teacher");
  const json* student =
      input_of(c, "student", at, checker, "the architecture every generation trains");
  json params = c.value("params", json::object());
  int64_t generations = 2;
  if (auto g = params.find("generations"); g != params.end()) {
    if (!g->is_number_integer() || g->get<int64_t>() < 1 || g->get<int64_t>() > 20) {
      checker.add(at + "/params/generations",
                  "expected an integer from 1 to 20, found " + describe_json(*g));
      return;
    }
    generations = g->get<int64_t>();
    params.erase("generations");
  }
  if (!teacher || !student) return;
  json previous = *teacher;
  std::string previous_path = "teacher";
  for (int64_t g = 1; g <= generations; ++g) {
    const bool last = g == generations;
    const std::string gen_id = last ? id : id + "-gen" + std::to_string(g);
    json inputs = {{"teacher", previous}, {"student", *student}};
    out.push_back(derived_stage(
        c, gen_id, inputs, params, seed + static_cast<uint64_t>(g - 1),
        "born-again generation " + std::to_string(g) + " of " + std::to_string(generations)));
    origins->push_back({index, {{"teacher", previous_path}, {"student", "student"}}});
    previous = gen_id + ".model";
    previous_path = "teacher";
  }
}

}  // namespace

json expand_constructs(const json& stages, uint64_t recipe_seed, const Checker& checker,
                       std::vector<StageOrigin>* origins) {
  origins->clear();
  if (!stages.is_array()) return stages;
  json out = json::array();
  for (size_t i = 0; i < stages.size(); ++i) {
    const json& s = stages[i];
    const std::string type = s.is_object() && s.contains("type") && s["type"].is_string()
                                 ? s["type"].get<std::string>()
                                 : "";
    if ((type != "ta_chain" && type != "born_again") || !s.contains("id") || !s["id"].is_string()) {
      out.push_back(s);
      origins->push_back({i, {}});
      continue;
    }
    uint64_t seed = recipe_seed;
    if (auto it = s.find("seed"); it != s.end()) {
      if (auto v = checker.unsigned_at(*it, "/stages/" + std::to_string(i) + "/seed", 0)) seed = *v;
    }
    checker.check_keys(s, "/stages/" + std::to_string(i),
                       {"id", "type", "inputs", "params", "seed", "description"}, "a " + type);
    if (type == "ta_chain")
      expand_ta_chain(s, i, seed, checker, out, origins);
    else
      expand_born_again(s, i, seed, checker, out, origins);
  }
  return out;
}

void map_to_origins(std::vector<Diagnostic>& problems, size_t first,
                    const std::vector<StageOrigin>& origins) {
  static const std::string kPrefix = "/stages/";
  for (size_t p = first; p < problems.size(); ++p) {
    std::string& where = problems[p].where;
    if (where.compare(0, kPrefix.size(), kPrefix) != 0) continue;
    size_t k = 0;
    const char* begin = where.data() + kPrefix.size();
    auto [end, ec] = std::from_chars(begin, where.data() + where.size(), k);
    if (ec != std::errc() || k >= origins.size()) continue;
    std::string rest =
        where.substr(static_cast<size_t>(end - where.data()));  // "/inputs/student/..." or ""
    const StageOrigin& origin = origins[k];
    for (const auto& [port, path] : origin.input_paths) {
      const std::string from = "/inputs/" + port;
      if (rest.compare(0, from.size(), from) == 0 &&
          (rest.size() == from.size() || rest[from.size()] == '/')) {
        rest = "/inputs/" + path + rest.substr(from.size());
        break;
      }
    }
    where = kPrefix + std::to_string(origin.index) + rest;
  }
}

}  // namespace retort::recipe::detail
