// The stage types a command can use: the built-in plugin folder plus every --plugin-dir.
#pragma once

#include "args.h"
#include "retort/plugin/registry.h"

namespace retort::cli {

Status load_stage_registry(const Args& args, plugin::StageRegistry& registry);

}  // namespace retort::cli
