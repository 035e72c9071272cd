// Quantization as graph rewrites, the ONNX way: QuantizeLinear/DequantizeLinear pairs on the
// weights and the activation inputs of Conv, Gemm and MatMul.
//
//   plan_quantization   decides what gets quantized (and says why the rest stays float32)
//   apply_quantization  inserts the pairs with the planned scales and zero points; during
//                       training they are fake quantization (engine/ops/quantize_linear.cpp)
//   to_int8_weights     the export form: each weight becomes an int8 initializer read by a
//                       DequantizeLinear, so the file holds one byte per weight
//
// Activations are quantized where a quantized op reads them. When that value comes out of a
// MaxPool, Flatten or Reshape whose input nothing else reads, the input gets a pair with the
// same scale too (ONNX Runtime's QDQ convention), so an int8 engine can run the whole chain on
// the quantized tensor.
#pragma once

#include <string>
#include <vector>

#include "retort/core/status.h"
#include "retort/graph/model.h"
#include "retort/quant/observers.h"

namespace retort::quant {

struct QuantizeSpec {
  int weight_bits = 8;      // 2..8, signed symmetric (narrow range: [-(2^(b-1)-1), 2^(b-1)-1])
  int activation_bits = 8;  // 2..8
  bool per_channel = true;  // one weight scale per output channel
  bool activation_signed = false;  // int8 instead of uint8 activation codes (asymmetric both)
  std::vector<std::string> op_types = {"Conv", "Gemm", "MatMul"};
  std::vector<std::string> exclude;  // node names kept in float32
};

// One weight to quantize: initializer `weight` of node `node`, its scales along `axis`.
struct WeightQuant {
  std::string node, weight;
  int64_t axis = 0;           // the output-channel axis of the weight tensor
  int64_t channels = 1;       // scales: 1 (per tensor) or the size along axis
  std::vector<float> scales;  // filled by compute_weight_qparams
};

// One activation value to quantize, with the upstream values that share its parameters.
struct ActivationQuant {
  std::string value;                  // read by the quantized node(s)
  std::vector<std::string> upstream;  // MaxPool/Flatten/Reshape inputs above it, nearest first
  std::string observed;               // the value calibration observes (the topmost)
  QParams qparams;                    // filled by calibration
};

struct SkippedNode {
  std::string node, op_type, reason;
};

struct QuantizationPlan {
  QuantizeSpec spec;
  std::vector<std::string> quantized;  // node names
  std::vector<SkippedNode> skipped;    // nodes of the requested op types kept in float32
  std::vector<WeightQuant> weights;
  std::vector<ActivationQuant> activations;
  CodeRange weight_range() const;
  CodeRange activation_range() const;
};

// Checks the spec (bit widths 2..8, exclusions that name real nodes) and decides what to
// quantize. Requested op types without an int8 path are listed in `skipped`, not errors.
Expected<QuantizationPlan> plan_quantization(const Model& model, const QuantizeSpec& spec);

// Per-channel (or per-tensor) symmetric weight scales from the current weights: the largest
// |w| (minmax) or the clipping with the least squared error (mse).
Status compute_weight_qparams(const Model& model, QuantizationPlan& plan, ObserverKind kind);

// How the inserted QuantizeLinear nodes behave in training-mode forwards (see
// kQuantizationKey in graph/model.h).
struct FakeQuantTraining {
  bool observe_activations = false;  // QAT: moving-average ranges until freeze_step
  float momentum = 0.01f;
  int64_t freeze_step = -1;
  bool observe_weights = false;  // QAT: weight scales follow the weights every step
  bool learn_scales = false;     // LSQ: scales are trained (observers off)
};

// Inserts the pairs. Names: "<value>.quant" / "<value>.dequant" nodes and values,
// "<value>.scale" and "<value>.zero_point" initializers. Scales and zero points are listed as
// constants (kConstantsKey) unless they are learned.
Status apply_quantization(Model& model, const QuantizationPlan& plan,
                          const FakeQuantTraining& training);

// Replaces every QuantizeLinear of a float32 initializer by the int8 codes it produces (its
// narrowed range honoured), read by the DequantizeLinear, and puts a Clip in front of each
// activation QuantizeLinear whose range is narrower than its code type (so plain ONNX
// semantics compute the same). Returns how many weights it converted. The model then computes
// exactly what it computed before.
Expected<int> to_int8_weights(Model& model);

}  // namespace retort::quant
