// The "distill" plugin: stage types that train students from teachers or from each other.
#include "distill_stage.h"
#include "mutual_stage.h"

namespace {

using retort::plugin::stage_desc;

const retort_port_desc kDistillInputs[] = {
    {"teacher", RETORT_PORT_MODEL, 1, 0,
     "one teacher, or a list of teachers whose soft targets are combined"},
    {"student", RETORT_PORT_MODEL, 0, 0, "the student: a recipe architecture or a model artifact"}};
const retort_port_desc kDistillOutputs[] = {
    {"model", RETORT_PORT_MODEL, 0, 0, "the distilled student"},
    {"metrics", RETORT_PORT_METRICS, 0, 0,
     "test accuracy (overall and per class), loss terms, timings"}};
const retort_port_desc kMutualInputs[] = {
    {"students", RETORT_PORT_MODEL, 1, 0, "two or more students trained together"}};
const retort_port_desc kMutualOutputs[] = {
    {"models", RETORT_PORT_MODEL, 1, 0, "every student, in input order"},
    {"model", RETORT_PORT_MODEL, 0, 0, "the first student"},
    {"metrics", RETORT_PORT_METRICS, 0, 0, "test accuracy of each student"}};

const retort_stage_desc kStages[] = {
    stage_desc<retort::stages::DistillStage>(
        "distill", "train a student from teachers with KD/feature/relation losses",
        retort::stages::kDistillSchema, kDistillInputs, kDistillOutputs),
    stage_desc<retort::stages::MutualStage>(
        "mutual", "deep mutual learning: students teach each other", retort::stages::kMutualSchema,
        kMutualInputs, kMutualOutputs),
};

}  // namespace

RETORT_PLUGIN(distill, RETORT_VERSION, kStages)
