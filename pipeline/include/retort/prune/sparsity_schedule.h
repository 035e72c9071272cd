// How the sparsity target grows during fine-tuning.
//
//   one_shot   prune to the final target once, then fine-tune with the masks fixed.
//   iterative  Han et al. 2015: K rounds of prune-then-retrain. Round k (1..K) prunes to
//              s_k = 1 - (1 - s_f)^(k/K): every round removes the same fraction of the weights
//              still left; the last round reaches s_f exactly. Fine-tuning epochs per round.
//   gradual    Zhu & Gupta 2017 (AGP): masks recomputed every `frequency` steps (dt) from
//              `start_step` (t0) to `end_step` (t0 + n dt) with the cubic schedule
//                s_t = s_f + (s_i - s_f) (1 - (t - t0) / (n dt))^3,
//              t counted in optimizer steps. Before t0 nothing is masked; after the end the
//              final masks stay.
#pragma once

#include <cstdint>
#include <string>

#include "retort/core/status.h"

namespace retort::prune {

enum class ScheduleKind { kOneShot, kIterative, kGradual };

struct CubicSchedule {
  double initial = 0.0;     // s_i (clipped to the final target of a layer)
  int64_t start_step = 0;   // t0
  int64_t end_step = 0;     // t0 + n dt
  int64_t frequency = 100;  // dt

  // s_t for a target s_f at step t (the formula above; clamped outside [t0, end]).
  double sparsity(double final_sparsity, int64_t step) const;
  // Whether the masks are recomputed after step t: t0, t0 + dt, ..., and the end step.
  bool is_update_step(int64_t step) const;
  // Checks 0 <= start < end, frequency >= 1, s_i in [0, 1); `where` prefixes messages.
  Status check(const std::string& where) const;
};

// s_k = 1 - (1 - s_f)^(k/K), k in 1..K.
double iterative_sparsity(double final_sparsity, int round, int rounds);

}  // namespace retort::prune
