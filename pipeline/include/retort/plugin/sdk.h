// The C++ side of the plugin contract: a stage is a class, one macro exports the plugin.
//
//   class Greet final : public retort::plugin::Stage {
//     retort::Status run(retort::plugin::StageContext& ctx) override { ... }
//   };
//   static const retort_port_desc kIn[] = {{"model", RETORT_PORT_MODEL, 0, 0, "model to read"}};
//   static const retort_stage_desc kStages[] = {
//       retort::plugin::stage_desc<Greet>("greet", "says hello", R"({"type":"object"})", kIn, {})};
//   RETORT_PLUGIN(greet, "1.0.0", kStages)
//
// RETORT_PLUGIN(name, ...) defines retort_plugin_info_<name>() (to link the plugin into a
// program directly, as the tests do) and, when RETORT_PLUGIN_MODULE is defined (the installed
// CMake helper retort_add_plugin does it), the exported entry symbol.
#pragma once

#include <cstdint>
#include <exception>
#include <span>
#include <string>
#include <string_view>

#include "nlohmann/json.hpp"
#include "retort/core/status.h"
#include "retort/graph/model.h"
#include "retort/plugin/abi.h"

#ifndef RETORT_VERSION
#error "RETORT_VERSION must be defined (retort::pipeline's usage requirements do it)"
#endif

#define RETORT_STRINGIFY_INNER(x) #x
#define RETORT_STRINGIFY(x) RETORT_STRINGIFY_INNER(x)
// What must match between the host and a plugin built with the C++ SDK: the retort version
// (the SDK passes C++ types) and the C++ compiler family and major version.
#if defined(__clang__)
#define RETORT_COMPILER_ID "clang-" RETORT_STRINGIFY(__clang_major__)
#elif defined(__GNUC__)
#define RETORT_COMPILER_ID "gcc-" RETORT_STRINGIFY(__GNUC__)
#else
#define RETORT_COMPILER_ID "unknown"
#endif
#define RETORT_BUILD_FINGERPRINT                  \
  "retort-" RETORT_VERSION "/" RETORT_COMPILER_ID \
  "/abi-" RETORT_STRINGIFY(RETORT_PLUGIN_ABI_VERSION)

namespace retort::plugin {

// What a running stage sees: its params, inputs, where to write outputs, progress reporting.
class StageContext {
 public:
  StageContext(const retort_host* host, retort_stage_run* run);

  std::string id() const;
  const nlohmann::json& params() const { return params_; }
  const nlohmann::json& data() const { return data_; }
  uint64_t seed() const;
  int threads() const;

  size_t input_count(std::string_view port) const;
  // True inside Stage::check (see below).
  bool checking() const;
  // Whether every value bound to the input port is known. Always true in run(); in check()
  // false when an upstream stage produces one of them and its check did not pass a model on.
  bool inputs_known(std::string_view port) const;
  // The model bound to an input: its ONNX artifact loaded, or built from the recipe's model
  // spec (with this stage's seed) when the input names a recipe model.
  Expected<Model> load_model(std::string_view port, size_t index = 0) const;
  Expected<nlohmann::json> load_metrics(std::string_view port, size_t index = 0) const;
  // Path of an input artifact (empty when the input is a model spec).
  std::string input_path(std::string_view port, size_t index = 0) const;

  // Writes "<port>.onnx" (or "<port>.<index>.onnx") into the output folder.
  Status save_model(std::string_view port, const Model& model, int index = -1) const;
  Status save_metrics(std::string_view port, const nlohmann::json& metrics) const;
  std::string output_dir() const;
  // Tells the host that the stage wrote `path` outside the output folder (an export to a user's
  // path), once the file is complete: the cache then re-runs the stage when that file is
  // deleted or changed, instead of reusing the cached result.
  Status record_external_file(const std::string& path) const;

  void progress(const nlohmann::json& fields) const;
  void log(const std::string& message) const;
  bool cancelled() const;

 private:
  const retort_host* host_;
  retort_stage_run* run_;
  nlohmann::json params_;
  nlohmann::json data_;
};

class Stage {
 public:
  virtual ~Stage() = default;
  virtual Status run(StageContext& ctx) = 0;
  // Called before any stage of the recipe runs (retort validate, and retort run before its
  // first stage): check what can be checked without training, on the inputs that are known
  // (inputs_known), and save_model() the outputs whose graph is known (untrained weights are
  // fine) so that the stages downstream can check theirs. Must be cheap. The default checks
  // nothing.
  virtual Status check(StageContext& ctx) {
    (void)ctx;
    return Status::Ok();
  }
};

namespace detail {
// Runs a stage and turns every failure, exceptions included, into the C error convention.
int32_t run_stage(Stage& stage, const retort_host* host, retort_stage_run* run, char* error,
                  size_t error_size) noexcept;
// The error for a stage whose constructor threw (`what`: the exception's text, if any).
int32_t run_stage_failed_construction(char* error, size_t error_size) noexcept;
int32_t run_stage_failed_construction(const char* what, char* error, size_t error_size) noexcept;

// The C entry of stage class T: a fresh instance per run; nothing escapes as an exception.
template <typename T>
int32_t run_fresh(const retort_host* host, retort_stage_run* run, char* error,
                  size_t error_size) noexcept {
  try {
    T stage;
    return run_stage(stage, host, run, error, error_size);
  } catch (const std::exception& e) {
    return run_stage_failed_construction(e.what(), error, error_size);
  } catch (...) {
    return run_stage_failed_construction(error, error_size);
  }
}
}  // namespace detail

// The descriptor of stage class T (default-constructible; a fresh instance per run).
template <typename T>
constexpr retort_stage_desc stage_desc(const char* type, const char* summary,
                                       const char* params_schema,
                                       std::span<const retort_port_desc> inputs,
                                       std::span<const retort_port_desc> outputs,
                                       bool compute_heavy = true) {
  // One entry serves run() and check(): StageContext::checking() tells them apart.
  return retort_stage_desc{type,
                           summary,
                           params_schema,
                           inputs.data(),
                           inputs.size(),
                           outputs.data(),
                           outputs.size(),
                           compute_heavy ? 1 : 0,
                           &detail::run_fresh<T>,
                           &detail::run_fresh<T>};
}

}  // namespace retort::plugin

#define RETORT_PLUGIN(name, version, stages)                                       \
  extern "C" const retort_plugin_info* retort_plugin_info_##name(void) {           \
    static const retort_plugin_info info = {RETORT_PLUGIN_ABI_VERSION,             \
                                            sizeof(retort_plugin_info),            \
                                            #name,                                 \
                                            version,                               \
                                            RETORT_BUILD_FINGERPRINT,              \
                                            stages,                                \
                                            sizeof(stages) / sizeof((stages)[0])}; \
    return &info;                                                                  \
  }                                                                                \
  RETORT_PLUGIN_EXPORT_ENTRY(name)

#ifdef RETORT_PLUGIN_MODULE
#define RETORT_PLUGIN_EXPORT_ENTRY(name)                                                           \
  extern "C" __attribute__((visibility("default"))) const retort_plugin_info* retort_plugin_entry( \
      void) {                                                                                      \
    return retort_plugin_info_##name();                                                            \
  }
#else
#define RETORT_PLUGIN_EXPORT_ENTRY(name)
#endif
