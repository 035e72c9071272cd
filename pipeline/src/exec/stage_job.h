// One stage of one run: resolves its inputs, checks the cache, runs the plugin and commits the
// stage folder. The executor's graph decides when; this decides what.
#pragma once

#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "retort/exec/artifact_store.h"
#include "retort/exec/executor.h"
#include "retort/exec/host.h"
#include "retort/exec/manifest.h"

namespace retort::exec {

// RunOptions' observers, called one at a time.
class Observer {
 public:
  explicit Observer(const RunOptions& options) : options_(options) {}
  void progress(const std::string& id, const nlohmann::json& fields);
  void log(const std::string& id, const std::string& message);
  void stage_start(const std::string& id, const std::string& type);
  void stage_end(const StageOutcome& outcome);

 private:
  const RunOptions& options_;
  std::mutex mutex_;
};

struct RunContext {
  const recipe::Recipe* recipe = nullptr;
  const ArtifactStore* store = nullptr;
  Observer* observer = nullptr;
  const std::set<std::string>* force = nullptr;
  const std::atomic<bool>* cancel = nullptr;
  int threads_per_stage = 1;
};

class StageJob {
 public:
  StageJob(const RunContext& ctx, const recipe::StageSpec& spec, const plugin::StageType& type);

  const std::string& id() const { return spec_.id; }
  bool compute_heavy() const { return type_.compute_heavy; }
  void add_upstream(const StageJob* job) { upstream_[job->id()] = job; }

  // Decides the stage's fate short of running it: not-run (a dependency did not finish, or the
  // run was cancelled), failed (an input cannot be read), cached, or needs_run().
  void check() noexcept;
  bool needs_run() const { return needs_run_; }
  // Runs the plugin into a temporary folder and commits it; only when needs_run().
  void execute() noexcept;

  const StageOutcome& outcome() const { return outcome_; }
  // Artifacts of each output port, valid once the stage ran or was cached.
  const std::map<std::string, std::vector<Artifact>>& outputs() const { return outputs_; }

 private:
  Status resolve_inputs();
  bool try_cache();
  // Reads the artifacts of every output port in `dir`, taking hashes from `hashes` (file name
  // -> hash), and the metrics files' contents.
  Status collect_outputs(const std::string& dir, const std::map<std::string, std::string>& hashes);
  void run_plugin();
  void finish(StageStatus status, std::string error = {});
  std::string tag() const;  // "stage 'teacher' (train)"

  const RunContext& ctx_;
  const recipe::StageSpec& spec_;
  const plugin::StageType& type_;
  std::map<std::string, const StageJob*> upstream_;

  std::chrono::steady_clock::time_point began_;
  Manifest planned_;      // the cache key of this run, then the full manifest
  retort_stage_run run_;  // inputs filled by resolve_inputs()
  bool needs_run_ = false;
  StageOutcome outcome_;
  std::map<std::string, std::vector<Artifact>> outputs_;
};

}  // namespace retort::exec
