// Stage types known to this process: loaded from plugin files (dlopen, never unloaded) or
// registered from plugins linked in. One distinct error per way loading can fail.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "nlohmann/json.hpp"
#include "retort/core/status.h"
#include "retort/plugin/abi.h"

namespace retort::plugin {

struct PortInfo {
  std::string name;
  retort_port_kind kind = RETORT_PORT_MODEL;
  bool multiple = false;
  bool optional = false;
  std::string summary;
};

// A stage type as the host sees it: the plugin's descriptor plus what it parsed from it.
struct StageType {
  std::string type;
  std::string summary;
  nlohmann::json params_schema;  // parsed and checked when the plugin was loaded
  std::vector<PortInfo> inputs;
  std::vector<PortInfo> outputs;
  bool compute_heavy = true;
  retort_stage_run_fn run = nullptr;
  retort_stage_run_fn check = nullptr;  // optional: see retort_stage_desc.check
  std::string plugin_name;
  std::string plugin_version;
  std::string origin;  // plugin file path, or "built-in"

  const PortInfo* input(const std::string& name) const;
  const PortInfo* output(const std::string& name) const;
};

const char* port_kind_name(retort_port_kind kind);  // "model", "metrics"

class StageRegistry {
 public:
  // dlopen(RTLD_NOW | RTLD_LOCAL) `path`, find RETORT_PLUGIN_ENTRY_SYMBOL on that handle and
  // register its stage types. Errors (each names the file): cannot open (with dlerror), no
  // entry symbol, ABI version got N expected M, struct size mismatch, fingerprint mismatch,
  // duplicate stage type (naming both plugins), invalid params schema (naming the type).
  // A plugin that fails a check registers none of its types. The library is never unloaded.
  Status load_file(const std::string& path);
  // Every "*.so" file in `dir` (sorted by name). A missing folder is an error. Every file is
  // tried; the error lists each file that failed, one per line.
  Status load_dir(const std::string& dir);
  // A plugin linked into this program (same checks as load_file). Adding a descriptor that is
  // already registered (the same file reached through two folders) does nothing.
  Status add(const retort_plugin_info* info, const std::string& origin);

  const StageType* find(const std::string& type) const;
  std::vector<const StageType*> all() const;  // sorted by type
  std::vector<std::string> type_names() const;

 private:
  std::vector<std::unique_ptr<StageType>> types_;
  std::vector<const retort_plugin_info*> added_;
};

// The folder of the built-in plugins, found from where libretort.so (or else the running
// executable) lives: "<libdir>/retort/plugins" (install) or "<build>/plugins" (build tree),
// whichever exists; the install location when none does.
std::string default_plugin_dir();

}  // namespace retort::plugin
