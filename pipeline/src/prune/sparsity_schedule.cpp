#include "retort/prune/sparsity_schedule.h"

#include <algorithm>
#include <cmath>

namespace retort::prune {

double CubicSchedule::sparsity(double final_sparsity, int64_t step) const {
  const double s_i = std::min(initial, final_sparsity);
  if (step < start_step) return 0.0;
  if (step >= end_step) return final_sparsity;
  const double progress =
      static_cast<double>(step - start_step) / static_cast<double>(end_step - start_step);
  const double left = 1.0 - progress;
  return final_sparsity + (s_i - final_sparsity) * left * left * left;
}

bool CubicSchedule::is_update_step(int64_t step) const {
  if (step < start_step || step > end_step) return false;
  return step == end_step || (step - start_step) % frequency == 0;
}

Status CubicSchedule::check(const std::string& where) const {
  if (start_step < 0)
    return make_error(ErrorCode::kInvalidArgument, where, "/start_step: must be >= 0, got ",
                      start_step);
  if (end_step <= start_step)
    return make_error(ErrorCode::kInvalidArgument, where, "/end_step: must be after start_step (",
                      start_step, "), got ", end_step);
  if (frequency < 1)
    return make_error(ErrorCode::kInvalidArgument, where, "/frequency: must be >= 1, got ",
                      frequency);
  if (!(initial >= 0.0 && initial < 1.0))
    return make_error(ErrorCode::kInvalidArgument, where,
                      "/initial_sparsity: sparsity must be in [0, 1), got ", initial);
  return Status::Ok();
}

double iterative_sparsity(double final_sparsity, int round, int rounds) {
  if (round >= rounds) return final_sparsity;
  return 1.0 - std::pow(1.0 - final_sparsity, static_cast<double>(round) / rounds);
}

}  // namespace retort::prune
