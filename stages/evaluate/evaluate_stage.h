// `evaluate`: the metrics of any number of models on the recipe's test data: accuracy, loss,
// parameters, non-zero parameters, bytes on disk (raw and gzip), FLOPs, latency at batch 1
// (median, p99) and throughput at batch 128, with the thread count stated.
#pragma once

#include "retort/plugin/sdk.h"

namespace retort::stages {

extern const char* const kEvaluateSchema;

class EvaluateStage final : public plugin::Stage {
 public:
  Status run(plugin::StageContext& ctx) override;
};

// "teacher.model" for "<out>/teacher/model.onnx": how reports name an evaluated artifact.
std::string artifact_name(const std::string& path);

}  // namespace retort::stages
