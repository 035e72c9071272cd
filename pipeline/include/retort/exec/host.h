// The host side of the plugin ABI: what one stage run sees (retort_stage_run, opaque to
// plugins) and the retort_host table of services over it. The executor fills a run and calls
// the stage's run() with stage_host(); tests may do the same to call a stage directly.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "nlohmann/json.hpp"
#include "retort/plugin/abi.h"

namespace retort::exec {

// One value bound to an input port: an artifact file, or a recipe model given as an
// architecture spec (recipe models {"onnx": path} are bound as files).
struct BoundInput {
  std::string path;             // empty for a model spec
  std::string model_spec_json;  // empty for a file
};

// The table every stage run gets; static, valid for the life of the process.
const retort_host* stage_host();

}  // namespace retort::exec

// Defined at global scope: abi.h declares it there as an opaque C struct.
struct retort_stage_run {
  std::string stage_id;
  std::string params_json = "{}";
  std::string data_json = "{}";
  std::map<std::string, std::vector<retort::exec::BoundInput>, std::less<>> inputs;
  std::string output_dir;
  uint64_t seed = 0;
  int32_t threads = 1;
  // Called from the stage's thread; the executor serialises them across stages.
  std::function<void(const nlohmann::json& progress)> on_progress;
  std::function<void(const std::string& message)> on_log;
  const std::atomic<bool>* cancel = nullptr;  // null: never cancelled
  bool checking = false;                      // the host calls the stage's check, not its run
  // Files the stage wrote outside output_dir (record_external_file), absolute, in call order.
  std::vector<std::string> external_files;
};
