// The "quantize" plugin: PTQ, QAT and QAD into int8 QDQ models.
#include "quantize_stage.h"

namespace {

using retort::plugin::stage_desc;

const retort_port_desc kInputs[] = {
    {"model", RETORT_PORT_MODEL, 0, 0, "the float32 model to quantize (a trained model artifact)"},
    {"teacher", RETORT_PORT_MODEL, 1, 1,
     "optional: one or more float32 teachers for mode qad (quantization-aware distillation)"}};
const retort_port_desc kOutputs[] = {
    {"model", RETORT_PORT_MODEL, 0, 0,
     "the int8 model: QDQ ONNX with int8 weight initializers, run by the engine on int8 kernels"},
    {"metrics", RETORT_PORT_METRICS, 0, 0,
     "float32, fake-quantized and int8 accuracy, file sizes, speed, what stayed float32 and why"}};

const retort_stage_desc kStages[] = {
    stage_desc<retort::stages::QuantizeStage>(
        "quantize", "quantize a model to int8 (post-training, QAT or QAD) with QDQ export",
        retort::stages::kQuantizeSchema, kInputs, kOutputs),
};

}  // namespace

RETORT_PLUGIN(quantize, RETORT_VERSION, kStages)
