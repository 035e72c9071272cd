// A folder with a small IDX dataset (12 training and 6 test images of 8x8, labels 0..2), an
// ONNX model (ext.onnx), a corrupt one (corrupt.onnx), and a valid recipe that uses them
// through relative paths.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "retort/recipe/recipe.h"

namespace retort::recipe::testing {

class RecipeFolder {
 public:
  // Creates (once per process) the folder under the system temp folder.
  static const RecipeFolder& get();

  const std::string& dir() const { return dir_; }
  std::string recipe_path() const { return dir_ + "/recipe.json"; }

  // teacher (train) and student (train) feed kd (distill); eval measures teacher and kd;
  // summary reports eval's metrics.
  static nlohmann::json valid_recipe();

  // Parses `recipe` as if read from recipe_path().
  Expected<Recipe> parse(const nlohmann::json& recipe, std::vector<Diagnostic>* problems) const;

 private:
  std::string dir_;
};

}  // namespace retort::recipe::testing
