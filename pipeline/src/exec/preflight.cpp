#include "retort/exec/preflight.h"

#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <map>
#include <set>
#include <string>
#include <system_error>

#include "exec/cancel_flag.h"
#include "retort/exec/artifact_store.h"
#include "retort/exec/executor.h"
#include "retort/exec/host.h"

namespace retort::exec {
namespace fs = std::filesystem;
namespace {

// Stages in an order where every stage comes after the stages it reads (the recipe loader has
// already rejected cycles); file order among independent stages.
std::vector<const recipe::StageSpec*> graph_order(const recipe::Recipe& recipe) {
  std::vector<const recipe::StageSpec*> order;
  std::set<std::string> placed;
  while (order.size() < recipe.stages.size()) {
    const size_t before = order.size();
    for (const recipe::StageSpec& s : recipe.stages) {
      if (placed.count(s.id)) continue;
      bool ready = true;
      for (const auto& [port, refs] : s.inputs)
        for (const recipe::InputRef& ref : refs)
          if (!ref.stage.empty() && !placed.count(ref.stage)) ready = false;
      if (!ready) continue;
      order.push_back(&s);
      placed.insert(s.id);
    }
    if (order.size() == before) break;  // a cycle: reported by the loader, not here
  }
  return order;
}

// The models the check of stage `id` wrote for its output `port` (the same file names as a
// run's outputs), or none when it wrote none.
std::vector<std::string> checked_outputs(const fs::path& dir, const recipe::Recipe& recipe,
                                         const plugin::StageRegistry& registry,
                                         const recipe::InputRef& ref) {
  const recipe::StageSpec* upstream = recipe.stage(ref.stage);
  const plugin::StageType* type = upstream ? registry.find(upstream->type) : nullptr;
  const plugin::PortInfo* port = type ? type->output(ref.port) : nullptr;
  if (port == nullptr) return {};
  auto files = port_files((dir / ref.stage).string(), *port);
  return files.ok() ? std::move(files).value() : std::vector<std::string>{};
}

constexpr const char* kScratchPrefix = "retort-check-";

// Removes the check folders "retort-check-<pid>-XXXXXX" of processes that are gone and that are
// older than a few minutes: left by a run killed outright (SIGKILL, a crash in a check).
void remove_abandoned_scratch(const fs::path& temp) {
  const std::string prefix = kScratchPrefix;
  const auto cutoff = fs::file_time_type::clock::now() - std::chrono::minutes(10);
  std::error_code ec;
  std::vector<fs::path> abandoned;
  for (fs::directory_iterator it(temp, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (name.rfind(prefix, 0) != 0) continue;
    long pid = 0;
    const char* first = name.c_str() + prefix.size();
    const auto [rest, err] = std::from_chars(first, name.c_str() + name.size(), pid);
    if (err != std::errc() || rest == first || *rest != '-' || pid <= 0) continue;
    if (::kill(static_cast<pid_t>(pid), 0) == 0 || errno != ESRCH) continue;  // alive, or not ours
    std::error_code time_ec;
    const auto written = fs::last_write_time(it->path(), time_ec);
    if (!time_ec && written < cutoff && it->is_directory(time_ec)) abandoned.push_back(it->path());
  }
  for (const fs::path& p : abandoned) fs::remove_all(p, ec);
}

// The checks' scratch folder in the system temp folder, "retort-check-<pid>-XXXXXX". A stop
// signal never leaves it behind: the first one lets check_stages return and this destructor
// remove it; a second one, which ends the process at once, removes it in the handler
// (set_scratch_folder).
class TempDir {
 public:
  TempDir() {
    const fs::path temp = fs::temp_directory_path();
    remove_abandoned_scratch(temp);
    std::string pattern =
        (temp / (kScratchPrefix + std::to_string(static_cast<long>(::getpid())) + "-XXXXXX"))
            .string();
    if (mkdtemp(pattern.data()) != nullptr) {
      path_ = pattern;
      set_scratch_folder(pattern);
    }
  }
  ~TempDir() {
    std::error_code ec;
    if (!path_.empty()) fs::remove_all(path_, ec);
    set_scratch_folder("");
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

}  // namespace

std::vector<recipe::Diagnostic> check_stages(const recipe::Recipe& recipe,
                                             const plugin::StageRegistry& registry) {
  std::vector<recipe::Diagnostic> problems;
  TempDir tmp;
  if (tmp.path().empty()) {
    problems.push_back({"", "cannot create a temporary folder for the stage checks in " +
                                fs::temp_directory_path().string()});
    return problems;
  }
  const std::string data_json = recipe.data.is_null() ? "{}" : recipe.data.dump();
  for (const recipe::StageSpec* spec : graph_order(recipe)) {
    // A stop signal: the caller reports the interruption; the folder goes with `tmp`.
    if (cancel_requested()) break;
    const plugin::StageType* type = registry.find(spec->type);
    const fs::path dir = tmp.path() / spec->id;
    std::error_code ec;
    fs::create_directories(dir, ec);
    if (type == nullptr || type->check == nullptr) continue;

    retort_stage_run run;
    run.stage_id = spec->id;
    run.params_json = spec->params.is_null() ? "{}" : spec->params.dump();
    run.data_json = data_json;
    run.seed = spec->seed;
    run.threads = 1;
    run.checking = true;
    run.cancel = cancel_flag();  // a long check may stop early (StageContext::cancelled)
    run.output_dir = dir.string();
    for (const auto& [port, refs] : spec->inputs) {
      std::vector<BoundInput>& bound = run.inputs[port];
      for (const recipe::InputRef& ref : refs) {
        if (!ref.stage.empty()) {
          std::vector<std::string> paths = checked_outputs(tmp.path(), recipe, registry, ref);
          if (paths.empty()) bound.push_back({});  // produced at run time: unknown here
          for (const std::string& p : paths) bound.push_back({p, ""});
          continue;
        }
        auto model = recipe.models.find(ref.model);
        if (model == recipe.models.end()) {
          bound.push_back({});
        } else if (model->second.is_object() && model->second.contains("onnx") &&
                   model->second["onnx"].is_string()) {
          bound.push_back({model->second["onnx"].get<std::string>(), ""});
        } else {
          bound.push_back({"", model->second.dump()});
        }
      }
    }
    std::array<char, 4096> error{};
    int32_t rc = 1;
    try {
      rc = type->check(stage_host(), &run, error.data(), error.size());
    } catch (...) {
      // A plugin that breaks the no-exceptions rule: reported like a failed check.
      std::snprintf(error.data(), error.size(), "the check threw an exception");
    }
    if (rc != 0) {
      problems.push_back({"/stages/" + std::to_string(spec->index),
                          "stage '" + spec->id + "' (" + spec->type + "): " + error.data()});
      // Its outputs are not trustworthy: downstream checks treat them as unknown.
      fs::remove_all(dir, ec);
    }
  }
  return problems;
}

}  // namespace retort::exec
