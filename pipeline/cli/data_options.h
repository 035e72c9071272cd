// The --data option of train/eval: a recipe "data" section given inline or as a file.
#pragma once

#include "args.h"
#include "nlohmann/json.hpp"
#include "retort/data/data_section.h"

namespace retort::cli {

// --data JSON|FILE (default Fashion-MNIST), with --train-size/--test-size on top.
Expected<std::shared_ptr<const data::DataSplits>> load_data_option(const Args& args);

// Parses inline JSON ("{...}") or reads a file of it; `what` names the option in errors.
Expected<nlohmann::json> json_argument(const std::string& text, const std::string& what);

}  // namespace retort::cli
