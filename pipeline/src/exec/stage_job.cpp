#include "exec/stage_job.h"

#include <omp.h>

#include <exception>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <utility>
#include <vector>

#include "exec/iso_time.h"
#include "retort/core/build_info.h"
#include "retort/exec/content_hash.h"

namespace retort::exec {
namespace {

namespace fs = std::filesystem;

constexpr const char* kManifestFile = "manifest.json";
constexpr size_t kErrorBufferSize = 8192;

Expected<nlohmann::json> read_json_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) return make_error(ErrorCode::kNotFound, "cannot open '", path, "'");
  std::stringstream text;
  text << in.rdbuf();
  nlohmann::json j = nlohmann::json::parse(text.str(), nullptr, false);
  if (j.is_discarded()) {
    return make_error(ErrorCode::kParse, "'", path, "' is not valid JSON");
  }
  return j;
}

// Every regular file a stage wrote, by name, with its content hash.
Expected<std::map<std::string, std::string>> hash_folder(const std::string& dir) {
  std::map<std::string, std::string> hashes;
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (!it->is_regular_file(ec) || name == kManifestFile) continue;
    RETORT_ASSIGN_OR_RETURN(uint64_t h, hash_file(it->path().string()));
    hashes[name] = hash_hex(h);
  }
  if (ec) return make_error(ErrorCode::kIo, "cannot list '", dir, "': ", ec.message());
  return hashes;
}

// The files a stage recorded with record_external_file, by absolute path, with their content
// hashes. A recorded file inside the stage's own folder is an output already and is skipped.
Expected<std::map<std::string, std::string>> hash_external_files(
    const std::vector<std::string>& paths, const std::string& stage_dir) {
  std::map<std::string, std::string> hashes;
  std::error_code ec;
  const fs::path dir = fs::absolute(stage_dir, ec).lexically_normal();
  for (const std::string& path : paths) {
    const fs::path relative = fs::path(path).lexically_relative(dir);
    if (!relative.empty() && *relative.begin() != "..") continue;
    Expected<uint64_t> h = hash_file(path);
    if (!h.ok()) {
      return h.status().with_context("the stage recorded '" + path +
                                     "' as a file it wrote, but it cannot be read");
    }
    hashes[path] = hash_hex(*h);
  }
  return hashes;
}

// Keeps OpenMP's thread count for this thread at `n` for a scope: oneDNN (built with OpenMP on
// Debian) sizes its team from the calling thread, and TBB workers are reused by later stages.
class OmpThreadsScope {
 public:
  explicit OmpThreadsScope(int n) : previous_(omp_get_max_threads()) { omp_set_num_threads(n); }
  ~OmpThreadsScope() { omp_set_num_threads(previous_); }
  OmpThreadsScope(const OmpThreadsScope&) = delete;
  OmpThreadsScope& operator=(const OmpThreadsScope&) = delete;

 private:
  int previous_;
};

}  // namespace

void Observer::progress(const std::string& id, const nlohmann::json& fields) {
  if (!options_.on_progress) return;
  std::lock_guard lock(mutex_);
  options_.on_progress(id, fields);
}

void Observer::log(const std::string& id, const std::string& message) {
  if (!options_.on_log) return;
  std::lock_guard lock(mutex_);
  options_.on_log(id, message);
}

void Observer::stage_start(const std::string& id, const std::string& type) {
  if (!options_.on_stage_start) return;
  std::lock_guard lock(mutex_);
  options_.on_stage_start(id, type);
}

void Observer::stage_end(const StageOutcome& outcome) {
  if (!options_.on_stage_end) return;
  std::lock_guard lock(mutex_);
  options_.on_stage_end(outcome);
}

StageJob::StageJob(const RunContext& ctx, const recipe::StageSpec& spec,
                   const plugin::StageType& type)
    : ctx_(ctx), spec_(spec), type_(type) {
  outcome_.id = spec.id;
  outcome_.type = spec.type;
}

std::string StageJob::tag() const {
  return "stage '" + spec_.id + "' (" + spec_.type + ")";
}

void StageJob::finish(StageStatus status, std::string error) {
  outcome_.status = status;
  outcome_.error = std::move(error);
  outcome_.seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - began_).count();
  if (ctx_.observer) {
    try {
      ctx_.observer->stage_end(outcome_);
    } catch (...) {
    }
  }
}

void StageJob::check() noexcept {
  began_ = std::chrono::steady_clock::now();
  try {
    if (ctx_.cancel && ctx_.cancel->load()) {
      finish(StageStatus::kNotRun, "not run: the run was cancelled before it started");
      return;
    }
    for (const auto& [up_id, up] : upstream_) {
      const StageStatus s = up->outcome().status;
      if (s != StageStatus::kRan && s != StageStatus::kCached) {
        finish(StageStatus::kNotRun, "not run: it depends on stage '" + up_id + "', which " +
                                         (s == StageStatus::kFailed ? "failed" : "did not run"));
        return;
      }
    }
    Status resolved = resolve_inputs();
    if (!resolved.ok()) {
      finish(StageStatus::kFailed, tag() + ": " + resolved.message());
      return;
    }
    if (ctx_.force && ctx_.force->count(spec_.id) > 0) {
      ctx_.observer->log(spec_.id, "forced: running even if cached");
    } else if (try_cache()) {
      finish(StageStatus::kCached);
      return;
    }
    needs_run_ = true;
  } catch (const std::exception& e) {
    finish(StageStatus::kFailed, tag() + ": " + e.what());
  } catch (...) {
    finish(StageStatus::kFailed, tag() + ": unexpected exception while preparing the stage");
  }
}

Status StageJob::resolve_inputs() {
  const recipe::Recipe& recipe = *ctx_.recipe;
  planned_.stage_id = spec_.id;
  planned_.type = spec_.type;
  planned_.plugin_name = type_.plugin_name;
  planned_.plugin_version = type_.plugin_version;
  planned_.params = spec_.params.is_null() ? nlohmann::json::object() : spec_.params;
  planned_.data = recipe.data.is_null() ? nlohmann::json::object() : recipe.data;
  planned_.seed = spec_.seed;
  planned_.threads = ctx_.threads_per_stage;
  planned_.retort_version = version();
  planned_.retort_commit = build_commit();

  for (const auto& [port, refs] : spec_.inputs) {
    std::vector<InputRecord>& records = planned_.inputs[port];
    std::vector<BoundInput>& bound = run_.inputs[port];
    for (const recipe::InputRef& ref : refs) {
      if (!ref.stage.empty()) {
        auto up = upstream_.find(ref.stage);
        if (up == upstream_.end()) {
          return make_error(ErrorCode::kInternal, "input '", port, "' references unknown stage '",
                            ref.stage, "'");
        }
        auto produced = up->second->outputs().find(ref.port);
        if (produced == up->second->outputs().end()) {
          return make_error(ErrorCode::kNotFound, "input '", port, "' references '", ref.text,
                            "' but stage '", ref.stage, "' has no output '", ref.port, "'");
        }
        for (const Artifact& a : produced->second) {
          records.push_back({ref.text, a.path, a.hash});
          bound.push_back({a.path, ""});
        }
        continue;
      }
      auto model = recipe.models.find(ref.model);
      if (model == recipe.models.end()) {
        return make_error(ErrorCode::kNotFound, "input '", port, "' references '", ref.text,
                          "' but the recipe has no model '", ref.model, "'");
      }
      const nlohmann::json& m = model->second;
      if (m.is_object() && m.contains("onnx") && m["onnx"].is_string()) {
        const std::string path = m["onnx"].get<std::string>();
        Expected<uint64_t> h = hash_file(path);
        if (!h.ok()) {
          return h.status().with_context("input '" + port + "' (recipe model '" + ref.model + "')");
        }
        records.push_back({ref.text, path, hash_hex(*h)});
        bound.push_back({path, ""});
      } else {
        // An architecture spec: the stage builds it; its canonical text is its identity.
        const std::string text = m.dump();
        records.push_back({ref.text, "", hash_hex(hash_bytes(text))});
        bound.push_back({"", text});
      }
    }
  }
  return Status::Ok();
}

bool StageJob::try_cache() {
  const std::string dir = ctx_.store->stage_dir(spec_.id);
  const std::string manifest_path = (fs::path(dir) / kManifestFile).string();
  std::error_code ec;
  if (!fs::exists(manifest_path, ec)) return false;
  Expected<Manifest> old = read_manifest(manifest_path);
  if (!old.ok()) {
    ctx_.observer->log(spec_.id, "ignoring the previous result: " + old.status().message());
    return false;
  }
  if (!old->same_key(planned_)) return false;
  // The key matches; the outputs must still hold what the manifest recorded.
  for (const auto& [name, hash] : old->outputs) {
    Expected<uint64_t> h = hash_file((fs::path(dir) / name).string());
    if (!h.ok() || hash_hex(*h) != hash) {
      ctx_.observer->log(spec_.id,
                         "previous output '" + name + "' is missing or changed: re-running");
      return false;
    }
  }
  // So must the files it wrote outside its folder (an export the user deleted is written again).
  for (const auto& [path, hash] : old->external) {
    Expected<uint64_t> h = hash_file(path);
    if (!h.ok() || hash_hex(*h) != hash) {
      ctx_.observer->log(spec_.id, "file '" + path + "' it wrote is " +
                                       (h.ok() ? "changed" : "missing") + ": re-running");
      return false;
    }
  }
  Status collected = collect_outputs(dir, old->outputs);
  if (!collected.ok()) {
    ctx_.observer->log(spec_.id,
                       "previous result is incomplete (" + collected.message() + "): re-running");
    outputs_.clear();
    outcome_.metrics = nullptr;
    return false;
  }
  outcome_.retort_commit = old->retort_commit;
  return true;
}

Status StageJob::collect_outputs(const std::string& dir,
                                 const std::map<std::string, std::string>& hashes) {
  nlohmann::json metrics = nlohmann::json::object();
  size_t metric_ports = 0;
  for (const plugin::PortInfo& port : type_.outputs) {
    RETORT_ASSIGN_OR_RETURN(std::vector<std::string> paths, port_files(dir, port));
    std::vector<Artifact>& artifacts = outputs_[port.name];
    nlohmann::json port_metrics = nlohmann::json::array();
    for (const std::string& path : paths) {
      const std::string name = fs::path(path).filename().string();
      auto h = hashes.find(name);
      if (h == hashes.end()) {
        return make_error(ErrorCode::kInternal, "output file '", name, "' has no recorded hash");
      }
      artifacts.push_back({path, h->second});
      if (port.kind == RETORT_PORT_METRICS) {
        RETORT_ASSIGN_OR_RETURN(nlohmann::json m, read_json_file(path));
        port_metrics.push_back(std::move(m));
      }
    }
    if (port.kind == RETORT_PORT_METRICS) {
      ++metric_ports;
      metrics[port.name] = port.multiple          ? port_metrics
                           : port_metrics.empty() ? nlohmann::json()
                                                  : port_metrics[0];
    }
  }
  // One metrics port (the usual case): its object itself; several: keyed by port.
  if (metric_ports == 1) {
    outcome_.metrics = metrics.begin().value();
  } else if (metric_ports > 1) {
    outcome_.metrics = std::move(metrics);
  }
  return Status::Ok();
}

void StageJob::execute() noexcept {
  // A stage's seconds are its own run, not the time it waited for a --jobs permit.
  began_ = std::chrono::steady_clock::now();
  try {
    run_plugin();
  } catch (const std::exception& e) {
    ctx_.store->discard(spec_.id);
    finish(StageStatus::kFailed, tag() + ": " + e.what());
  } catch (...) {
    ctx_.store->discard(spec_.id);
    finish(StageStatus::kFailed, tag() + ": unexpected exception");
  }
}

void StageJob::run_plugin() {
  if (ctx_.cancel && ctx_.cancel->load()) {
    finish(StageStatus::kNotRun, "not run: the run was cancelled before it started");
    return;
  }
  Expected<std::string> dir = ctx_.store->begin(spec_.id);
  if (!dir.ok()) {
    finish(StageStatus::kFailed, tag() + ": " + dir.status().message());
    return;
  }
  run_.stage_id = spec_.id;
  run_.params_json = planned_.params.dump();
  run_.data_json = planned_.data.dump();
  run_.output_dir = *dir;
  run_.seed = spec_.seed;
  run_.threads = ctx_.threads_per_stage;
  run_.cancel = ctx_.cancel;
  Observer* observer = ctx_.observer;
  const std::string id = spec_.id;
  run_.on_progress = [observer, id](const nlohmann::json& p) { observer->progress(id, p); };
  run_.on_log = [observer, id](const std::string& m) { observer->log(id, m); };
  run_.external_files.clear();

  observer->stage_start(spec_.id, spec_.type);
  const auto started = std::chrono::system_clock::now();
  const auto t0 = std::chrono::steady_clock::now();
  std::vector<char> buffer(kErrorBufferSize, '\0');
  std::string error;
  int32_t rc = 0;
  {
    OmpThreadsScope threads(ctx_.threads_per_stage);
    try {
      rc = type_.run(stage_host(), &run_, buffer.data(), buffer.size());
      buffer.back() = '\0';  // a plugin may fill the buffer without terminating it
      error = buffer.data();
    } catch (const std::exception& e) {
      // The ABI forbids it, but a plugin not built with the SDK may still throw.
      rc = -1;
      error = std::string("unhandled exception: ") + e.what();
    } catch (...) {
      rc = -1;
      error = "unhandled exception of a type not derived from std::exception";
    }
  }
  const auto t1 = std::chrono::steady_clock::now();

  if (ctx_.cancel && ctx_.cancel->load()) {
    ctx_.store->discard(spec_.id);
    finish(StageStatus::kNotRun,
           "not run: cancelled while running; its partial output was "
           "deleted and a rerun starts it again");
    return;
  }
  if (rc != 0) {
    ctx_.store->discard(spec_.id);
    if (error.empty()) {
      error = "failed without a message (plugin '" + type_.plugin_name + "' returned " +
              std::to_string(rc) + ")";
    }
    finish(StageStatus::kFailed, tag() + ": " + error);
    return;
  }

  Status committed = [&]() -> Status {
    RETORT_ASSIGN_OR_RETURN(auto hashes, hash_folder(*dir));
    RETORT_RETURN_IF_ERROR(collect_outputs(*dir, hashes));
    planned_.outputs = hashes;
    RETORT_ASSIGN_OR_RETURN(planned_.external, hash_external_files(run_.external_files, *dir));
    planned_.started = iso_time_utc(started);
    planned_.finished = iso_time_utc(std::chrono::system_clock::now());
    planned_.seconds = std::chrono::duration<double>(t1 - t0).count();
    RETORT_RETURN_IF_ERROR(write_manifest(planned_, (fs::path(*dir) / kManifestFile).string()));
    return ctx_.store->commit(spec_.id);
  }();
  if (!committed.ok()) {
    ctx_.store->discard(spec_.id);
    outputs_.clear();
    outcome_.metrics = nullptr;
    finish(StageStatus::kFailed, tag() + ": " + committed.message());
    return;
  }
  // The artifacts now live in the stage folder, not the temporary one.
  const fs::path final_dir = ctx_.store->stage_dir(spec_.id);
  for (auto& [port, artifacts] : outputs_) {
    for (Artifact& a : artifacts) a.path = (final_dir / fs::path(a.path).filename()).string();
  }
  outcome_.retort_commit = planned_.retort_commit;
  finish(StageStatus::kRan);
}

}  // namespace retort::exec
