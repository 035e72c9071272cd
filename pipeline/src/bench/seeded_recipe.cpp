#include "retort/bench/seeded_recipe.h"

#include <algorithm>
#include <filesystem>

namespace retort::bench {
namespace {

using nlohmann::json;

void cap(json& value, int64_t limit) {
  if (value.is_number_integer() && value.get<int64_t>() > limit) value = limit;
}

// Caps the named counts wherever they appear in a stage's params.
void cap_params(json& node, const QuickOptions& quick, int64_t train_size) {
  if (node.is_object()) {
    for (auto& [key, value] : node.items()) {
      if (key == "epochs")
        cap(value, quick.epochs);
      else if (key == "calibration_images")
        cap(value, train_size);
      else if (key == "latency_iterations")
        cap(value, quick.latency_iterations);
      else
        cap_params(value, quick, train_size);
    }
  } else if (node.is_array()) {
    for (json& item : node) cap_params(item, quick, train_size);
  }
}

}  // namespace

json recipe_for_seed(const json& recipe, uint64_t seed, const QuickOptions* quick,
                     const std::string& export_dir) {
  json out = recipe;
  out["seed"] = seed;
  if (!export_dir.empty() && out.contains("stages") && out["stages"].is_array())
    for (json& stage : out["stages"])
      if (stage.value("type", std::string()) == "export" && stage.contains("params") &&
          stage["params"].contains("path") && stage["params"]["path"].is_string()) {
        const std::filesystem::path file(stage["params"]["path"].get<std::string>());
        stage["params"]["path"] = (std::filesystem::path(export_dir) / file.filename()).string();
      }
  if (!quick) return out;
  json& data = out["data"];
  if (!data.is_object()) data = json::object();
  // 0 or absent means the whole split.
  auto capped = [&](const char* key, int64_t limit) {
    const int64_t current =
        data.contains(key) && data[key].is_number_integer() ? data[key].get<int64_t>() : 0;
    return current > 0 ? std::min(current, limit) : limit;
  };
  const int64_t train = capped("train_size", quick->train_size);
  data["train_size"] = train;
  data["test_size"] = capped("test_size", quick->test_size);
  if (out.contains("stages"))
    for (json& stage : out["stages"])
      if (stage.contains("params")) cap_params(stage["params"], *quick, train);
  return out;
}

}  // namespace retort::bench
