// `distill`: a student trained from one or several teachers with weighted loss terms (kd, ce,
// hint, attention, rkd, fsp); optionally started from the teacher's layers, on a transfer set
// with classes left out, and bias-corrected afterwards. See retort/distill/distiller.h.
#pragma once

#include "retort/plugin/sdk.h"

namespace retort::stages {

extern const char* const kDistillSchema;

class DistillStage final : public plugin::Stage {
 public:
  Status run(plugin::StageContext& ctx) override;
  Status check(plugin::StageContext& ctx) override;
};

}  // namespace retort::stages
