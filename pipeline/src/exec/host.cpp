#include "retort/exec/host.h"

#include <filesystem>
#include <system_error>

namespace retort::exec {
namespace {

// Every entry is noexcept: an exception must not unwind through the plugin's C frames.

const BoundInput* bound(retort_stage_run* run, const char* port, size_t index) noexcept {
  if (run == nullptr || port == nullptr) return nullptr;
  auto it = run->inputs.find(std::string_view(port));
  if (it == run->inputs.end() || index >= it->second.size()) return nullptr;
  return &it->second[index];
}

const char* host_stage_id(retort_stage_run* run) noexcept {
  return run ? run->stage_id.c_str() : "";
}
const char* host_params_json(retort_stage_run* run) noexcept {
  return run ? run->params_json.c_str() : "{}";
}
const char* host_data_json(retort_stage_run* run) noexcept {
  return run ? run->data_json.c_str() : "{}";
}
const char* host_model_spec_json(retort_stage_run* run, const char* port, size_t index) noexcept {
  const BoundInput* in = bound(run, port, index);
  return in && !in->model_spec_json.empty() ? in->model_spec_json.c_str() : nullptr;
}
uint64_t host_seed(retort_stage_run* run) noexcept {
  return run ? run->seed : 0;
}
int32_t host_threads(retort_stage_run* run) noexcept {
  return run ? run->threads : 1;
}
size_t host_input_count(retort_stage_run* run, const char* port) noexcept {
  if (run == nullptr || port == nullptr) return 0;
  auto it = run->inputs.find(std::string_view(port));
  return it == run->inputs.end() ? 0 : it->second.size();
}
const char* host_input_path(retort_stage_run* run, const char* port, size_t index) noexcept {
  const BoundInput* in = bound(run, port, index);
  return in && !in->path.empty() ? in->path.c_str() : nullptr;
}
const char* host_output_dir(retort_stage_run* run) noexcept {
  return run ? run->output_dir.c_str() : "";
}

void host_progress(retort_stage_run* run, const char* json) noexcept {
  if (run == nullptr || json == nullptr || !run->on_progress) return;
  try {
    nlohmann::json fields = nlohmann::json::parse(json, nullptr, false);
    if (fields.is_discarded() || !fields.is_object()) {
      // A plugin bug, not worth failing the stage: say so in the log instead.
      if (run->on_log) run->on_log(std::string("progress report is not a JSON object: ") + json);
      return;
    }
    run->on_progress(fields);
  } catch (...) {
    // A throwing observer must not take the stage down.
  }
}

void host_log(retort_stage_run* run, const char* message) noexcept {
  if (run == nullptr || message == nullptr || !run->on_log) return;
  try {
    run->on_log(message);
  } catch (...) {
  }
}

int32_t host_cancelled(retort_stage_run* run) noexcept {
  return run && run->cancel && run->cancel->load(std::memory_order_relaxed) ? 1 : 0;
}

int32_t host_record_external_file(retort_stage_run* run, const char* path) noexcept {
  if (run == nullptr || path == nullptr || path[0] == '\0') return 1;
  try {
    // Absolute, so that the manifest names the file whatever the working folder of a later run.
    std::error_code ec;
    std::filesystem::path absolute = std::filesystem::absolute(path, ec);
    if (ec) return 1;
    run->external_files.push_back(absolute.lexically_normal().string());
    return 0;
  } catch (...) {
    return 1;
  }
}

int32_t host_checking(retort_stage_run* run) noexcept {
  return run && run->checking ? 1 : 0;
}

constexpr retort_host kHost = {
    .struct_size = sizeof(retort_host),
    .stage_id = host_stage_id,
    .params_json = host_params_json,
    .data_json = host_data_json,
    .model_spec_json = host_model_spec_json,
    .seed = host_seed,
    .threads = host_threads,
    .input_count = host_input_count,
    .input_path = host_input_path,
    .output_dir = host_output_dir,
    .progress = host_progress,
    .log = host_log,
    .cancelled = host_cancelled,
    .record_external_file = host_record_external_file,
    .checking = host_checking,
};

}  // namespace

const retort_host* stage_host() {
  return &kHost;
}

}  // namespace retort::exec
