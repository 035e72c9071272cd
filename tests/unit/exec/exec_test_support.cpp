#include "exec_test_support.h"

#include <omp.h>
#include <unistd.h>

#include <condition_variable>
#include <cstring>
#include <fstream>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <thread>

#include <tbb/task_arena.h>

#include "retort/core/atomic_file.h"
#include "retort/core/cpu_budget.h"
#include "retort/plugin/sdk.h"

namespace retort::exec::testing {
namespace {

namespace fs = std::filesystem;

std::string out_file(const retort_host* host, retort_stage_run* run, const std::string& name) {
  return (fs::path(host->output_dir(run)) / name).string();
}

nlohmann::json params(const retort_host* host, retort_stage_run* run) {
  return nlohmann::json::parse(host->params_json(run));
}

int32_t fail_with(const std::string& message, char* error, size_t error_size) {
  std::snprintf(error, error_size, "%s", message.c_str());
  return 1;
}

void record_run(const retort_host* host, retort_stage_run* run) {
  StageLog& log = stage_log();
  std::lock_guard lock(log.mutex);
  const std::string id = host->stage_id(run);
  log.runs.push_back(id);
  log.omp_threads[id] = omp_get_max_threads();
  log.compute_threads[id] = compute_threads();
  log.host_threads[id] = host->threads(run);
  log.output_dirs[id] = host->output_dir(run);
}

int32_t run_make(const retort_host* host, retort_stage_run* run, char*, size_t) {
  record_run(host, run);
  host->progress(run, R"({"step": 1, "steps": 1})");
  host->log(run, "making");
  write_text(out_file(host, run, "model.onnx"), params(host, run).value("value", "x"));
  return 0;
}

int32_t run_fanout(const retort_host* host, retort_stage_run* run, char*, size_t) {
  record_run(host, run);
  const int n = params(host, run).value("n", 2);
  for (int i = 0; i < n; ++i) {
    const std::string index = std::to_string(i);
    write_text(out_file(host, run, std::string("models.").append(index).append(".onnx")),
               std::string("f").append(index));
  }
  return 0;
}

int32_t run_relay(const retort_host* host, retort_stage_run* run, char* error, size_t error_size) {
  record_run(host, run);
  const char* in = host->input_path(run, "in", 0);
  if (in == nullptr) return fail_with("input 'in' is not bound", error, error_size);
  const std::string content = read_text(in) + params(host, run).value("suffix", "");
  write_text(out_file(host, run, "model.onnx"), content);
  const nlohmann::json metrics = {
      {"accuracy", 0.75}, {"params", 1234567}, {"size_bytes", content.size()}, {"note", "relay"}};
  write_text(out_file(host, run, "metrics.json"), metrics.dump());
  return 0;
}

int32_t run_combine(const retort_host* host, retort_stage_run* run, char*, size_t) {
  record_run(host, run);
  const size_t n = host->input_count(run, "parts");
  std::string joined;
  for (size_t i = 0; i < n; ++i) joined += read_text(host->input_path(run, "parts", i));
  write_text(out_file(host, run, "metrics.json"),
             nlohmann::json{{"count", n}, {"joined", joined}}.dump());
  return 0;
}

int32_t run_use(const retort_host* host, retort_stage_run* run, char*, size_t) {
  record_run(host, run);
  nlohmann::json paths = nlohmann::json::array(), specs = nlohmann::json::array();
  for (size_t i = 0; i < host->input_count(run, "models"); ++i) {
    const char* path = host->input_path(run, "models", i);
    const char* spec = host->model_spec_json(run, "models", i);
    paths.push_back(path ? nlohmann::json(path) : nlohmann::json());
    specs.push_back(spec ? nlohmann::json(spec) : nlohmann::json());
  }
  write_text(out_file(host, run, "metrics.json"),
             nlohmann::json{{"paths", paths}, {"specs", specs}}.dump());
  return 0;
}

int32_t run_fail(const retort_host* host, retort_stage_run* run, char* error, size_t error_size) {
  record_run(host, run);
  write_text(out_file(host, run, "model.onnx"), "half");
  return fail_with("boom: the dataset is empty; give a larger train_size", error, error_size);
}

int32_t run_throw(const retort_host* host, retort_stage_run* run, char*, size_t) {
  record_run(host, run);
  throw std::runtime_error("kaboom");
}

int32_t run_lazy(const retort_host* host, retort_stage_run* run, char*, size_t) {
  record_run(host, run);
  return 0;
}

int32_t run_slow(const retort_host* host, retort_stage_run* run, char* error, size_t error_size) {
  record_run(host, run);
  StageLog& log = stage_log();
  const std::string id = host->stage_id(run);
  const auto start = std::chrono::steady_clock::now();
  // A partial artifact, as a real stage would have mid-way.
  write_text(out_file(host, run, "model.onnx"), "partial");
  log.slow_started.fetch_add(1);
  const int now_running = log.running.fetch_add(1) + 1;
  for (int seen = log.max_running.load(); seen < now_running;) {
    log.max_running.compare_exchange_weak(seen, now_running);
  }
  const auto until = start + std::chrono::milliseconds(log.slow_ms.load());
  const auto rendezvous_limit = start + std::chrono::seconds(10);
  auto waiting = [&] {
    const auto now = std::chrono::steady_clock::now();
    return now < until ||
           (log.slow_started.load() < log.rendezvous.load() && now < rendezvous_limit);
  };
  bool cancelled = false;
  while (waiting()) {
    if (host->cancelled(run)) {
      cancelled = true;
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  {
    std::lock_guard lock(log.mutex);
    log.intervals[id] = {start, std::chrono::steady_clock::now()};
  }
  log.running.fetch_sub(1);
  if (cancelled) return fail_with("cancelled", error, error_size);
  write_text(out_file(host, run, "model.onnx"), "slow:" + id);
  return 0;
}

int32_t run_arena(const retort_host* host, retort_stage_run* run, char* error, size_t error_size) {
  record_run(host, run);
  struct Shared {
    std::mutex mutex;
    std::condition_variable done;
    bool ran = false;
  };
  // Owned by the task too: a starved task may run after this stage gave up and returned.
  auto shared = std::make_shared<Shared>();
  tbb::task_arena arena(1, 0);  // no slot for this thread: only a TBB worker can run the task
  arena.enqueue([shared] {
    std::lock_guard lock(shared->mutex);
    shared->ran = true;
    shared->done.notify_all();
  });
  std::unique_lock lock(shared->mutex);
  if (!shared->done.wait_for(lock, std::chrono::seconds(10), [&] { return shared->ran; })) {
    return fail_with("the arena task waited over 10 s for a TBB worker", error, error_size);
  }
  write_text(out_file(host, run, "model.onnx"), "arena");
  return 0;
}

// An export: writes the input's bytes (or "published") to params.path outside the output
// folder, through a temporary of a unique name, and records it; params.skip_write records it
// unwritten.
int32_t run_publish(const retort_host* host, retort_stage_run* run, char* error,
                    size_t error_size) {
  record_run(host, run);
  const nlohmann::json p = params(host, run);
  const std::string target = p.value("path", "");
  const char* in = host->input_path(run, "in", 0);
  const std::string content = in != nullptr ? read_text(in) : "published";
  if (!p.value("skip_write", false)) {
    if (Status s = write_file_atomically(target, content); !s.ok())
      return fail_with(s.message(), error, error_size);
  }
  if (host->record_external_file(run, target.c_str()) != 0) {
    return fail_with("the host refused to record '" + target + "'", error, error_size);
  }
  write_text(out_file(host, run, "model.onnx"), content);
  return 0;
}

constexpr const char* kSchema = R"({"type": "object"})";

const retort_port_desc kModelOut[] = {{"model", RETORT_PORT_MODEL, 0, 0, "a model"}};
const retort_port_desc kModelsOut[] = {{"models", RETORT_PORT_MODEL, 1, 0, "several models"}};
const retort_port_desc kMetricsOut[] = {{"metrics", RETORT_PORT_METRICS, 0, 0, "metrics"}};
const retort_port_desc kRelayOut[] = {{"model", RETORT_PORT_MODEL, 0, 0, "a model"},
                                      {"metrics", RETORT_PORT_METRICS, 0, 0, "metrics"}};
const retort_port_desc kIn[] = {{"in", RETORT_PORT_MODEL, 0, 0, "a model"}};
const retort_port_desc kOptionalIn[] = {{"in", RETORT_PORT_MODEL, 0, 1, "a model"}};
const retort_port_desc kPartsIn[] = {{"parts", RETORT_PORT_MODEL, 1, 0, "models"}};
const retort_port_desc kModelsIn[] = {{"models", RETORT_PORT_MODEL, 1, 0, "models"}};

const retort_stage_desc kStages[] = {
    {"make", "writes a model", kSchema, nullptr, 0, kModelOut, 1, 0, run_make, nullptr},
    {"fanout", "writes n models", kSchema, nullptr, 0, kModelsOut, 1, 0, run_fanout, nullptr},
    {"relay", "copies a model", kSchema, kIn, 1, kRelayOut, 2, 1, run_relay, nullptr},
    {"combine", "joins models", kSchema, kPartsIn, 1, kMetricsOut, 1, 0, run_combine, nullptr},
    {"use", "lists bound models", kSchema, kModelsIn, 1, kMetricsOut, 1, 0, run_use, nullptr},
    {"fail", "fails", kSchema, kOptionalIn, 1, kModelOut, 1, 1, run_fail, nullptr},
    {"throw", "throws", kSchema, nullptr, 0, kModelOut, 1, 1, run_throw, nullptr},
    {"lazy", "writes nothing", kSchema, nullptr, 0, kModelOut, 1, 0, run_lazy, nullptr},
    {"slow", "takes its time", kSchema, kOptionalIn, 1, kModelOut, 1, 1, run_slow, nullptr},
    {"arena", "uses a task arena", kSchema, nullptr, 0, kModelOut, 1, 1, run_arena, nullptr},
    {"publish", "exports outside the run folder", kSchema, kOptionalIn, 1, kModelOut, 1, 0,
     run_publish, nullptr},
};

}  // namespace

void StageLog::reset() {
  std::lock_guard lock(mutex);
  runs.clear();
  intervals.clear();
  omp_threads.clear();
  compute_threads.clear();
  host_threads.clear();
  output_dirs.clear();
  slow_started = 0;
  slow_ms = 200;
  rendezvous = 0;
  running = 0;
  max_running = 0;
}

StageLog& stage_log() {
  static StageLog log;
  return log;
}

const retort_plugin_info* test_plugin_info(const char* version) {
  static const retort_plugin_info v1 = {RETORT_PLUGIN_ABI_VERSION,
                                        sizeof(retort_plugin_info),
                                        "exec-test",
                                        "1.0",
                                        RETORT_BUILD_FINGERPRINT,
                                        kStages,
                                        sizeof(kStages) / sizeof(kStages[0])};
  static const retort_plugin_info v2 = {RETORT_PLUGIN_ABI_VERSION,
                                        sizeof(retort_plugin_info),
                                        "exec-test",
                                        "2.0",
                                        RETORT_BUILD_FINGERPRINT,
                                        kStages,
                                        sizeof(kStages) / sizeof(kStages[0])};
  return std::strcmp(version, "2.0") == 0 ? &v2 : &v1;
}

plugin::StageRegistry test_registry(const char* version) {
  plugin::StageRegistry registry;
  Status added = registry.add(test_plugin_info(version), "exec-test (linked in)");
  EXPECT_TRUE(added.ok()) << added.message();
  return registry;
}

recipe::StageSpec stage(const std::string& id, const std::string& type,
                        const std::map<std::string, std::vector<std::string>>& inputs,
                        nlohmann::json params) {
  recipe::StageSpec s;
  s.id = id;
  s.type = type;
  s.params = std::move(params);
  s.seed = 7;
  for (const auto& [port, refs] : inputs) {
    for (size_t i = 0; i < refs.size(); ++i) {
      recipe::InputRef r;
      r.text = refs[i];
      const size_t dot = refs[i].find('.');
      const std::string head = refs[i].substr(0, dot);
      const std::string tail = refs[i].substr(dot + 1);
      if (head == "models") {
        r.model = tail;
      } else {
        r.stage = head;
        r.port = tail;
      }
      r.json_path = "/stages/" + id + "/inputs/" + port + "/" + std::to_string(i);
      s.inputs[port].push_back(r);
    }
  }
  return s;
}

recipe::Recipe make_recipe(std::vector<recipe::StageSpec> stages, const std::string& name) {
  recipe::Recipe r;
  r.name = name;
  r.seed = 7;
  r.data = {{"dataset", "fashion-mnist"}, {"train_size", 100}};
  for (size_t i = 0; i < stages.size(); ++i) stages[i].index = i;
  r.stages = std::move(stages);
  return r;
}

TempDir::TempDir() {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  std::string name = "retort-exec-test-";
  if (info != nullptr) name.append(info->test_suite_name()).append("-").append(info->name());
  name.append("-").append(std::to_string(::getpid()));
  path_ = fs::temp_directory_path() / name;
  fs::remove_all(path_);
  fs::create_directories(path_);
}

TempDir::~TempDir() {
  std::error_code ec;
  fs::remove_all(path_, ec);
}

std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

void write_text(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
}

std::vector<std::string> leftovers(const std::string& dir) {
  std::vector<std::string> found;
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (name[0] == '.' &&
        (name.find(".tmp-") != std::string::npos || name.find(".old-") != std::string::npos)) {
      found.push_back(name);
    }
  }
  return found;
}

RunResult run_ok(const recipe::Recipe& recipe, const plugin::StageRegistry& registry,
                 const std::string& dir, RunOptions options) {
  options.out_dir = dir;
  Expected<RunResult> result = run_recipe(recipe, registry, options);
  EXPECT_TRUE(result.ok()) << result.status().message();
  return result.ok() ? *result : RunResult{};
}

StageStatus status_of(const RunResult& result, const std::string& id) {
  const StageOutcome* s = result.stage(id);
  EXPECT_NE(s, nullptr) << "no stage '" << id << "' in the result";
  return s ? s->status : StageStatus::kNotRun;
}

}  // namespace retort::exec::testing
