// `prune`: magnitude (unstructured), N:M or structured pruning of a model with a one-shot,
// iterative or gradual schedule and fine-tuning (KD terms when a teacher is given). Metrics
// are measured on the saved model. See docs/pruning.md and retort/prune/.
#pragma once

#include "retort/plugin/sdk.h"

namespace retort::stages {

extern const char* const kPruneSchema;

class PruneStage final : public plugin::Stage {
 public:
  Status run(plugin::StageContext& ctx) override;
  Status check(plugin::StageContext& ctx) override;
};

}  // namespace retort::stages
