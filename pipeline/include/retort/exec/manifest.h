// manifest.json: what a stage folder was made from, what it holds and which files the stage
// wrote elsewhere. The cache compares the manifest's key (type, plugin, params, data, seed,
// input hashes) with what the stage would run with now; inputs are identified by content hash,
// so an upstream rerun that writes the same bytes leaves its dependents cached.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "nlohmann/json.hpp"
#include "retort/core/status.h"

namespace retort::exec {

struct InputRecord {
  std::string ref;   // as written in the recipe: "teacher.model", "models.cnn"
  std::string path;  // the artifact file, or empty for a recipe model spec
  std::string hash;  // hash of the file contents, or of the spec's JSON text
};

struct Manifest {
  // The cache key.
  std::string type;
  std::string plugin_name;
  std::string plugin_version;
  nlohmann::json params = nlohmann::json::object();
  nlohmann::json data = nlohmann::json::object();
  uint64_t seed = 0;
  std::map<std::string, std::vector<InputRecord>> inputs;  // port -> bound values in order

  // What the run produced and when.
  std::string stage_id;
  std::map<std::string, std::string> outputs;  // file name in the stage folder -> hash
  // Files the stage wrote outside its folder (an export): absolute path -> hash. Not part of
  // the key: the cache re-runs the stage when one of them is missing or holds other bytes.
  std::map<std::string, std::string> external;
  std::string started;  // ISO 8601 UTC
  std::string finished;
  double seconds = 0;
  int threads = 0;
  // The build that ran the stage (retort/core/build_info.h). Not part of the key: a cached
  // result keeps the build that computed it. Empty in manifests written before it was recorded.
  std::string retort_version;
  std::string retort_commit;

  // True when a stage with `other`'s key would produce this manifest's outputs: same type,
  // plugin, params, data, seed and input hashes (input paths and refs may differ).
  bool same_key(const Manifest& other) const;

  nlohmann::json to_json() const;
  // `where` names the file in error messages.
  static Expected<Manifest> from_json(const nlohmann::json& j, const std::string& where);
};

Expected<Manifest> read_manifest(const std::string& path);
Status write_manifest(const Manifest& manifest, const std::string& path);  // atomic

}  // namespace retort::exec
