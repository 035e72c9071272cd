// Test fixtures for the executor: stage types written as plain C run functions (registered with
// StageRegistry::add), a record of what they did, hand-built recipes and scratch folders.
#pragma once

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "nlohmann/json.hpp"
#include "retort/exec/executor.h"
#include "retort/plugin/registry.h"
#include "retort/recipe/recipe.h"

namespace retort::exec::testing {

inline ::testing::AssertionResult contains(const std::string& text, const std::string& part) {
  if (text.find(part) != std::string::npos) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure()
         << "\"" << text << "\"\n  does not contain \"" << part << "\"";
}

// What the test stages did, shared by every stage run in the process.
struct StageLog {
  struct Interval {
    std::chrono::steady_clock::time_point start, end;
  };
  std::mutex mutex;
  std::vector<std::string> runs;               // stage ids, in the order their run() began
  std::map<std::string, Interval> intervals;   // "slow" stages
  std::map<std::string, int> omp_threads;      // omp_get_max_threads() inside run()
  std::map<std::string, int> compute_threads;  // retort::compute_threads() inside run()
  std::map<std::string, int> host_threads;     // host->threads()
  std::map<std::string, std::string> output_dirs;
  std::atomic<int> slow_started{0};
  std::atomic<int> slow_ms{200};  // how long a "slow" stage runs unless cancelled
  // When > 0, a "slow" stage also waits (up to 10 s) until this many slow stages have started:
  // proves concurrency without relying on how fast threads wake up.
  std::atomic<int> rendezvous{0};
  std::atomic<int> running{0};      // slow stages inside run() now
  std::atomic<int> max_running{0};  // the most seen at once

  void reset();
  std::vector<std::string> ran() {
    std::lock_guard lock(mutex);
    return runs;
  }
};
StageLog& stage_log();

// Stage types of plugin "exec-test" (version `version`):
//   make    (light)  -> model            writes params.value (default "x"); reports progress
//   fanout  (light)  -> models[multiple] writes params.n files "f0", "f1", ...
//   relay   (heavy)  in -> model, metrics  model = input + params.suffix; metrics {accuracy,
//   params} combine (light)  parts[multiple] -> metrics {count, joined} use     (light)
//   models[multiple] -> metrics {paths, specs} (paths or recipe model specs) fail    (heavy)
//   in[optional] -> model  returns an error throw   (heavy)  -> model            throws a C++
//   exception out of run() lazy    (light)  -> model            returns success without writing its
//   output slow    (heavy)  in[optional] -> model  runs stage_log().slow_ms ms, checking
//   cancelled() arena   (heavy)  -> model            waits for a task enqueued in its own
//   one-worker
//                                        tbb::task_arena, as the engine's batch loader does
//   publish (light)  in[optional] -> model  writes the input's bytes to params.path (outside the
//                                        run folder) and records it as an external file
const retort_plugin_info* test_plugin_info(const char* version = "1.0");
// A registry holding the test plugin.
plugin::StageRegistry test_registry(const char* version = "1.0");

// A stage; inputs as written in a recipe: {{"in", {"a.model"}}, {"parts", {"a.model", "b.model"}}}.
recipe::StageSpec stage(const std::string& id, const std::string& type,
                        const std::map<std::string, std::vector<std::string>>& inputs = {},
                        nlohmann::json params = nlohmann::json::object());
recipe::Recipe make_recipe(std::vector<recipe::StageSpec> stages, const std::string& name = "test");

// A fresh folder per test, removed at scope end.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  std::string path(const std::string& name = "") const { return (path_ / name).string(); }

 private:
  std::filesystem::path path_;
};

std::string read_text(const std::string& path);
void write_text(const std::string& path, const std::string& text);
// Entries of `dir` whose name starts with '.' and contains ".tmp-" or ".old-".
std::vector<std::string> leftovers(const std::string& dir);

// Runs with out_dir = dir, the given options otherwise; fails the test if run_recipe errs.
RunResult run_ok(const recipe::Recipe& recipe, const plugin::StageRegistry& registry,
                 const std::string& dir, RunOptions options = {});
StageStatus status_of(const RunResult& result, const std::string& id);

}  // namespace retort::exec::testing
