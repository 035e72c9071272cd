// Runs a validated recipe: a DAG of stages on tbb::flow_graph, with a cache of artifacts.
//
// Run folder: <out>/<stage-id>/ holds the stage's outputs ("<port>.onnx", "<port>.json") and
// manifest.json (stage type, plugin name and version, resolved params, data, seed, input
// artifact hashes, output hashes, the files it wrote outside its folder with their hashes,
// start and end time). A stage's folder is written under a temporary name and renamed when the
// stage succeeds. A stage whose manifest matches what it would run with now (and whose outputs
// and outside files are intact) is not run again. <out>/report.json,
// <out>/report.md and <out>/recipe.resolved.json summarise the run.
#pragma once

#include <functional>
#include <set>
#include <string>
#include <vector>

#include "nlohmann/json.hpp"
#include "retort/core/status.h"
#include "retort/plugin/registry.h"
#include "retort/recipe/recipe.h"

namespace retort::exec {

enum class StageStatus { kRan, kCached, kFailed, kNotRun };
const char* stage_status_name(StageStatus s);  // "ran", "cached", "failed", "not-run"

struct StageOutcome {
  std::string id;
  std::string type;
  StageStatus status = StageStatus::kNotRun;
  double seconds = 0;      // wall time spent on the stage in this run
  nlohmann::json metrics;  // the stage's metrics output(s), if any (null otherwise)
  // kFailed: the message, tagged with the stage id: "stage 'teacher' (train): ...".
  // kNotRun: why (a failed dependency, or the run was cancelled).
  std::string error;
  // kRan and kCached: the git commit of the build that computed the result (build_commit():
  // this build's when it ran, the manifest's when cached; empty if that manifest predates it).
  std::string retort_commit;
};

struct RunOptions {
  std::string out_dir;          // default: "runs/<recipe name>"
  int threads = 0;              // 0: all cores
  int jobs = 1;                 // compute-heavy stages at once; cores are split between them
  std::set<std::string> force;  // stage ids re-run even when cached
  // Observers. Calls are serialised (never two at once), from the executor's threads; they must
  // not throw. Live progress (one line per running stage on a terminal, log lines otherwise):
  std::function<void(const std::string& stage_id, const nlohmann::json& progress)> on_progress;
  std::function<void(const std::string& stage_id, const std::string& message)> on_log;
  // A stage starts running (not called for cached stages).
  std::function<void(const std::string& stage_id, const std::string& type)> on_stage_start;
  // Every stage's final status, as soon as it is known.
  std::function<void(const StageOutcome& outcome)> on_stage_end;
};

struct RunResult {
  std::string out_dir;
  std::vector<StageOutcome> stages;  // in recipe order
  bool cancelled = false;
  bool ok() const;  // every stage ran or was cached, and the run was not cancelled
  const StageOutcome* stage(const std::string& id) const;
};

// Runs every stage that is not cached. A failing stage stops its dependents (not-run), lets
// unrelated branches finish and keeps every finished artifact. SIGINT/SIGTERM (see
// install_signal_handlers) stops cleanly: running stages are asked to stop, their partial
// output is dropped, and a later run resumes with finished stages cached. An error result means
// the run could not start (bad options, unwritable folder, a recipe that is not a DAG).
Expected<RunResult> run_recipe(const recipe::Recipe& recipe, const plugin::StageRegistry& registry,
                               const RunOptions& options);

// SIGINT/SIGTERM call request_cancel(); a second signal while cancelling ends the process (after
// removing check_stages' scratch folder, if one exists). Install them before any work that the
// first signal should stop cleanly: a signal before that kills the process the default way.
void install_signal_handlers();
void request_cancel();  // async-signal-safe
bool cancel_requested();
void clear_cancel();  // lets a later run_recipe in the same process start (the run never clears it)

// The DAG as text (one line per stage with its inputs) and as Graphviz DOT (one node per stage
// labelled "id\ntype", recipe models as ellipses, edges labelled with the input port).
std::string graph_text(const recipe::Recipe& recipe);
std::string graph_dot(const recipe::Recipe& recipe);

}  // namespace retort::exec
