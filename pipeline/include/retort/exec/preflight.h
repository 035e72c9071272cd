// Checks before compute: every stage's check (retort_stage_desc.check) runs in graph order
// before any stage of the recipe runs, so that a mistake in the last stage (a hint naming a
// value the teacher does not have, a teacher and student with different class counts) is
// reported in seconds, not after the stages before it have trained for an hour.
#pragma once

#include <vector>

#include "retort/plugin/registry.h"
#include "retort/recipe/diagnostic.h"
#include "retort/recipe/recipe.h"

namespace retort::exec {

// Runs the checks in a temporary folder, "retort-check-<pid>-XXXXXX" in the system temp folder,
// removed afterwards, also when a stop signal ends the process (see install_signal_handlers;
// folders of processes killed outright are removed by a later call). A check sees the recipe
// models bound to its inputs and the models the upstream stages' checks passed on. Returns one
// diagnostic per failing stage, located at "/stages/<index>" and naming the stage; empty when
// every check passes. Stops before the next check once cancel_requested(): the caller then
// reports the interruption, not the diagnostics.
std::vector<recipe::Diagnostic> check_stages(const recipe::Recipe& recipe,
                                             const plugin::StageRegistry& registry);

}  // namespace retort::exec
