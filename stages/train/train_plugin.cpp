// The "train" plugin: stage types that produce a model from scratch or from outside.
#include "import_stage.h"
#include "train_stage.h"

namespace {

using retort::plugin::stage_desc;

const retort_port_desc kTrainInputs[] = {
    {"model", RETORT_PORT_MODEL, 0, 0,
     "the model to train: a recipe architecture or a model artifact"}};
const retort_port_desc kImportInputs[] = {
    {"model", RETORT_PORT_MODEL, 0, 0,
     "an ONNX file named in the recipe's models ({\"onnx\": path})"}};
const retort_port_desc kModelOutputs[] = {
    {"model", RETORT_PORT_MODEL, 0, 0, "the resulting model"},
    {"metrics", RETORT_PORT_METRICS, 0, 0, "test accuracy and loss"}};

const retort_stage_desc kStages[] = {
    stage_desc<retort::stages::TrainStage>(
        "train", "train a model on the recipe's data (cross-entropy)", retort::stages::kTrainSchema,
        kTrainInputs, kModelOutputs),
    stage_desc<retort::stages::ImportStage>(
        "import", "import an ONNX model, bake its input convention in, check it runs",
        retort::stages::kImportSchema, kImportInputs, kModelOutputs),
};

}  // namespace

RETORT_PLUGIN(train, RETORT_VERSION, kStages)
