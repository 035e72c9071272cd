#include "retort/exec/artifact_store.h"

#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <filesystem>
#include <system_error>
#include <utility>

#include "retort/core/atomic_file.h"

namespace retort::exec {
namespace {

namespace fs = std::filesystem;

const char* extension(retort_port_kind kind) {
  return kind == RETORT_PORT_METRICS ? "json" : "onnx";
}

std::string pid_suffix() {
  return std::to_string(static_cast<long>(::getpid()));
}

// Parses the <i> of "<port>.<i>.<ext>"; false when `name` is not of that form.
bool parse_indexed(const std::string& name, const std::string& port, const std::string& ext,
                   size_t* index) {
  const std::string prefix = port + ".";
  const std::string suffix = "." + ext;
  if (name.size() <= prefix.size() + suffix.size()) return false;
  if (name.compare(0, prefix.size(), prefix) != 0) return false;
  if (name.compare(name.size() - suffix.size(), suffix.size(), suffix) != 0) return false;
  const char* first = name.data() + prefix.size();
  const char* last = name.data() + name.size() - suffix.size();
  auto [end, ec] = std::from_chars(first, last, *index);
  return ec == std::errc() && end == last;
}

}  // namespace

std::string output_file_name(const plugin::PortInfo& port, int index) {
  std::string name = port.name;
  if (index >= 0) name.append(".").append(std::to_string(index));
  return name.append(".").append(extension(port.kind));
}

Expected<std::vector<std::string>> port_files(const std::string& dir,
                                              const plugin::PortInfo& port) {
  std::error_code ec;
  if (!port.multiple) {
    const fs::path path = fs::path(dir) / output_file_name(port);
    if (!fs::is_regular_file(path, ec)) {
      return make_error(ErrorCode::kNotFound, "output '", port.name, "' was not written: no file '",
                        path.filename().string(), "' in '", dir,
                        "'; a stage must write every output port it declares");
    }
    return std::vector<std::string>{path.string()};
  }
  std::vector<std::pair<size_t, std::string>> found;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    size_t index = 0;
    if (it->is_regular_file(ec) &&
        parse_indexed(it->path().filename().string(), port.name, extension(port.kind), &index)) {
      found.emplace_back(index, it->path().string());
    }
  }
  if (ec) {
    return make_error(ErrorCode::kIo, "cannot list '", dir, "' for output '", port.name,
                      "': ", ec.message());
  }
  std::sort(found.begin(), found.end());
  std::vector<std::string> paths;
  for (auto& [index, path] : found) paths.push_back(std::move(path));
  return paths;
}

Status write_file_atomic(const std::string& path, const std::string& content) {
  return write_file_atomically(path, content, /*sync=*/false);
}

ArtifactStore::ArtifactStore(std::string out_dir) : out_dir_(std::move(out_dir)) {}

std::string ArtifactStore::stage_dir(const std::string& stage_id) const {
  return (fs::path(out_dir_) / stage_id).string();
}

std::string ArtifactStore::temp_dir(const std::string& stage_id) const {
  return (fs::path(out_dir_) / ("." + stage_id + ".tmp-" + pid_suffix())).string();
}

Status ArtifactStore::prepare() const {
  std::error_code ec;
  fs::create_directories(out_dir_, ec);
  if (ec || !fs::is_directory(out_dir_)) {
    return make_error(ErrorCode::kIo, "cannot create the output folder '", out_dir_,
                      "': ", ec ? ec.message() : "a file of that name exists",
                      "; choose another folder with --out");
  }
  return Status::Ok();
}

void ArtifactStore::remove_stale(const std::string& stage_id) const {
  const std::string tmp_prefix = "." + stage_id + ".tmp-";
  const std::string old_prefix = "." + stage_id + ".old-";
  std::error_code ec;
  std::vector<fs::path> stale;
  for (fs::directory_iterator it(out_dir_, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (name.rfind(tmp_prefix, 0) == 0 || name.rfind(old_prefix, 0) == 0)
      stale.push_back(it->path());
  }
  for (const fs::path& p : stale) fs::remove_all(p, ec);
}

Expected<std::string> ArtifactStore::begin(const std::string& stage_id) const {
  const std::string dir = temp_dir(stage_id);
  std::error_code ec;
  fs::remove_all(dir, ec);
  fs::create_directories(dir, ec);
  if (ec) {
    return make_error(ErrorCode::kIo, "cannot create the temporary folder '", dir,
                      "': ", ec.message());
  }
  return dir;
}

Status ArtifactStore::commit(const std::string& stage_id) const {
  const fs::path tmp = temp_dir(stage_id);
  const fs::path final_dir = stage_dir(stage_id);
  const fs::path aside = fs::path(out_dir_) / ("." + stage_id + ".old-" + pid_suffix());
  std::error_code ec;
  fs::remove_all(aside, ec);
  const bool had_old = fs::exists(final_dir, ec);
  if (had_old) {
    fs::rename(final_dir, aside, ec);
    if (ec) {
      return make_error(ErrorCode::kIo, "cannot move the previous '", final_dir.string(),
                        "' aside: ", ec.message());
    }
  }
  fs::rename(tmp, final_dir, ec);
  if (ec) {
    const std::string why = ec.message();
    if (had_old) fs::rename(aside, final_dir, ec);  // put the previous result back
    return make_error(ErrorCode::kIo, "cannot rename '", tmp.string(), "' to '", final_dir.string(),
                      "': ", why);
  }
  fs::remove_all(aside, ec);
  return Status::Ok();
}

void ArtifactStore::discard(const std::string& stage_id) const {
  std::error_code ec;
  fs::remove_all(temp_dir(stage_id), ec);
}

}  // namespace retort::exec
