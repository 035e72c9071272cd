// Post-training quantization, quantization-aware training and quantization-aware distillation
// of a float32 model into a QDQ model (see qdq_graph.h):
//
//   ptq  fold batch norm, calibrate activation ranges on a slice of the training data with an
//        observer (minmax, ema, percentile, mse), quantize the weights (minmax or mse,
//        per channel or per tensor)
//   qat  ptq as the starting point, then training through the fake quantization: straight-
//        through gradients, weight scales following the weights, activation ranges tracked by
//        a moving average until they are frozen (or LSQ: scales learned)
//   qad  qat whose loss is distillation from one or more float32 teachers
//
// The result is in the training form (float32 weights behind QuantizeLinear); to_int8_weights
// turns it into the export form.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "nlohmann/json.hpp"
#include "retort/core/status.h"
#include "retort/data/dataset.h"
#include "retort/engine/trainer.h"
#include "retort/graph/model.h"
#include "retort/prune/pruning.h"
#include "retort/quant/batch_norm_folding.h"
#include "retort/quant/observers.h"
#include "retort/quant/qdq_graph.h"

namespace retort::quant {

enum class QuantMode { kPtq, kQat, kQad };
// When batch norm is folded into the preceding conv: before quantizing (its running statistics
// frozen into the weights), during QAT (batch statistics keep adapting to the quantized
// weights for the first `freeze_bn_epochs`, then they are frozen and folded, the pair's
// scales following), or never.
enum class BatchNormFold { kBefore, kDuring, kOff };
const char* mode_name(QuantMode mode);

struct QuantizeOptions {
  QuantMode mode = QuantMode::kQat;
  QuantizeSpec spec;
  RangeObserver::Options activation_observer;  // calibration of activation ranges
  ObserverKind weight_observer = ObserverKind::kMinMax;
  int64_t calibration_images = 1024;  // the first images of the training data
  int64_t calibration_batch = 256;
  BatchNormFold fold_batch_norm = BatchNormFold::kBefore;
  std::optional<int> freeze_bn_epochs;  // kDuring: default half of the epochs (at least 1)
  bool learn_scales = false;            // LSQ
  float observer_momentum = 0.01f;
  std::optional<int64_t> freeze_observers_step;  // default: half of the training steps
  prune::FineTune fine_tune;  // qat/qad: the training loop (+ teachers and terms for qad)
};

struct QuantizeSummary {
  BatchNormFolding folding;
  QuantizationPlan plan;
  int64_t calibration_images = 0;
  std::optional<engine::TrainSummary> train;
  int64_t freeze_observers_step = -1;
  int freeze_bn_epochs = 0;  // kDuring: epochs trained with batch statistics before folding
};

// Observes the plan's activation values on `calibration` (float32 `model`, inference mode) and
// fills their scales and zero points. Fails on an empty calibration set.
Status calibrate_activations(Model& model, QuantizationPlan& plan, const data::Dataset& calibration,
                             const RangeObserver::Options& observer, int64_t batch = 256);

// Quantizes `model` in place (training form). `train` provides the calibration slice and, for
// qat/qad, the training data.
Expected<QuantizeSummary> quantize_model(Model& model, const data::Dataset& train,
                                         const QuantizeOptions& options);

// The JSON-schema properties of the quantize stage's quantization keys (no braces).
// clang-format off
#define RETORT_QUANTIZE_PROPERTIES \
  R"json("mode": {"type": "string", "enum": ["ptq", "qat", "qad"], "default": "qat",)json" \
  R"json(  "description": "ptq: calibrate only; qat: train through fake quantization; qad: qat distilled from the teacher input"},)json" \
  R"json("weight_bits": {"type": "integer", "default": 8, "description": "2..8, signed symmetric codes"},)json" \
  R"json("activation_bits": {"type": "integer", "default": 8, "description": "2..8"},)json" \
  R"json("per_channel": {"type": "boolean", "default": true, "description": "one weight scale per output channel (false: per tensor)"},)json" \
  R"json("activation_type": {"type": "string", "enum": ["uint8", "int8"], "default": "uint8", "description": "activation codes, asymmetric per tensor"},)json" \
  R"json("observer": {"type": "string", "enum": ["minmax", "ema", "percentile", "mse"], "default": "minmax", "description": "how calibration picks activation ranges"},)json" \
  R"json("percentile": {"type": "number", "exclusiveMinimum": 50, "maximum": 100, "default": 99.99},)json" \
  R"json("weight_observer": {"type": "string", "enum": ["minmax", "mse"], "default": "minmax"},)json" \
  R"json("calibration_images": {"type": "integer", "minimum": 1, "default": 1024, "description": "the first images of the training data"},)json" \
  R"json("ops": {"type": "array", "items": {"type": "string"}, "default": ["Conv", "Gemm", "MatMul"], "description": "op types to quantize; ops without an int8 path stay float32 and the metrics say so"},)json" \
  R"json("exclude": {"type": "array", "items": {"type": "string"}, "default": [], "description": "node names to keep in float32"},)json" \
  R"json("fold_batch_norm": {"type": "string", "enum": ["before", "during", "off"], "default": "before", "description": "fold BatchNormalization into the preceding Conv before quantizing, or during QAT after freeze_bn_epochs (statistics then frozen), or not at all"},)json" \
  R"json("freeze_bn_epochs": {"type": "integer", "minimum": 1, "description": "fold_batch_norm during: epochs of QAT with batch-norm statistics still moving (default: half the epochs)"},)json" \
  R"json("learn_scales": {"type": "boolean", "default": false, "description": "qat/qad: learn the scales (LSQ, Esser et al. 2020) instead of observing ranges"},)json" \
  R"json("observer_momentum": {"type": "number", "exclusiveMinimum": 0, "maximum": 1, "default": 0.01, "description": "qat/qad: moving-average momentum of activation ranges"},)json" \
  R"json("freeze_observers_step": {"type": "integer", "minimum": -1, "description": "qat/qad: training step after which activation ranges stop moving (default: half of the steps; -1: never)"})json"
// clang-format on

// Reads the keys above (`where` is their JSON path for messages); training and distillation
// terms are the caller's.
Expected<QuantizeOptions> parse_quantize_options(const nlohmann::json& params,
                                                 const std::string& where);

}  // namespace retort::quant
