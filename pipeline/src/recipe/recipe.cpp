#include "retort/recipe/recipe.h"

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "recipe/sections.h"
#include "retort/core/json_util.h"

namespace retort::recipe {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;

const std::vector<std::string>& top_level_keys() {
  static const std::vector<std::string> kKeys = {"version", "seed",    "data",       "models",
                                                 "stages",  "$schema", "description"};
  return kKeys;
}

Status failure(ErrorCode code, const std::vector<Diagnostic>& problems, const std::string& file) {
  std::string text = format_diagnostics(problems, file);
  if (!text.empty() && text.back() == '\n') text.pop_back();
  return Status(code, text);
}

void check_header(const json& doc, Recipe* recipe, const detail::Checker& checker) {
  checker.check_keys(doc, "", top_level_keys(), "a recipe");
  if (auto it = doc.find("version"); it == doc.end()) {
    checker.add("/version", "required key is missing; add \"version\": " +
                                std::to_string(kRecipeVersion) + " (the recipe format version)");
  } else if (auto v = as_integer(*it); !v || *v != kRecipeVersion) {
    checker.add("/version", "unsupported recipe version " + it->dump() + "; this retort reads " +
                                "version " + std::to_string(kRecipeVersion));
  }
  if (auto it = doc.find("seed"); it != doc.end()) {
    if (auto seed = checker.unsigned_at(*it, "/seed", 0)) recipe->seed = *seed;
  }
  for (const char* key : {"description", "$schema"}) {
    if (auto it = doc.find(key); it != doc.end() && !it->is_string())
      checker.add(json_pointer_append("", key), "expected a string, found " + describe_json(*it));
  }
}

}  // namespace

const StageSpec* Recipe::stage(const std::string& id) const {
  for (const StageSpec& s : stages)
    if (s.id == id) return &s;
  return nullptr;
}

nlohmann::json Recipe::resolved_json() const {
  json out = {{"version", version}, {"seed", seed}, {"data", data}};
  out["models"] = json::object();
  for (const auto& [name, spec] : models) out["models"][name] = spec;
  json stage_list = json::array();
  for (const StageSpec& s : stages) {
    json inputs = json::object();
    for (const auto& [port, refs] : s.inputs) {
      if (refs.size() == 1) {
        inputs[port] = refs[0].text;
      } else {
        inputs[port] = json::array();
        for (const InputRef& ref : refs) inputs[port].push_back(ref.text);
      }
    }
    stage_list.push_back({{"id", s.id},
                          {"type", s.type},
                          {"inputs", inputs},
                          {"params", s.params},
                          {"seed", s.seed}});
  }
  out["stages"] = stage_list;
  return out;
}

Expected<Recipe> parse_recipe(const std::string& text, const std::string& origin_path,
                              const plugin::StageRegistry& registry,
                              std::vector<Diagnostic>* problems) {
  std::vector<Diagnostic> local;
  if (problems == nullptr) problems = &local;
  problems->clear();

  Recipe recipe;
  recipe.path = origin_path;
  recipe.name = origin_path.empty() ? "recipe" : fs::path(origin_path).stem().string();
  std::error_code ec;
  const fs::path base =
      origin_path.empty() ? fs::current_path(ec) : fs::absolute(origin_path, ec).parent_path();
  const detail::Checker checker{base.string(), problems};

  std::optional<json> doc = detail::parse_json_text(text, checker);
  if (!doc) return failure(ErrorCode::kParse, *problems, origin_path);
  if (!doc->is_object()) {
    checker.add("/", "expected a recipe object {\"version\": 1, \"stages\": [...]}, found " +
                         describe_json(*doc));
    return failure(ErrorCode::kInvalidArgument, *problems, origin_path);
  }
  check_header(*doc, &recipe, checker);
  detail::DataFacts facts;
  auto find = [&](const char* key) -> const json* {
    auto it = doc->find(key);
    return it == doc->end() ? nullptr : &*it;
  };
  recipe.data = detail::resolve_data(find("data"), checker, &facts);
  recipe.models = detail::resolve_models(find("models"), facts, checker);
  // ta_chain and born_again become the distill stages they stand for; problems found in
  // those are reported at the construct's own place in the file.
  std::vector<detail::StageOrigin> origins;
  std::optional<json> expanded;
  if (const json* stages = find("stages"); stages != nullptr)
    expanded = detail::expand_constructs(*stages, recipe.seed, checker, &origins);
  const size_t first_stage_problem = problems->size();
  recipe.stages = detail::resolve_stages(expanded ? &*expanded : nullptr, recipe.seed,
                                         recipe.models, registry, checker);
  detail::map_to_origins(*problems, first_stage_problem, origins);
  if (!problems->empty()) return failure(ErrorCode::kInvalidArgument, *problems, origin_path);
  return recipe;
}

Expected<Recipe> load_recipe(const std::string& path, const plugin::StageRegistry& registry,
                             std::vector<Diagnostic>* problems) {
  std::ifstream file(path, std::ios::binary);
  if (!file) {
    const int error = errno;
    std::vector<Diagnostic> local{
        {"", std::string("cannot read the recipe: ") + std::strerror(error) + "; check the path"}};
    if (problems != nullptr) *problems = local;
    return failure(ErrorCode::kNotFound, local, path);
  }
  std::ostringstream text;
  text << file.rdbuf();
  return parse_recipe(text.str(), path, registry, problems);
}

Expected<nlohmann::json> resolve_data_section(const nlohmann::json& section,
                                              const std::string& origin,
                                              const std::string& base_dir,
                                              std::vector<Diagnostic>* problems) {
  std::vector<Diagnostic> local;
  if (problems == nullptr) problems = &local;
  problems->clear();
  std::error_code ec;
  const fs::path base = base_dir.empty() ? fs::current_path(ec) : fs::absolute(base_dir, ec);
  const detail::Checker checker{base.string(), problems};
  detail::DataFacts facts;
  json resolved = detail::resolve_data(&section, checker, &facts);
  if (!problems->empty()) return failure(ErrorCode::kInvalidArgument, *problems, origin);
  return resolved;
}

std::vector<std::string> topological_order(const Recipe& recipe) {
  const size_t n = recipe.stages.size();
  std::map<std::string, size_t> index;
  for (size_t i = 0; i < n; ++i) index[recipe.stages[i].id] = i;
  std::vector<std::set<size_t>> readers(n);
  std::vector<size_t> waiting(n, 0);
  for (size_t i = 0; i < n; ++i) {
    std::set<size_t> producers;
    for (const auto& [port, refs] : recipe.stages[i].inputs)
      for (const InputRef& ref : refs)
        if (auto it = index.find(ref.stage); !ref.stage.empty() && it != index.end())
          producers.insert(it->second);
    waiting[i] = producers.size();
    for (size_t p : producers) readers[p].insert(i);
  }
  // Kahn's algorithm, always taking the earliest ready stage in recipe order.
  std::set<size_t> ready;
  for (size_t i = 0; i < n; ++i)
    if (waiting[i] == 0) ready.insert(i);
  std::vector<std::string> order;
  std::vector<bool> placed(n, false);
  while (!ready.empty()) {
    const size_t i = *ready.begin();
    ready.erase(ready.begin());
    order.push_back(recipe.stages[i].id);
    placed[i] = true;
    for (size_t r : readers[i])
      if (--waiting[r] == 0) ready.insert(r);
  }
  // Only a recipe that failed validation can have a cycle; its stages go last, in order.
  for (size_t i = 0; i < n; ++i)
    if (!placed[i]) order.push_back(recipe.stages[i].id);
  return order;
}

}  // namespace retort::recipe
