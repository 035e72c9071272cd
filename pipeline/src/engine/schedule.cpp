#include "retort/engine/schedule.h"

#include <algorithm>
#include <cmath>
#include <numbers>

#include "nlohmann/json.hpp"

namespace retort::engine {

float LrSchedule::factor(int64_t step) const {
  if (warmup_steps > 0 && step < warmup_steps)
    return static_cast<float>(step + 1) / static_cast<float>(warmup_steps);
  const int64_t t = step - warmup_steps;
  if (type == "step")
    return std::pow(gamma, static_cast<float>(t / std::max<int64_t>(1, step_size)));
  if (type == "cosine") {
    const double span = static_cast<double>(std::max<int64_t>(1, total_steps - warmup_steps));
    const double progress = std::min(1.0, static_cast<double>(t) / span);
    return static_cast<float>(min_factor + (1.0 - min_factor) * 0.5 *
                                               (1.0 + std::cos(std::numbers::pi * progress)));
  }
  return 1.0f;
}

Expected<LrSchedule> schedule_from_json(const nlohmann::json& j, const std::string& where) {
  LrSchedule s;
  if (j.is_string()) {
    if (j != "constant" && j != "step" && j != "cosine")
      return make_error(ErrorCode::kInvalidArgument, where,
                        ": expected \"constant\", \"step\" or \"cosine\", found ", j.dump());
    s.type = j.get<std::string>();
    return s;
  }
  if (!j.is_object())
    return make_error(ErrorCode::kInvalidArgument, where, ": expected a string or object, found ",
                      j.type_name());
  for (const auto& [key, value] : j.items()) {
    const std::string path = where + "/" + key;
    if (key == "type") {
      if (value != "constant" && value != "step" && value != "cosine")
        return make_error(ErrorCode::kInvalidArgument, path,
                          ": expected \"constant\", \"step\" or \"cosine\", found ", value.dump());
      s.type = value.get<std::string>();
    } else if (key == "warmup_steps" || key == "step_size") {
      if (!value.is_number_integer() || value.get<int64_t>() < 0)
        return make_error(ErrorCode::kInvalidArgument, path,
                          ": expected a non-negative integer, found ", value.dump());
      (key == "warmup_steps" ? s.warmup_steps : s.step_size) = value.get<int64_t>();
    } else if (key == "gamma" || key == "min_factor") {
      if (!value.is_number() || value.get<float>() < 0 || value.get<float>() > 1)
        return make_error(ErrorCode::kInvalidArgument, path,
                          ": expected a number in [0, 1], found ", value.dump());
      (key == "gamma" ? s.gamma : s.min_factor) = value.get<float>();
    } else {
      return make_error(
          ErrorCode::kInvalidArgument, path,
          ": unknown schedule key; known: type, warmup_steps, step_size, gamma, min_factor");
    }
  }
  return s;
}

}  // namespace retort::engine
