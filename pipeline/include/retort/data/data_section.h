// The datasets a recipe's resolved "data" section names, loaded once per process and shared
// by every stage that asks (stages of one run often read the same data).
#pragma once

#include <memory>

#include "nlohmann/json.hpp"
#include "retort/core/status.h"
#include "retort/data/dataset.h"

namespace retort::data {

struct DataSplits {
  Dataset train;
  Dataset test;
};

// {"dataset": "fashion-mnist" | "idx", "dir", "train_images", "train_labels", "test_images",
//  "test_labels", "train_size", "test_size", "class_names"}; paths absolute (the recipe
// resolves them). Sizes take the first N samples. Fashion-MNIST's classes are named
// "T-shirt/top" ... "Ankle boot" unless "class_names" gives ten others; errors name the JSON
// path ("/data/class_names: ...").
Expected<std::shared_ptr<const DataSplits>> load_data_section(const nlohmann::json& data);

}  // namespace retort::data
