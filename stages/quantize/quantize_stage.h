// `quantize`: post-training quantization, quantization-aware training or quantization-aware
// distillation of a model into an int8 QDQ ONNX model (int8 weights, uint8/int8 activations),
// with the float32, fake-quantized and int8 results measured side by side. See
// docs/quantization.md and retort/quant/.
#pragma once

#include "retort/plugin/sdk.h"

namespace retort::stages {

extern const char* const kQuantizeSchema;

class QuantizeStage final : public plugin::Stage {
 public:
  Status run(plugin::StageContext& ctx) override;
  Status check(plugin::StageContext& ctx) override;
};

}  // namespace retort::stages
