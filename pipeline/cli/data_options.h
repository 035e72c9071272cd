// The --data option of train/eval: a recipe "data" section given inline or as a file.
#pragma once

#include "args.h"
#include "nlohmann/json.hpp"
#include "retort/data/data_section.h"

namespace retort::cli {

// --data JSON|FILE (default Fashion-MNIST), with --train-size/--test-size on top, checked by
// the rules of a recipe's "data" section with its messages ("--data: /data/test_size: expected
// an integer >= 1, found 0"); relative paths start at FILE's folder, or the current folder for
// inline JSON. The resolved section, ready for data::load_data_section. Any error is the
// user's input: exit with kExitUsage.
Expected<nlohmann::json> resolve_data_option(const Args& args);

// Parses inline JSON ("{...}") or reads a file of it; `what` names the option in errors.
Expected<nlohmann::json> json_argument(const std::string& text, const std::string& what);

}  // namespace retort::cli
