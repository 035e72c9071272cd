#include "evaluate_stage.h"

namespace {

const retort_port_desc kInputs[] = {{"models", RETORT_PORT_MODEL, 1, 0, "the models to measure"}};
const retort_port_desc kOutputs[] = {{"metrics", RETORT_PORT_METRICS, 0, 0, "one entry per model"}};
const retort_stage_desc kStages[] = {retort::plugin::stage_desc<retort::stages::EvaluateStage>(
    "evaluate", "measure accuracy, size, FLOPs, latency and throughput of models",
    retort::stages::kEvaluateSchema, kInputs, kOutputs)};

}  // namespace

RETORT_PLUGIN(evaluate, RETORT_VERSION, kStages)
