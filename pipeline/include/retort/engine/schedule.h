// Learning-rate schedules as a pure function of the step: reproducible and resumable.
#pragma once

#include <cstdint>
#include <string>

#include "nlohmann/json_fwd.hpp"
#include "retort/core/status.h"

namespace retort::engine {

struct LrSchedule {
  std::string type = "constant";  // "constant", "step", "cosine"
  int64_t warmup_steps = 0;       // linear warmup from 0 to the base rate
  int64_t step_size = 1000;       // step: multiply by gamma every step_size steps
  float gamma = 0.1f;
  float min_factor = 0.0f;  // cosine: final lr = base * min_factor
  int64_t total_steps = 1;  // cosine: length of the decay (after warmup)

  float factor(int64_t step) const;  // multiplier of the base learning rate at `step`
};

// Reads {"type", "warmup_steps", "step_size", "gamma", "min_factor"}; total_steps is set by the
// trainer from epochs x batches.
Expected<LrSchedule> schedule_from_json(const nlohmann::json& j, const std::string& where);

}  // namespace retort::engine
