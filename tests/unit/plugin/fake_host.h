// A stand-in for the executor's side of the plugin ABI: a retort_host table whose services
// read a FakeRun, so SDK and fixture-plugin tests can run a stage without a recipe.
#pragma once

#include <algorithm>
#include <map>
#include <string>
#include <vector>

#include "nlohmann/json.hpp"
#include "retort/plugin/abi.h"

namespace retort::plugin::testing {

struct FakeRun {
  std::string id = "stage-under-test";
  std::string params = "{}";
  std::string data = "{}";
  uint64_t seed = 7;
  int32_t threads = 2;
  std::map<std::string, std::vector<std::string>> paths;  // port -> artifact paths
  std::map<std::string, std::vector<std::string>> specs;  // port -> model spec JSON
  std::string output_dir;
  bool checking = false;  // the stage's check is called, not its run
  bool cancelled = false;
  std::vector<std::string> logs;
  std::vector<nlohmann::json> progress;
  std::vector<std::string> external_files;  // record_external_file, as given

  retort_stage_run* handle() { return reinterpret_cast<retort_stage_run*>(this); }
};

inline FakeRun& fake(retort_stage_run* run) {
  return *reinterpret_cast<FakeRun*>(run);
}

inline const char* entry_or_null(const std::map<std::string, std::vector<std::string>>& m,
                                 const char* port, size_t index) {
  auto it = m.find(port);
  if (it == m.end() || index >= it->second.size() || it->second[index].empty()) return nullptr;
  return it->second[index].c_str();
}

inline const retort_host& fake_host() {
  static const retort_host host = {
      sizeof(retort_host),
      [](retort_stage_run* r) { return fake(r).id.c_str(); },
      [](retort_stage_run* r) { return fake(r).params.c_str(); },
      [](retort_stage_run* r) { return fake(r).data.c_str(); },
      [](retort_stage_run* r, const char* port, size_t i) {
        return entry_or_null(fake(r).specs, port, i);
      },
      [](retort_stage_run* r) { return fake(r).seed; },
      [](retort_stage_run* r) { return fake(r).threads; },
      [](retort_stage_run* r, const char* port) -> size_t {
        size_t n = 0;
        for (const auto* m : {&fake(r).paths, &fake(r).specs}) {
          if (auto it = m->find(port); it != m->end()) n = std::max(n, it->second.size());
        }
        return n;
      },
      [](retort_stage_run* r, const char* port, size_t i) {
        return entry_or_null(fake(r).paths, port, i);
      },
      [](retort_stage_run* r) { return fake(r).output_dir.c_str(); },
      [](retort_stage_run* r, const char* json) {
        fake(r).progress.push_back(nlohmann::json::parse(json));
      },
      [](retort_stage_run* r, const char* message) { fake(r).logs.emplace_back(message); },
      [](retort_stage_run* r) -> int32_t { return fake(r).cancelled ? 1 : 0; },
      [](retort_stage_run* r, const char* path) -> int32_t {
        if (path == nullptr || path[0] == '\0') return 1;
        fake(r).external_files.emplace_back(path);
        return 0;
      },
      [](retort_stage_run* r) -> int32_t { return fake(r).checking ? 1 : 0; },
  };
  return host;
}

}  // namespace retort::plugin::testing
