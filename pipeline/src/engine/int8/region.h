// Internal to the int8 lowering: the graph pass (lowering.cpp) turns maximal QDQ regions into
// one node each, described by a Region; region_kernel.cpp runs a Region on oneDNN int8
// primitives over its own u8/s8 buffers, so activations stay quantized between layers.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "retort/engine/int8_lowering.h"
#include "retort/engine/kernel.h"
#include "retort/graph/model.h"

namespace retort::engine::int8 {

inline constexpr const char* kRegionOp = "Int8Region";
inline constexpr const char* kRegionDomain = "retort.int8";

// Scalar (per-tensor) quantization of an activation: q = clamp(round(x / scale) + zp).
struct QuantParams {
  float scale = 1.0f;
  int32_t zero_point = 0;
  bool is_signed = false;  // s8 codes, else u8
  int32_t qmin = 0, qmax = 255;
  bool same_grid(const QuantParams& o) const {
    return scale == o.scale && zero_point == o.zero_point && is_signed == o.is_signed;
  }
};

struct Step {
  enum class Kind { kQuantize, kConv, kInnerProduct, kMaxPool, kReshape, kDequantize };
  Kind kind = Kind::kQuantize;
  std::string node;  // the ONNX node this step came from (named in errors)
  int src = -1;      // quantized tensor read (kQuantize: index into Region::inputs)
  int dst = -1;      // quantized tensor written, or index into Region::outputs if dst_float
  bool dst_float = false;

  Node op;  // kConv, kMaxPool: window attributes; kReshape: Flatten axis or Reshape attributes
  // kConv / kInnerProduct: s8 weights (Conv [O, I/g, k...], inner product [N, K]), one scale
  // per output channel, the float bias (empty: none), a fused Relu.
  Tensor weights;
  std::vector<float> weight_scales;
  std::vector<float> bias;
  bool relu = false;
  std::vector<int64_t> reshape_to;  // kReshape from a Reshape node: its constant shape input
  bool flatten = false;             // kReshape from Flatten
};

struct Region {
  std::vector<std::string> inputs;        // float32 plan values the region reads
  std::vector<std::string> outputs;       // float32 plan values it writes
  std::vector<QuantParams> tensors;       // quantized tensors, indexed by Step::src/dst
  std::vector<std::string> tensor_names;  // the QuantizeLinear output each one stands for
  std::vector<Step> steps;                // in execution order
};

struct Lowered {
  std::vector<Node> nodes;  // the graph's nodes with each region replaced by one node
  std::vector<std::shared_ptr<const Region>> regions;
  Int8Lowering report;
};

// Finds the QDQ patterns of `model` (topologically sorted) it can run in int8.
Expected<Lowered> lower(const Model& model);

// The index into Lowered::regions of a region node, or -1 for any other node.
int region_index(const Node& node);

Expected<std::unique_ptr<Kernel>> create_region_kernel(const KernelContext& ctx,
                                                       const Region& region);

}  // namespace retort::engine::int8
