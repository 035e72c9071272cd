// The "prune" plugin: magnitude, N:M and structured pruning with fine-tuning (optionally
// distilled from teachers), and measured size and speed before and after.
#include "prune_stage.h"

namespace {

using retort::plugin::stage_desc;

const retort_port_desc kInputs[] = {
    {"model", RETORT_PORT_MODEL, 0, 0, "the model to prune (a trained model artifact)"},
    {"teacher", RETORT_PORT_MODEL, 1, 1,
     "optional: one or more teachers; fine-tuning then distills from them"}};
const retort_port_desc kOutputs[] = {
    {"model", RETORT_PORT_MODEL, 0, 0, "the pruned model (zeros baked in, or smaller layers)"},
    {"metrics", RETORT_PORT_METRICS, 0, 0,
     "sparsity per layer, sizes, FLOPs, latency and throughput, accuracy before and after"}};

const retort_stage_desc kStages[] = {
    stage_desc<retort::stages::PruneStage>(
        "prune", "prune a model (magnitude, N:M or structured) and fine-tune it",
        retort::stages::kPruneSchema, kInputs, kOutputs),
};

}  // namespace

RETORT_PLUGIN(prune, RETORT_VERSION, kStages)
