// `import`: takes an ONNX model from outside (e.g. torch.onnx.export), states its input
// convention, and makes it a retort model: it then takes raw [0,1] NCHW pixels, with the
// convention (scale, mean, std, flattening) baked in as its first nodes, and is checked to
// run on the recipe's data.
#pragma once

#include "retort/plugin/sdk.h"

namespace retort::stages {

extern const char* const kImportSchema;

class ImportStage final : public plugin::Stage {
 public:
  Status run(plugin::StageContext& ctx) override;
  Status check(plugin::StageContext& ctx) override;
};

}  // namespace retort::stages
