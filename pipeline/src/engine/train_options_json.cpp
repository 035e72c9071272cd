#include "retort/engine/train_options_json.h"

namespace retort::engine {

Expected<TrainOptions> train_options_from_json(const nlohmann::json& p, const std::string& where) {
  TrainOptions options;
  options.epochs = p.value("epochs", 5);
  options.batch = p.value("batch", int64_t{128});
  RETORT_ASSIGN_OR_RETURN(options.optimizer,
                          optimizer_config_from_json(p.value("optimizer", nlohmann::json::object()),
                                                     where + "/optimizer"));
  RETORT_ASSIGN_OR_RETURN(
      options.schedule,
      schedule_from_json(p.value("schedule", nlohmann::json::object()), where + "/schedule"));
  const nlohmann::json augment = p.value("augment", nlohmann::json::object());
  options.augment.crop_padding = augment.value("crop_padding", 0);
  options.augment.horizontal_flip = augment.value("horizontal_flip", false);
  return options;
}

}  // namespace retort::engine
