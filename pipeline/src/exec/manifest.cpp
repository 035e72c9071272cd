#include "retort/exec/manifest.h"

#include <cstdint>
#include <fstream>
#include <optional>
#include <sstream>
#include <type_traits>
#include <utility>

#include "retort/core/json_util.h"
#include "retort/exec/artifact_store.h"

namespace retort::exec {
namespace {

std::vector<std::string> input_hashes(const std::vector<InputRecord>& records) {
  std::vector<std::string> hashes;
  hashes.reserve(records.size());
  for (const InputRecord& r : records) hashes.push_back(r.hash);
  return hashes;
}

template <typename T>
Status read_field(const nlohmann::json& j, const char* key, const std::string& where, T* out) {
  auto it = j.find(key);
  if (it == j.end()) {
    return make_error(ErrorCode::kParse, where, ": missing \"", key, "\"");
  }
  if constexpr (std::is_integral_v<T> && !std::is_same_v<T, bool>) {
    // nlohmann converts any number with a plain cast: 1e300 into an int is undefined behaviour.
    // A manifest is a file that may be damaged: a whole number in the type's range, or an error.
    std::optional<T> value;
    if (it->is_number_unsigned()) {
      if (const auto u = it->get<uint64_t>(); std::in_range<T>(u)) value = static_cast<T>(u);
    } else if (const std::optional<int64_t> i = as_integer(*it); i && std::in_range<T>(*i)) {
      value = static_cast<T>(*i);
    }
    if (!value)
      return make_error(ErrorCode::kParse, where, ": \"", key, "\" is ", describe_json(*it),
                        ", not a whole number in the range of its type (the manifest is damaged; "
                        "delete the stage's folder to run the stage again)");
    *out = *value;
    return Status::Ok();
  }
  try {
    *out = it->get<T>();
  } catch (const nlohmann::json::exception&) {
    return make_error(ErrorCode::kParse, where, ": \"", key, "\" has the wrong type");
  }
  return Status::Ok();
}

}  // namespace

bool Manifest::same_key(const Manifest& other) const {
  if (type != other.type || plugin_name != other.plugin_name ||
      plugin_version != other.plugin_version || params != other.params || data != other.data ||
      seed != other.seed || inputs.size() != other.inputs.size()) {
    return false;
  }
  for (const auto& [port, records] : inputs) {
    auto it = other.inputs.find(port);
    if (it == other.inputs.end() || input_hashes(records) != input_hashes(it->second)) return false;
  }
  return true;
}

nlohmann::json Manifest::to_json() const {
  nlohmann::json in = nlohmann::json::object();
  for (const auto& [port, records] : inputs) {
    nlohmann::json list = nlohmann::json::array();
    for (const InputRecord& r : records) {
      list.push_back({{"ref", r.ref}, {"path", r.path}, {"hash", r.hash}});
    }
    in[port] = std::move(list);
  }
  return {{"stage", stage_id},
          {"type", type},
          {"plugin", {{"name", plugin_name}, {"version", plugin_version}}},
          {"params", params},
          {"data", data},
          {"seed", seed},
          {"inputs", std::move(in)},
          {"outputs", outputs},
          {"external", external},
          {"started", started},
          {"finished", finished},
          {"seconds", seconds},
          {"threads", threads},
          {"retort", {{"version", retort_version}, {"commit", retort_commit}}}};
}

Expected<Manifest> Manifest::from_json(const nlohmann::json& j, const std::string& where) {
  if (!j.is_object()) return make_error(ErrorCode::kParse, where, ": not a JSON object");
  Manifest m;
  RETORT_RETURN_IF_ERROR(read_field(j, "stage", where, &m.stage_id));
  RETORT_RETURN_IF_ERROR(read_field(j, "type", where, &m.type));
  nlohmann::json plugin;
  RETORT_RETURN_IF_ERROR(read_field(j, "plugin", where, &plugin));
  RETORT_RETURN_IF_ERROR(read_field(plugin, "name", where + " plugin", &m.plugin_name));
  RETORT_RETURN_IF_ERROR(read_field(plugin, "version", where + " plugin", &m.plugin_version));
  RETORT_RETURN_IF_ERROR(read_field(j, "params", where, &m.params));
  RETORT_RETURN_IF_ERROR(read_field(j, "data", where, &m.data));
  RETORT_RETURN_IF_ERROR(read_field(j, "seed", where, &m.seed));
  nlohmann::json in;
  RETORT_RETURN_IF_ERROR(read_field(j, "inputs", where, &in));
  if (!in.is_object()) return make_error(ErrorCode::kParse, where, ": \"inputs\" is not an object");
  for (const auto& [port, list] : in.items()) {
    if (!list.is_array()) {
      return make_error(ErrorCode::kParse, where, ": \"inputs/", port, "\" is not an array");
    }
    std::vector<InputRecord>& records = m.inputs[port];
    for (const nlohmann::json& r : list) {
      InputRecord rec;
      const std::string at = where + " inputs/" + port;
      RETORT_RETURN_IF_ERROR(read_field(r, "ref", at, &rec.ref));
      RETORT_RETURN_IF_ERROR(read_field(r, "path", at, &rec.path));
      RETORT_RETURN_IF_ERROR(read_field(r, "hash", at, &rec.hash));
      records.push_back(std::move(rec));
    }
  }
  RETORT_RETURN_IF_ERROR(read_field(j, "outputs", where, &m.outputs));
  // Absent in manifests written before stages could record external files.
  if (j.contains("external")) RETORT_RETURN_IF_ERROR(read_field(j, "external", where, &m.external));
  RETORT_RETURN_IF_ERROR(read_field(j, "started", where, &m.started));
  RETORT_RETURN_IF_ERROR(read_field(j, "finished", where, &m.finished));
  RETORT_RETURN_IF_ERROR(read_field(j, "seconds", where, &m.seconds));
  if (j.contains("threads")) RETORT_RETURN_IF_ERROR(read_field(j, "threads", where, &m.threads));
  if (j.contains("retort")) {  // absent before builds were recorded
    nlohmann::json retort;
    RETORT_RETURN_IF_ERROR(read_field(j, "retort", where, &retort));
    RETORT_RETURN_IF_ERROR(read_field(retort, "version", where + " retort", &m.retort_version));
    RETORT_RETURN_IF_ERROR(read_field(retort, "commit", where + " retort", &m.retort_commit));
  }
  return m;
}

Expected<Manifest> read_manifest(const std::string& path) {
  std::ifstream in(path);
  if (!in) return make_error(ErrorCode::kNotFound, "cannot open '", path, "'");
  std::stringstream text;
  text << in.rdbuf();
  nlohmann::json j = nlohmann::json::parse(text.str(), nullptr, false);
  if (j.is_discarded()) return make_error(ErrorCode::kParse, path, ": not valid JSON");
  return Manifest::from_json(j, path);
}

Status write_manifest(const Manifest& manifest, const std::string& path) {
  return write_file_atomic(path, manifest.to_json().dump(2) + "\n");
}

}  // namespace retort::exec
