#include "retort/plugin/registry.h"

#include <dlfcn.h>

#include <algorithm>
#include <cctype>
#include <cstddef>
#include <cstring>
#include <filesystem>
#include <set>
#include <system_error>
#include <type_traits>

#include "retort/core/json_schema.h"
#include "retort/plugin/sdk.h"

#ifndef RETORT_INSTALL_LIBDIR
#define RETORT_INSTALL_LIBDIR "lib"
#endif

namespace retort::plugin {
namespace {

namespace fs = std::filesystem;

// "plugin 'good' (/x/retort-good.so)"; the file name stands in when the name is unreadable.
std::string describe_plugin(const std::string& name, const std::string& origin) {
  return "plugin '" + name + "' (" + origin + ")";
}

bool valid_type_name(const std::string& s) {
  if (s.empty() || !std::isalnum(static_cast<unsigned char>(s[0]))) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.';
  });
}

// Port names appear in recipe references "<stage>.<port>", so no dots.
bool valid_port_name(const std::string& s) {
  if (s.empty() || !(std::isalpha(static_cast<unsigned char>(s[0])) || s[0] == '_')) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-';
  });
}

Expected<std::vector<PortInfo>> read_ports(const retort_port_desc* ports, size_t count,
                                           const char* direction, const std::string& where) {
  std::vector<PortInfo> out;
  if (count == 0) return out;
  if (ports == nullptr) {
    return make_error(ErrorCode::kInvalidArgument, where, " declares ", count, " ", direction,
                      " ports but their table is NULL");
  }
  std::set<std::string> seen;
  for (size_t i = 0; i < count; ++i) {
    const retort_port_desc& p = ports[i];
    std::string name = p.name ? p.name : "";
    if (!valid_port_name(name)) {
      return make_error(ErrorCode::kInvalidArgument, where, ": ", direction, " port ", i,
                        " has an invalid name '", name,
                        "'; use letters, digits, '_' and '-', starting with a letter");
    }
    if (!seen.insert(name).second) {
      return make_error(ErrorCode::kInvalidArgument, where, ": ", direction, " port '", name,
                        "' is declared twice");
    }
    // A C plugin may store any int in the enum field, and reading an out-of-range value as
    // the C++ enum is undefined: check its bytes as the underlying integer first.
    std::underlying_type_t<retort_port_kind> kind = 0;
    static_assert(sizeof kind == sizeof p.kind);
    std::memcpy(&kind, &p.kind, sizeof kind);
    if (kind != RETORT_PORT_MODEL && kind != RETORT_PORT_METRICS) {
      return make_error(ErrorCode::kInvalidArgument, where, ": ", direction, " port '", name,
                        "' has unknown kind ", static_cast<int64_t>(kind),
                        "; use RETORT_PORT_MODEL or RETORT_PORT_METRICS");
    }
    out.push_back(
        PortInfo{name, p.kind, p.multiple != 0, p.optional != 0, p.summary ? p.summary : ""});
  }
  return out;
}

// Where libretort.so itself was loaded from (empty if unknown).
fs::path library_dir() {
  Dl_info info{};
  if (dladdr(reinterpret_cast<void*>(&default_plugin_dir), &info) == 0 || !info.dli_fname)
    return {};
  std::error_code ec;
  fs::path p = fs::canonical(info.dli_fname, ec);
  return ec ? fs::path() : p.parent_path();
}

fs::path executable_dir() {
  std::error_code ec;
  fs::path p = fs::read_symlink("/proc/self/exe", ec);
  return ec ? fs::path() : p.parent_path();
}

}  // namespace

const char* port_kind_name(retort_port_kind kind) {
  switch (kind) {
    case RETORT_PORT_MODEL:
      return "model";
    case RETORT_PORT_METRICS:
      return "metrics";
  }
  return "unknown";
}

const PortInfo* StageType::input(const std::string& name) const {
  for (const auto& p : inputs) {
    if (p.name == name) return &p;
  }
  return nullptr;
}

const PortInfo* StageType::output(const std::string& name) const {
  for (const auto& p : outputs) {
    if (p.name == name) return &p;
  }
  return nullptr;
}

Status StageRegistry::add(const retort_plugin_info* info, const std::string& origin) {
  const std::string file_name = fs::path(origin).filename().string();
  if (info == nullptr) {
    return make_error(ErrorCode::kInvalidArgument, "plugin '", file_name, "' (", origin,
                      ") returned no descriptor: its " RETORT_PLUGIN_ENTRY_SYMBOL
                      "() returned NULL");
  }
  if (std::find(added_.begin(), added_.end(), info) != added_.end()) return Status::Ok();

  // abi_version, struct_size and name keep their place across ABI versions (see abi.h).
  const bool name_readable =
      info->struct_size >= offsetof(retort_plugin_info, name) + sizeof(info->name) && info->name;
  const std::string who =
      describe_plugin(name_readable ? std::string(info->name) : file_name, origin);
  if (info->abi_version != RETORT_PLUGIN_ABI_VERSION) {
    return make_error(ErrorCode::kUnsupported, who, " was built for plugin ABI version ",
                      info->abi_version, ", this retort expects ", RETORT_PLUGIN_ABI_VERSION,
                      "; rebuild it against this retort");
  }
  if (info->struct_size != sizeof(retort_plugin_info)) {
    return make_error(ErrorCode::kUnsupported, who, " has a descriptor of ", info->struct_size,
                      " bytes, this retort expects ", sizeof(retort_plugin_info),
                      " for ABI version ", RETORT_PLUGIN_ABI_VERSION,
                      "; rebuild it against this retort's retort/plugin/abi.h");
  }
  if (info->name == nullptr || info->name[0] == '\0') {
    return make_error(ErrorCode::kInvalidArgument, who,
                      " has no name; set retort_plugin_info.name");
  }
  if (info->fingerprint == nullptr) {
    return make_error(ErrorCode::kUnsupported, who,
                      " has no build fingerprint; set it to RETORT_BUILD_FINGERPRINT (the "
                      "RETORT_PLUGIN macro of retort/plugin/sdk.h does)");
  }
  if (std::string(info->fingerprint) != RETORT_BUILD_FINGERPRINT) {
    return make_error(ErrorCode::kUnsupported, who, ": fingerprint mismatch: plugin built by ",
                      info->fingerprint, ", host is ", RETORT_BUILD_FINGERPRINT,
                      "; rebuild the plugin with this retort and the same compiler");
  }
  if (info->num_stages == 0 || info->stages == nullptr) {
    return make_error(ErrorCode::kInvalidArgument, who,
                      " provides no stage types; list them in retort_plugin_info.stages");
  }

  // Check every type before registering any, so a rejected plugin leaves no trace.
  std::vector<std::unique_ptr<StageType>> parsed;
  for (size_t i = 0; i < info->num_stages; ++i) {
    const retort_stage_desc& d = info->stages[i];
    std::string type = d.type ? d.type : "";
    if (!valid_type_name(type)) {
      return make_error(
          ErrorCode::kInvalidArgument, who, ": stage type ", i, " has an invalid name '", type,
          "'; use letters, digits, '_', '-' and '.', starting with a letter or digit");
    }
    const std::string where = "stage type '" + type + "' in " + who;
    for (const auto& p : parsed) {
      if (p->type == type) {
        return make_error(ErrorCode::kInvalidArgument, who, " declares stage type '", type,
                          "' twice");
      }
    }
    if (const StageType* existing = find(type)) {
      return make_error(ErrorCode::kInvalidArgument, "duplicate stage type '", type, "': ", who,
                        " provides it, but ",
                        describe_plugin(existing->plugin_name, existing->origin),
                        " already does; remove one of the two plugins from the plugin folders");
    }
    if (d.run == nullptr) {
      return make_error(ErrorCode::kInvalidArgument, where, " has no run function");
    }
    if (d.params_schema == nullptr) {
      return make_error(ErrorCode::kInvalidArgument, "invalid schema for ", where,
                        ": params_schema is NULL; use {\"type\": \"object\"} for a stage "
                        "without parameters");
    }
    nlohmann::json schema = nlohmann::json::parse(d.params_schema, nullptr, false);
    if (schema.is_discarded()) {
      return make_error(ErrorCode::kInvalidArgument, "invalid schema for ", where,
                        ": params_schema is not valid JSON");
    }
    if (Status s = check_params_schema(schema); !s.ok()) {
      return make_error(ErrorCode::kInvalidArgument, "invalid schema for ", where, ": ",
                        s.message());
    }
    auto st = std::make_unique<StageType>();
    st->type = type;
    st->summary = d.summary ? d.summary : "";
    st->params_schema = std::move(schema);
    RETORT_ASSIGN_OR_RETURN(st->inputs, read_ports(d.inputs, d.num_inputs, "input", where));
    RETORT_ASSIGN_OR_RETURN(st->outputs, read_ports(d.outputs, d.num_outputs, "output", where));
    st->compute_heavy = d.compute_heavy != 0;
    st->run = d.run;
    st->check = d.check;
    st->plugin_name = info->name;
    st->plugin_version = info->version ? info->version : "";
    st->origin = origin;
    parsed.push_back(std::move(st));
  }
  for (auto& p : parsed) types_.push_back(std::move(p));
  added_.push_back(info);
  return Status::Ok();
}

Status StageRegistry::load_file(const std::string& path) {
  std::error_code ec;
  // An absolute path keeps dlopen from searching the library path for a bare file name.
  fs::path abs = fs::absolute(path, ec);
  const std::string open_path = ec ? path : abs.string();
  // Never closed: stage descriptors, their strings and code live in the library.
  void* handle = dlopen(open_path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (handle == nullptr) {
    const char* why = dlerror();
    return make_error(fs::exists(open_path, ec) ? ErrorCode::kIo : ErrorCode::kNotFound,
                      "cannot open plugin '", path, "': ", why ? why : "unknown dlopen error");
  }
  dlerror();
  void* sym = dlsym(handle, RETORT_PLUGIN_ENTRY_SYMBOL);
  if (sym == nullptr) {
    return make_error(ErrorCode::kNotFound, "no entry symbol '" RETORT_PLUGIN_ENTRY_SYMBOL "' in '",
                      path,
                      "'; a plugin exports it with RETORT_PLUGIN(...) built with "
                      "-DRETORT_PLUGIN_MODULE (retort_add_plugin in CMake does that)");
  }
  auto entry = reinterpret_cast<retort_plugin_entry_fn>(sym);
  return add(entry(), path);
}

Status StageRegistry::load_dir(const std::string& dir) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) {
    return make_error(ErrorCode::kNotFound, "plugin folder '", dir, "' ",
                      fs::exists(dir, ec) ? "is not a folder" : "does not exist");
  }
  std::vector<fs::path> files;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    if (entry.path().extension() == ".so" && entry.is_regular_file(ec))
      files.push_back(entry.path());
  }
  if (ec) {
    return make_error(ErrorCode::kIo, "cannot list plugin folder '", dir, "': ", ec.message());
  }
  std::sort(files.begin(), files.end());
  std::string errors;
  ErrorCode first = ErrorCode::kOk;
  for (const auto& f : files) {
    Status s = load_file(f.string());
    if (s.ok()) continue;
    if (first == ErrorCode::kOk) first = s.code();
    errors += (errors.empty() ? "" : "\n") + s.message();
  }
  if (first != ErrorCode::kOk) return Status(first, errors);
  return Status::Ok();
}

const StageType* StageRegistry::find(const std::string& type) const {
  for (const auto& t : types_) {
    if (t->type == type) return t.get();
  }
  return nullptr;
}

std::vector<const StageType*> StageRegistry::all() const {
  std::vector<const StageType*> out;
  for (const auto& t : types_) out.push_back(t.get());
  std::sort(out.begin(), out.end(), [](auto* a, auto* b) { return a->type < b->type; });
  return out;
}

std::vector<std::string> StageRegistry::type_names() const {
  std::vector<std::string> out;
  for (const auto* t : all()) out.push_back(t->type);
  return out;
}

std::string default_plugin_dir() {
  std::vector<fs::path> candidates;
  fs::path lib = library_dir();
  if (!lib.empty()) {
    candidates.push_back(lib / "retort" / "plugins");     // <prefix>/<libdir>/libretort.so
    candidates.push_back(lib.parent_path() / "plugins");  // <build>/pipeline/libretort.so
  }
  fs::path exe = executable_dir();
  if (!exe.empty()) {
    candidates.push_back(exe.parent_path() / "plugins");
    candidates.push_back(exe.parent_path() / RETORT_INSTALL_LIBDIR / "retort" / "plugins");
  }
  std::error_code ec;
  for (const auto& c : candidates) {
    if (fs::is_directory(c, ec)) return c.lexically_normal().string();
  }
  return candidates.empty() ? std::string() : candidates.front().lexically_normal().string();
}

}  // namespace retort::plugin
