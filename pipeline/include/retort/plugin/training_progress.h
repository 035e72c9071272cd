// The progress callback every training stage hands the engine: reports epoch, step, loss and
// accuracy to the host, and stops training when the run is cancelled.
#pragma once

#include <functional>

#include "retort/engine/trainer.h"
#include "retort/plugin/sdk.h"

namespace retort::plugin {

inline std::function<bool(const engine::TrainProgress&)> training_progress(
    const StageContext& ctx) {
  return [&ctx](const engine::TrainProgress& p) {
    ctx.progress({{"epoch", p.epoch + 1},
                  {"epochs", p.epochs},
                  {"step", p.step},
                  {"steps", p.steps_per_epoch},
                  {"loss", p.loss},
                  {"accuracy", p.accuracy},
                  {"seconds", p.seconds}});
    return !ctx.cancelled();
  };
}

}  // namespace retort::plugin
