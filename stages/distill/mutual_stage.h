// `mutual`: Deep Mutual Learning, two or more students trained together from scratch, each
// on cross-entropy plus KL to the others' predictions; writes every student.
#pragma once

#include "retort/plugin/sdk.h"

namespace retort::stages {

extern const char* const kMutualSchema;

class MutualStage final : public plugin::Stage {
 public:
  Status run(plugin::StageContext& ctx) override;
  Status check(plugin::StageContext& ctx) override;
};

}  // namespace retort::stages
