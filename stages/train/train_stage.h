// `train`: supervised training of a model (a recipe architecture spec or any model artifact)
// on the recipe's data, with cross-entropy.
#pragma once

#include "retort/plugin/sdk.h"

namespace retort::stages {

extern const char* const kTrainSchema;

class TrainStage final : public plugin::Stage {
 public:
  Status run(plugin::StageContext& ctx) override;
  Status check(plugin::StageContext& ctx) override;
};

}  // namespace retort::stages
