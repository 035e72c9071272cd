#include "recipe/recipe_fixture.h"

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>

#include "recipe/test_registry.h"
#include "retort/arch/build_model.h"
#include "retort/data/idx.h"
#include "retort/graph/onnx_io.h"

namespace retort::recipe::testing {
namespace {

void write_or_die(Status status) {
  if (!status.ok()) {
    std::cerr << "recipe fixture: " << status.message() << "\n";
    std::abort();
  }
}

void write_split(const std::string& dir, const std::string& split, int64_t count) {
  Tensor images(DType::kUInt8, {count, 8, 8});
  for (int64_t i = 0; i < images.numel(); ++i) images.data<uint8_t>()[i] = i % 251;
  std::vector<uint8_t> labels;
  for (int64_t i = 0; i < count; ++i) labels.push_back(static_cast<uint8_t>(i % 3));
  write_or_die(data::write_idx(dir + "/" + split + "-images.idx.gz", images));
  write_or_die(data::write_idx(dir + "/" + split + "-labels.idx",
                               Tensor::from_vector<uint8_t>({count}, labels)));
}

}  // namespace

const RecipeFolder& RecipeFolder::get() {
  static const RecipeFolder* folder = [] {
    auto* f = new RecipeFolder;
    f->dir_ = (std::filesystem::temp_directory_path() /
               ("retort-recipe-test-" + std::to_string(getpid())))
                  .string();
    std::filesystem::create_directories(f->dir_ + "/data");
    write_split(f->dir_ + "/data", "train", 12);
    write_split(f->dir_ + "/data", "test", 6);
    auto model = arch::build_model({{"arch", "mlp"}, {"input", {1, 8, 8}}, {"hidden", {4}}}, 1);
    if (!model.ok()) write_or_die(model.status());
    write_or_die(save_onnx(*model, f->dir_ + "/ext.onnx"));
    std::ofstream(f->dir_ + "/corrupt.onnx") << "not a protobuf";
    std::atexit([] { std::filesystem::remove_all(RecipeFolder::get().dir()); });
    return f;
  }();
  return *folder;
}

nlohmann::json RecipeFolder::valid_recipe() {
  return nlohmann::json::parse(R"({
    "version": 1,
    "seed": 7,
    "data": {
      "dataset": "idx",
      "train_images": "data/train-images.idx.gz", "train_labels": "data/train-labels.idx",
      "test_images": "data/test-images.idx.gz", "test_labels": "data/test-labels.idx",
      "train_size": 8,
      "class_names": ["zero", "one", "two"]
    },
    "models": {
      "mlp": {"arch": "mlp", "input": [1, 8, 8], "classes": 3, "hidden": [16]},
      "ext": {"onnx": "ext.onnx"}
    },
    "stages": [
      {"id": "teacher", "type": "train", "inputs": {"model": "models.mlp"},
       "params": {"epochs": 2}},
      {"id": "student", "type": "train", "inputs": {"model": "models.ext"}, "seed": 3},
      {"id": "kd", "type": "distill",
       "inputs": {"teacher": "teacher.model", "student": "student.model"},
       "params": {"temperature": 2}},
      {"id": "eval", "type": "evaluate", "inputs": {"models": ["teacher.model", "kd.model"]}},
      {"id": "summary", "type": "report", "inputs": {"metrics": "eval.metrics"}}
    ]
  })");
}

Expected<Recipe> RecipeFolder::parse(const nlohmann::json& recipe,
                                     std::vector<Diagnostic>* problems) const {
  return parse_recipe(recipe.dump(2), recipe_path(), test_registry(), problems);
}

}  // namespace retort::recipe::testing
