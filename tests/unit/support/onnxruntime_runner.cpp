#include "support/onnxruntime_runner.h"

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <map>
#include <sstream>

#include "nlohmann/json.hpp"

#ifndef RETORT_ORT_DIR
#error "RETORT_ORT_DIR (the tests/ort folder) must be defined by tests/CMakeLists.txt"
#endif
#ifndef RETORT_NODE_EXECUTABLE
#define RETORT_NODE_EXECUTABLE "node"
#endif

extern char** environ;

namespace retort::test_support {
namespace {

namespace fs = std::filesystem;

const std::map<std::string, DType>& dtypes_by_name() {
  static const std::map<std::string, DType> names = {
      {"float32", DType::kFloat32}, {"int64", DType::kInt64}, {"int32", DType::kInt32},
      {"int8", DType::kInt8},       {"uint8", DType::kUInt8}, {"bool", DType::kBool}};
  return names;
}

std::string dtype_to_ort(DType dtype) {
  for (const auto& [name, d] : dtypes_by_name()) {
    if (d == dtype) return name;
  }
  return "unknown";
}

// A fresh scratch folder (mkdtemp), removed with its contents at scope end.
class ScratchDir {
 public:
  static Expected<ScratchDir> create() {
    std::string pattern = (fs::temp_directory_path() / "retort-ort-XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) {
      return make_error(ErrorCode::kIo, "cannot create a scratch folder from '", pattern,
                        "': ", std::strerror(errno));
    }
    return ScratchDir(pattern);
  }
  ScratchDir(ScratchDir&& other) noexcept : path_(std::move(other.path_)) { other.path_.clear(); }
  ScratchDir& operator=(ScratchDir&&) = delete;
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;
  ~ScratchDir() {
    std::error_code ec;
    if (!path_.empty()) fs::remove_all(path_, ec);
  }
  std::string file(const std::string& name) const { return (path_ / name).string(); }

 private:
  explicit ScratchDir(fs::path path) : path_(std::move(path)) {}
  fs::path path_;
};

Status write_file(const std::string& path, const void* data, size_t size) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(static_cast<const char*>(data), static_cast<std::streamsize>(size));
  out.close();
  if (!out) return make_error(ErrorCode::kIo, "cannot write '", path, "'");
  return Status::Ok();
}

Expected<std::string> read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return make_error(ErrorCode::kIo, "cannot read '", path, "'");
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

std::string trimmed(std::string text) {
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) text.pop_back();
  return text;
}

// Runs `argv` with stdin from /dev/null and stdout/stderr into the given files; returns the
// exit status (128 + signal when killed by one).
Expected<int> run_process(const std::vector<std::string>& args, const std::string& stdout_path,
                          const std::string& stderr_path) {
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, stdout_path.c_str(),
                                   O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, stderr_path.c_str(),
                                   O_WRONLY | O_CREAT | O_TRUNC, 0644);
  std::vector<char*> argv;
  for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  pid_t pid = 0;
  const int err = ::posix_spawnp(&pid, argv[0], &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (err != 0) {
    return make_error(ErrorCode::kNotFound, "cannot start '", args[0], "': ", std::strerror(err),
                      " (install Node.js: scripts/setup.sh)");
  }
  int wstatus = 0;
  while (::waitpid(pid, &wstatus, 0) < 0) {
    if (errno != EINTR) {
      return make_error(ErrorCode::kInternal, "waitpid failed: ", std::strerror(errno));
    }
  }
  if (WIFEXITED(wstatus)) return WEXITSTATUS(wstatus);
  if (WIFSIGNALED(wstatus)) return 128 + WTERMSIG(wstatus);
  return 255;
}

Expected<Tensor> read_output(const nlohmann::json& entry, const ScratchDir& dir) {
  const std::string name = entry.value("name", std::string("?"));
  const std::string dtype_name = entry.value("dtype", std::string());
  auto dtype = dtypes_by_name().find(dtype_name);
  if (dtype == dtypes_by_name().end()) {
    return make_error(ErrorCode::kUnsupported, "ONNX Runtime output '", name, "' has type '",
                      dtype_name, "', which retort's Tensor lacks");
  }
  Shape shape = entry.at("shape").get<Shape>();
  Tensor tensor(dtype->second, shape);
  RETORT_ASSIGN_OR_RETURN(std::string bytes,
                          read_file(dir.file("out/" + entry.at("file").get<std::string>())));
  if (bytes.size() != tensor.nbytes()) {
    return make_error(ErrorCode::kInternal, "ONNX Runtime output '", name, "' has ", bytes.size(),
                      " bytes, expected ", tensor.nbytes(), " for ", dtype_name, " ",
                      shape_to_string(shape));
  }
  if (!bytes.empty()) std::memcpy(tensor.raw(), bytes.data(), bytes.size());
  return tensor;
}

}  // namespace

Expected<std::vector<Tensor>> run_in_onnxruntime(
    const std::string& model_path, const std::vector<std::pair<std::string, Tensor>>& inputs,
    const OnnxRuntimeOptions& options) {
  const fs::path ort_dir = RETORT_ORT_DIR;
  if (!fs::exists(ort_dir / "node_modules" / "onnxruntime-node" / "package.json")) {
    return make_error(ErrorCode::kNotFound, "ONNX Runtime for Node is not installed in ",
                      (ort_dir / "node_modules").string(),
                      " (run scripts/setup.sh, or: cd tests/ort && "
                      "ONNXRUNTIME_NODE_INSTALL=skip npm ci)");
  }
  RETORT_ASSIGN_OR_RETURN(ScratchDir dir, ScratchDir::create());

  nlohmann::json manifest;
  manifest["model"] = fs::absolute(model_path).string();
  manifest["output_dir"] = dir.file("out");
  manifest["threads"] = options.threads;
  manifest["optimization"] = options.optimization;
  manifest["inputs"] = nlohmann::json::array();
  for (size_t i = 0; i < inputs.size(); ++i) {
    const auto& [name, tensor] = inputs[i];
    const std::string file = dir.file("input_" + std::to_string(i) + ".bin");
    RETORT_RETURN_IF_ERROR(write_file(file, tensor.raw(), tensor.nbytes()));
    manifest["inputs"].push_back({{"name", name},
                                  {"file", file},
                                  {"dtype", dtype_to_ort(tensor.dtype())},
                                  {"shape", tensor.shape()}});
  }
  const std::string manifest_text = manifest.dump(1);
  RETORT_RETURN_IF_ERROR(
      write_file(dir.file("manifest.json"), manifest_text.data(), manifest_text.size()));

  RETORT_ASSIGN_OR_RETURN(int exit_code,
                          run_process({RETORT_NODE_EXECUTABLE, (ort_dir / "run_model.js").string(),
                                       dir.file("manifest.json")},
                                      dir.file("stdout.txt"), dir.file("stderr.txt")));
  if (exit_code != 0) {
    auto err = read_file(dir.file("stderr.txt"));
    std::string message = err.ok() ? trimmed(*err) : std::string("(no stderr)");
    if (message.empty()) message = "(no message)";
    const ErrorCode code = exit_code == 3   ? ErrorCode::kUnsupported
                           : exit_code == 2 ? ErrorCode::kInvalidArgument
                                            : ErrorCode::kInternal;
    return make_error(code, "ONNX Runtime (exit code ", exit_code, "): ", message);
  }

  RETORT_ASSIGN_OR_RETURN(std::string listing, read_file(dir.file("out/outputs.json")));
  nlohmann::json outputs = nlohmann::json::parse(listing, nullptr, /*allow_exceptions=*/false);
  if (!outputs.is_object() || !outputs.contains("outputs") || !outputs["outputs"].is_array()) {
    return make_error(ErrorCode::kParse, "unreadable outputs.json from run_model.js: ", listing);
  }
  std::vector<Tensor> result;
  for (const nlohmann::json& entry : outputs["outputs"]) {
    RETORT_ASSIGN_OR_RETURN(Tensor t, read_output(entry, dir));
    result.push_back(std::move(t));
  }
  return result;
}

float max_abs_difference(const Tensor& a, const Tensor& b) {
  constexpr float kInf = std::numeric_limits<float>::infinity();
  if (a.dtype() != DType::kFloat32 || b.dtype() != DType::kFloat32 || a.shape() != b.shape()) {
    return kInf;
  }
  float worst = 0.0f;
  for (int64_t i = 0; i < a.numel(); ++i) {
    const float d = std::abs(a.data<float>()[i] - b.data<float>()[i]);
    if (std::isnan(d)) return kInf;
    worst = std::max(worst, d);
  }
  return worst;
}

double top1_agreement(const Tensor& a, const Tensor& b) {
  constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
  if (a.dtype() != DType::kFloat32 || b.dtype() != DType::kFloat32 || a.shape() != b.shape() ||
      a.rank() != 2 || a.dim(0) == 0 || a.dim(1) == 0) {
    return kNaN;
  }
  const int64_t rows = a.dim(0);
  const int64_t cols = a.dim(1);
  auto argmax = [cols](const float* row) {
    int64_t best = 0;
    for (int64_t j = 1; j < cols; ++j) {
      if (row[j] > row[best]) best = j;
    }
    return best;
  };
  int64_t same = 0;
  for (int64_t i = 0; i < rows; ++i) {
    if (argmax(a.data<float>() + i * cols) == argmax(b.data<float>() + i * cols)) ++same;
  }
  return static_cast<double>(same) / static_cast<double>(rows);
}

}  // namespace retort::test_support
