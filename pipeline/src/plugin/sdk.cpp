#include "retort/plugin/sdk.h"

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "retort/arch/build_model.h"
#include "retort/core/atomic_file.h"
#include "retort/graph/onnx_io.h"

namespace retort::plugin {
namespace {

std::string port_ref(std::string_view port, size_t index) {
  std::string s = "input '" + std::string(port) + "'";
  if (index > 0) s += " [" + std::to_string(index) + "]";
  return s;
}

nlohmann::json parse_host_json(const char* text, const char* what) {
  if (text == nullptr || text[0] == '\0') return nlohmann::json::object();
  nlohmann::json j = nlohmann::json::parse(text, nullptr, false);
  if (j.is_discarded()) {
    // Only a broken host gets here; run_stage turns this into the stage's error.
    throw std::runtime_error(std::string("the host passed invalid JSON as ") + what);
  }
  return j;
}

// Copies "prefix + message" into the C error buffer without allocating, marking a cut with
// "...".
void write_error(const char* prefix, const char* message, char* error, size_t error_size) noexcept {
  if (error == nullptr || error_size == 0) return;
  size_t n = 0;
  bool cut = false;
  for (const char* part : {prefix, message}) {
    for (const char* c = part; c && *c; ++c) {
      if (n + 1 >= error_size) {
        cut = true;
        break;
      }
      error[n++] = *c;
    }
    if (cut) break;
  }
  error[n] = '\0';
  if (cut && error_size >= 4) std::memcpy(error + error_size - 4, "...", 4);
}

}  // namespace

StageContext::StageContext(const retort_host* host, retort_stage_run* run)
    : host_(host), run_(run) {
  if (host_ == nullptr) throw std::invalid_argument("the host passed no service table");
  if (host_->struct_size < sizeof(retort_host)) {
    throw std::invalid_argument("the host's service table is " +
                                std::to_string(host_->struct_size) + " bytes, the SDK expects " +
                                std::to_string(sizeof(retort_host)));
  }
  params_ = parse_host_json(host_->params_json ? host_->params_json(run_) : nullptr, "params");
  data_ = parse_host_json(host_->data_json ? host_->data_json(run_) : nullptr, "data");
}

std::string StageContext::id() const {
  const char* s = host_->stage_id ? host_->stage_id(run_) : nullptr;
  return s ? s : "";
}

uint64_t StageContext::seed() const {
  return host_->seed ? host_->seed(run_) : 0;
}

int StageContext::threads() const {
  return host_->threads ? host_->threads(run_) : 1;
}

size_t StageContext::input_count(std::string_view port) const {
  std::string p(port);
  return host_->input_count ? host_->input_count(run_, p.c_str()) : 0;
}

bool StageContext::checking() const {
  return host_->checking && host_->checking(run_) != 0;
}

bool StageContext::inputs_known(std::string_view port) const {
  const std::string p(port);
  for (size_t i = 0; i < input_count(port); ++i) {
    const bool spec =
        host_->model_spec_json && host_->model_spec_json(run_, p.c_str(), i) != nullptr;
    if (!spec && input_path(port, i).empty()) return false;
  }
  return true;
}

std::string StageContext::input_path(std::string_view port, size_t index) const {
  std::string p(port);
  const char* s = host_->input_path ? host_->input_path(run_, p.c_str(), index) : nullptr;
  return s ? s : "";
}

Expected<Model> StageContext::load_model(std::string_view port, size_t index) const {
  // No stage id here: the host tags every stage error with it.
  const std::string where = port_ref(port, index);
  std::string path = input_path(port, index);
  if (!path.empty()) {
    auto model = load_onnx(path);
    if (!model.ok()) return model.status().with_context(where);
    return model;
  }
  std::string p(port);
  const char* spec_text =
      host_->model_spec_json ? host_->model_spec_json(run_, p.c_str(), index) : nullptr;
  if (spec_text == nullptr) {
    return make_error(ErrorCode::kNotFound, where,
                      ": no model is bound to it; connect it in the recipe's \"inputs\"");
  }
  nlohmann::json spec = nlohmann::json::parse(spec_text, nullptr, false);
  if (spec.is_discarded() || !spec.is_object()) {
    return make_error(ErrorCode::kInternal, where,
                      ": the host passed a model spec that is not a JSON object");
  }
  // The host resolves {"onnx": path} into an input path; accept it here all the same.
  if (spec.contains("onnx") && spec["onnx"].is_string()) {
    auto model = load_onnx(spec["onnx"].get<std::string>());
    if (!model.ok()) return model.status().with_context(where);
    return model;
  }
  auto model = arch::build_model(spec, seed());
  if (!model.ok()) return model.status().with_context(where);
  return model;
}

Expected<nlohmann::json> StageContext::load_metrics(std::string_view port, size_t index) const {
  const std::string where = port_ref(port, index);
  std::string path = input_path(port, index);
  if (path.empty()) {
    return make_error(ErrorCode::kNotFound, where, ": no metrics artifact is bound to it");
  }
  std::ifstream in(path);
  if (!in) return make_error(ErrorCode::kNotFound, where, ": cannot open '", path, "'");
  std::stringstream text;
  text << in.rdbuf();
  nlohmann::json j = nlohmann::json::parse(text.str(), nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    return make_error(ErrorCode::kParse, where, ": '", path, "' is not a JSON object");
  }
  return j;
}

std::string StageContext::output_dir() const {
  const char* s = host_->output_dir ? host_->output_dir(run_) : nullptr;
  return s ? s : "";
}

Status StageContext::save_model(std::string_view port, const Model& model, int index) const {
  std::string name(port);
  if (index >= 0) name += retort::detail::str_cat(".", index);
  const std::string path = (std::filesystem::path(output_dir()) / (name + ".onnx")).string();
  return save_onnx(model, path).with_context(retort::detail::str_cat("output '", port, "'"));
}

Status StageContext::save_metrics(std::string_view port, const nlohmann::json& metrics) const {
  const std::string where = retort::detail::str_cat("output '", port, "'");
  if (!metrics.is_object()) {
    return make_error(ErrorCode::kInvalidArgument, where, ": metrics must be a JSON object");
  }
  const std::string path =
      (std::filesystem::path(output_dir()) / (std::string(port) + ".json")).string();
  return write_file_atomically(path, metrics.dump(2) + "\n", /*sync=*/false).with_context(where);
}

Status StageContext::record_external_file(const std::string& path) const {
  if (path.empty()) {
    return make_error(ErrorCode::kInvalidArgument, "record_external_file: the path is empty");
  }
  if (host_->record_external_file == nullptr ||
      host_->record_external_file(run_, path.c_str()) != 0) {
    return make_error(ErrorCode::kInternal, "the host could not record '", path,
                      "' as a file this stage wrote");
  }
  return Status::Ok();
}

void StageContext::progress(const nlohmann::json& fields) const {
  if (host_->progress) host_->progress(run_, fields.dump().c_str());
}

void StageContext::log(const std::string& message) const {
  if (host_->log) host_->log(run_, message.c_str());
}

bool StageContext::cancelled() const {
  return host_->cancelled && host_->cancelled(run_) != 0;
}

namespace detail {

int32_t run_stage(Stage& stage, const retort_host* host, retort_stage_run* run, char* error,
                  size_t error_size) noexcept {
  try {
    StageContext ctx(host, run);
    Status status = ctx.checking() ? stage.check(ctx) : stage.run(ctx);
    if (status.ok()) return 0;
    if (status.message().empty()) {
      write_error("the stage failed without a message: ", error_code_name(status.code()), error,
                  error_size);
    } else {
      write_error("", status.message().c_str(), error, error_size);
    }
  } catch (const std::exception& e) {
    write_error("unhandled exception: ", e.what(), error, error_size);
  } catch (...) {
    write_error("unhandled exception of a type not derived from std::exception", "", error,
                error_size);
  }
  return 1;
}

int32_t run_stage_failed_construction(char* error, size_t error_size) noexcept {
  write_error("the stage object could not be constructed (its constructor threw)", "", error,
              error_size);
  return 1;
}

int32_t run_stage_failed_construction(const char* what, char* error, size_t error_size) noexcept {
  write_error("the stage object could not be constructed: ", what, error, error_size);
  return 1;
}

}  // namespace detail
}  // namespace retort::plugin
