#include "stage_registry_loading.h"

#include <filesystem>

namespace retort::cli {

Status load_stage_registry(const Args& args, plugin::StageRegistry& registry) {
  const std::string builtin = plugin::default_plugin_dir();
  if (builtin.empty() || !std::filesystem::is_directory(builtin))
    return make_error(
        ErrorCode::kNotFound,
        "the built-in stage plugins were not found next to the retort executable (looked for "
        "../plugins and ../lib/retort/plugins); reinstall retort or pass --plugin-dir");
  RETORT_RETURN_IF_ERROR(registry.load_dir(builtin));
  for (const std::string& dir : args.all("--plugin-dir"))
    RETORT_RETURN_IF_ERROR(registry.load_dir(dir));
  return Status::Ok();
}

}  // namespace retort::cli
