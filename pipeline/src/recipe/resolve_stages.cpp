#include <algorithm>
#include <functional>
#include <set>

#include "recipe/sections.h"
#include "retort/core/json_schema.h"
#include "retort/core/json_util.h"
#include "retort/core/text.h"

namespace retort::recipe::detail {
namespace {

using nlohmann::json;

const std::vector<std::string>& stage_keys() {
  static const std::vector<std::string> kKeys = {"id",     "type", "inputs",
                                                 "params", "seed", "description"};
  return kKeys;
}

constexpr const char* kModelsPrefix = "models.";

bool valid_stage_id(const std::string& id) {
  return !id.empty() && std::all_of(id.begin(), id.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
  });
}

// "a model" / "metrics", for "... takes a model".
std::string kind_phrase(retort_port_kind kind) {
  return kind == RETORT_PORT_MODEL ? "a model" : plugin::port_kind_name(kind);
}

std::vector<std::string> port_names(const std::vector<plugin::PortInfo>& ports) {
  std::vector<std::string> names;
  for (const plugin::PortInfo& p : ports) names.push_back(p.name);
  return names;
}

// What the pre-pass learns of every stage, so that references may point forward.
struct Known {
  std::map<std::string, size_t> ids;  // first stage with each id
  std::vector<std::string> id_list;   // in recipe order, for did-you-mean
  std::vector<const plugin::StageType*> types;
};

struct Edge {
  size_t producer;
  size_t consumer;
  std::string where;  // the consumer's input that reads the producer
};

class StagesReader {
 public:
  StagesReader(const json& stages, uint64_t recipe_seed, const std::map<std::string, json>& models,
               const plugin::StageRegistry& registry, const Checker& checker)
      : stages_(stages),
        recipe_seed_(recipe_seed),
        models_(models),
        registry_(registry),
        checker_(checker) {
    for (const auto& [name, unused] : models_) model_names_.push_back(name);
  }

  std::vector<StageSpec> read() {
    learn();
    std::vector<StageSpec> out;
    for (size_t i = 0; i < stages_.size(); ++i) out.push_back(read_stage(i));
    report_cycles();
    return out;
  }

 private:
  void learn() {
    known_.types.assign(stages_.size(), nullptr);
    for (size_t i = 0; i < stages_.size(); ++i) {
      const json& stage = stages_[i];
      if (!stage.is_object()) continue;
      if (auto id = stage.find("id"); id != stage.end() && id->is_string()) {
        known_.ids.emplace(id->get<std::string>(), i);
        known_.id_list.push_back(id->get<std::string>());
      }
      if (auto type = stage.find("type"); type != stage.end() && type->is_string())
        known_.types[i] = registry_.find(type->get<std::string>());
    }
  }

  StageSpec read_stage(size_t i) {
    const json& stage = stages_[i];
    const std::string where = json_pointer_append("/stages", i);
    StageSpec spec;
    spec.index = i;
    spec.seed = recipe_seed_;
    spec.params = json::object();
    if (!stage.is_object()) {
      checker_.add(where,
                   "expected a stage object {\"id\": ..., \"type\": ..., \"inputs\": ..., "
                   "\"params\": ...}, found " +
                       describe_json(stage));
      return spec;
    }
    checker_.check_keys(stage, where, stage_keys(), "a stage");
    spec.id = read_id(stage, i, where);
    const plugin::StageType* type = read_type(stage, where, &spec.type);
    if (auto seed = stage.find("seed"); seed != stage.end()) {
      if (auto value = checker_.unsigned_at(*seed, where + "/seed", 0)) spec.seed = *value;
    }
    spec.params = read_params(stage, where, type);
    spec.inputs = read_inputs(stage, i, where, type);
    return spec;
  }

  std::string read_id(const json& stage, size_t i, const std::string& where) {
    const std::string at = where + "/id";
    auto it = stage.find("id");
    if (it == stage.end()) {
      checker_.add(at, "required key is missing; give the stage a unique id such as \"teacher\"");
      return "";
    }
    if (!it->is_string()) {
      checker_.add(
          at, "expected a stage id (a string of a-z, 0-9, '_', '-'), found " + describe_json(*it));
      return "";
    }
    const std::string id = it->get<std::string>();
    if (!valid_stage_id(id)) {
      checker_.add(at, "invalid stage id '" + id +
                           "'; use lower-case letters, digits, '_' and '-' (it names the "
                           "stage's folder and appears in references \"<id>.<port>\")");
    } else if (id == "models") {
      checker_.add(at,
                   "the id 'models' is reserved (\"models.<name>\" refers to the recipe's "
                   "models); choose another id");
    } else if (const size_t first = known_.ids.at(id); first != i) {
      checker_.add(at, "duplicate stage id '" + id + "' (also the id of /stages/" +
                           std::to_string(first) + "); ids must be unique");
    }
    return id;
  }

  const plugin::StageType* read_type(const json& stage, const std::string& where,
                                     std::string* name) {
    const std::string at = where + "/type";
    const std::vector<std::string> known = registry_.type_names();
    const std::string known_text =
        known.empty() ? "no stage types are loaded; check the plugin folder or --plugin-dir"
                      : "known types: " + join(known);
    auto it = stage.find("type");
    if (it == stage.end()) {
      checker_.add(at, "required key is missing; " + known_text);
      return nullptr;
    }
    if (!it->is_string()) {
      checker_.add(at,
                   "expected a stage type name, found " + describe_json(*it) + "; " + known_text);
      return nullptr;
    }
    *name = it->get<std::string>();
    const plugin::StageType* type = registry_.find(*name);
    if (type == nullptr) {
      checker_.add(at, "unknown stage type '" + *name + "'" + did_you_mean(*name, known) + "; " +
                           known_text + (known.empty() ? "" : " (load more with --plugin-dir)"));
    }
    return type;
  }

  json read_params(const json& stage, const std::string& where, const plugin::StageType* type) {
    const std::string at = where + "/params";
    json params = json::object();
    if (auto it = stage.find("params"); it != stage.end()) {
      if (!it->is_object()) {
        checker_.add(
            at, "expected an object of parameters {\"name\": value}, found " + describe_json(*it));
        return params;
      }
      params = *it;
    }
    if (type == nullptr) return params;
    return apply_schema(type->params_schema, params, at, checker_.problems);
  }

  std::map<std::string, std::vector<InputRef>> read_inputs(const json& stage, size_t i,
                                                           const std::string& where,
                                                           const plugin::StageType* type) {
    std::map<std::string, std::vector<InputRef>> bound;
    const std::string at = where + "/inputs";
    auto inputs = stage.find("inputs");
    if (inputs != stage.end() && !inputs->is_object()) {
      checker_.add(at,
                   "expected an object {\"port\": \"<stage>.<port>\" or a list of them}, "
                   "found " +
                       describe_json(*inputs));
      return bound;
    }
    if (inputs != stage.end()) {
      for (const auto& [port, value] : inputs->items())
        read_port(port, value, i, json_pointer_append(at, port), type, &bound);
    }
    if (type == nullptr) return bound;
    for (const plugin::PortInfo& port : type->inputs) {
      if (port.optional || bound.count(port.name) != 0) continue;
      if (inputs != stage.end() && inputs->contains(port.name)) continue;  // reported already
      checker_.add(json_pointer_append(at, port.name),
                   "required input '" + port.name + "' of stage type '" + type->type +
                       "' is not bound; it takes " + kind_phrase(port.kind) +
                       (port.kind == RETORT_PORT_MODEL
                            ? ": \"<stage>.<port>\" or \"models.<name>\""
                            : ": \"<stage>.<port>\" of a stage with a metrics output") +
                       (port.multiple ? " (or a list of them)" : ""));
    }
    return bound;
  }

  void read_port(const std::string& port, const json& value, size_t i, const std::string& at,
                 const plugin::StageType* type,
                 std::map<std::string, std::vector<InputRef>>* bound) {
    const plugin::PortInfo* info = type == nullptr ? nullptr : type->input(port);
    if (type != nullptr && info == nullptr) {
      const std::vector<std::string> names = port_names(type->inputs);
      checker_.add(at,
                   "stage type '" + type->type + "' has no input port '" + port + "'" +
                       did_you_mean(port, names) +
                       (names.empty() ? "; it takes no inputs" : "; its inputs: " + join(names)));
      return;
    }
    std::vector<InputRef>& refs = (*bound)[port];
    if (value.is_string()) {
      check_ref(value.get<std::string>(), at, i, port, type, info, &refs);
      return;
    }
    if (!value.is_array()) {
      checker_.add(at,
                   "expected a reference such as \"teacher.model\" or \"models.cnn\" (or a "
                   "list of them), found " +
                       describe_json(value));
      return;
    }
    if (info != nullptr && !info->multiple) {
      checker_.add(at, "port '" + port + "' of stage type '" + type->type +
                           "' takes one reference, found a list; write a single "
                           "\"<stage>.<port>\" or \"models.<name>\"");
    } else if (info != nullptr && !info->optional && value.empty()) {
      checker_.add(at, "port '" + port + "' of stage type '" + type->type +
                           "' needs at least one reference, found []");
    }
    for (size_t k = 0; k < value.size(); ++k) {
      const std::string item_at = json_pointer_append(at, k);
      if (!value[k].is_string()) {
        checker_.add(item_at,
                     "expected a reference such as \"teacher.model\" or \"models.cnn\", "
                     "found " +
                         describe_json(value[k]));
        continue;
      }
      check_ref(value[k].get<std::string>(), item_at, i, port, type, info, &refs);
    }
  }

  // Checks one reference, records it, and adds its edge.
  void check_ref(const std::string& text, const std::string& at, size_t consumer,
                 const std::string& port, const plugin::StageType* type,
                 const plugin::PortInfo* info, std::vector<InputRef>* refs) {
    InputRef ref;
    ref.text = text;
    ref.json_path = at;
    const std::string port_text =
        type == nullptr ? std::string() : "port '" + port + "' of stage type '" + type->type + "'";
    if (text.rfind(kModelsPrefix, 0) == 0) {
      ref.model = text.substr(std::string(kModelsPrefix).size());
      if (models_.count(ref.model) == 0) {
        checker_.add(at, "no model '" + ref.model + "' in \"models\"" +
                             did_you_mean(ref.model, model_names_) +
                             (model_names_.empty() ? "; the recipe defines no \"models\""
                                                   : "; models: " + join(model_names_)));
      } else if (info != nullptr && info->kind != RETORT_PORT_MODEL) {
        checker_.add(
            at, "'" + text + "' is a model but " + port_text + " takes " + kind_phrase(info->kind));
      }
      refs->push_back(ref);
      return;
    }
    const size_t dot = text.find('.');
    if (dot == std::string::npos || dot == 0 || dot + 1 == text.size() ||
        text.find('.', dot + 1) != std::string::npos) {
      checker_.add(at, "'" + text +
                           "' is not a reference; write \"<stage-id>.<output-port>\" "
                           "(e.g. \"teacher.model\") or \"models.<name>\"" +
                           reference_hint(text));
      return;
    }
    ref.stage = text.substr(0, dot);
    ref.port = text.substr(dot + 1);
    auto producer = known_.ids.find(ref.stage);
    if (producer == known_.ids.end()) {
      checker_.add(at, "no stage '" + ref.stage + "'" + did_you_mean(ref.stage, known_.id_list) +
                           (known_.id_list.empty() ? "" : "; stages: " + join(known_.id_list)));
      return;
    }
    edges_.push_back({producer->second, consumer, at});
    refs->push_back(ref);
    const plugin::StageType* producer_type = known_.types[producer->second];
    if (producer_type == nullptr) return;  // its unknown type is reported at that stage
    const plugin::PortInfo* output = producer_type->output(ref.port);
    if (output == nullptr) {
      const std::vector<std::string> names = port_names(producer_type->outputs);
      checker_.add(
          at, "stage '" + ref.stage + "' (type '" + producer_type->type + "') has no output '" +
                  ref.port + "'" + did_you_mean(ref.port, names) +
                  (names.empty() ? "; it has no outputs" : "; its outputs: " + join(names)));
      return;
    }
    if (info == nullptr) return;
    if (output->kind != info->kind) {
      checker_.add(at, "'" + text + "' is a " + plugin::port_kind_name(output->kind) +
                           " output but " + port_text + " takes " + kind_phrase(info->kind));
    } else if (output->multiple && !info->multiple) {
      checker_.add(at, "'" + text + "' is a list (output '" + ref.port + "' of stage type '" +
                           producer_type->type + "' writes several) but " + port_text +
                           " takes one; bind it to a port that takes a list");
    }
  }

  // " (did you mean 'teacher.model'?)" for a bare stage id or model name.
  std::string reference_hint(const std::string& text) const {
    if (auto it = known_.ids.find(text); it != known_.ids.end()) {
      const plugin::StageType* type = known_.types[it->second];
      if (type != nullptr && !type->outputs.empty())
        return " (did you mean '" + text + "." + type->outputs[0].name + "'?)";
    }
    if (models_.count(text) != 0) return " (did you mean 'models." + text + "'?)";
    return "";
  }

  // Every cycle once, following the data ("a -> b": b reads an output of a).
  void report_cycles() {
    const size_t n = stages_.size();
    std::vector<std::vector<const Edge*>> out(n);
    for (const Edge& e : edges_) out[e.producer].push_back(&e);
    enum { kNew, kOnPath, kDone };
    std::vector<int> state(n, kNew);
    std::vector<size_t> path;
    std::set<std::set<size_t>> reported;
    std::function<void(size_t)> visit = [&](size_t u) {
      state[u] = kOnPath;
      path.push_back(u);
      for (const Edge* e : out[u]) {
        if (state[e->consumer] == kNew) {
          visit(e->consumer);
        } else if (state[e->consumer] == kOnPath) {
          std::vector<size_t> cycle(std::find(path.begin(), path.end(), e->consumer), path.end());
          if (!reported.insert(std::set<size_t>(cycle.begin(), cycle.end())).second) continue;
          report_cycle(cycle);
        }
      }
      path.pop_back();
      state[u] = kDone;
    };
    for (size_t u = 0; u < n; ++u)
      if (state[u] == kNew) visit(u);
  }

  // `cycle` lists stages along the data flow, the last feeding the first. It is named from its
  // earliest stage in the recipe and reported at the input of that stage that closes it.
  void report_cycle(std::vector<size_t> cycle) const {
    std::rotate(cycle.begin(), std::min_element(cycle.begin(), cycle.end()), cycle.end());
    std::vector<std::string> names;
    for (size_t i : cycle) names.push_back(stage_name(i));
    names.push_back(stage_name(cycle.front()));
    std::string where;
    for (const Edge& e : edges_)
      if (e.producer == cycle.back() && e.consumer == cycle.front()) {
        where = e.where;
        break;
      }
    checker_.add(where, "the stages form a cycle: " + join(names, " -> ") +
                            "; a stage cannot depend on its own output, remove one of these "
                            "references");
  }

  std::string stage_name(size_t i) const {
    const json& stage = stages_[i];
    return stage.is_object() && stage.contains("id") && stage["id"].is_string()
               ? stage["id"].get<std::string>()
               : "/stages/" + std::to_string(i);
  }

  const json& stages_;
  uint64_t recipe_seed_;
  const std::map<std::string, json>& models_;
  std::vector<std::string> model_names_;
  const plugin::StageRegistry& registry_;
  const Checker& checker_;
  Known known_;
  std::vector<Edge> edges_;
};

}  // namespace

std::vector<StageSpec> resolve_stages(const json* stages, uint64_t recipe_seed,
                                      const std::map<std::string, json>& models,
                                      const plugin::StageRegistry& registry,
                                      const Checker& checker) {
  if (stages == nullptr) {
    checker.add("/stages",
                "required key is missing; list the stages to run, e.g. [{\"id\": "
                "\"teacher\", \"type\": \"train\", \"inputs\": {...}}]");
    return {};
  }
  if (!stages->is_array() || stages->empty()) {
    checker.add("/stages", "expected a non-empty array of stages, found " + describe_json(*stages));
    return {};
  }
  return StagesReader(*stages, recipe_seed, models, registry, checker).read();
}

}  // namespace retort::recipe::detail
