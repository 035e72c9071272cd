// The run folder: <out>/<stage-id>/ per stage, built under <out>/.<stage-id>.tmp-<pid>/ and
// renamed into place, so a crash or an interrupt never leaves a half-written stage folder.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "retort/core/status.h"
#include "retort/plugin/registry.h"

namespace retort::exec {

// One file a stage wrote for an output port.
struct Artifact {
  std::string path;  // absolute or relative to the working folder, as the store was given
  std::string hash;  // hash_hex of its contents
};

// "model.onnx", "metrics.json", or "model.2.onnx" for index 2 of a `multiple` port.
std::string output_file_name(const plugin::PortInfo& port, int index = -1);

// The files of an output port in `dir`: "<port>.<ext>" (must exist unless the port is
// `multiple`), or for a `multiple` port every "<port>.<i>.<ext>" ordered by i. Hashes are left
// empty. Errors say which port and file is missing.
Expected<std::vector<std::string>> port_files(const std::string& dir, const plugin::PortInfo& port);

// Writes `content` to `path` through a uniquely named temporary file in the same folder and a
// rename (retort::write_file_atomically, without fsync).
Status write_file_atomic(const std::string& path, const std::string& content);

class ArtifactStore {
 public:
  explicit ArtifactStore(std::string out_dir);

  const std::string& out_dir() const { return out_dir_; }
  std::string stage_dir(const std::string& stage_id) const;  // <out>/<id>
  std::string temp_dir(const std::string& stage_id) const;   // <out>/.<id>.tmp-<pid>

  // Creates <out> if needed.
  Status prepare() const;
  // Removes temporary and set-aside folders of `stage_id` left by earlier runs that died.
  void remove_stale(const std::string& stage_id) const;
  // A fresh, empty temp folder for the stage.
  Expected<std::string> begin(const std::string& stage_id) const;
  // Moves the temp folder into place, replacing an older stage folder: the old one is renamed
  // aside first, so there is always either the old or the new complete folder.
  Status commit(const std::string& stage_id) const;
  // Deletes the temp folder (failed or cancelled run).
  void discard(const std::string& stage_id) const;

 private:
  std::string out_dir_;
};

}  // namespace retort::exec
