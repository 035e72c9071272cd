// What Plan::compile lowered to oneDNN int8 primitives (PlanOptions::lower_int8), and why the
// QDQ-adjacent Conv/Gemm/MatMul nodes it left in float32 were not lowered.
#pragma once

#include <string>
#include <vector>

namespace retort::engine {

struct Int8Lowering {
  struct Skipped {
    std::string node;     // node name
    std::string op_type;  // Conv, Gemm or MatMul
    std::string reason;
  };
  // Original nodes that now run inside int8 regions, in graph order: the Conv/Gemm/MatMul
  // anchors, the bias Add, Relu, MaxPool, Flatten and Reshape nodes fused into them, and the
  // QuantizeLinear/DequantizeLinear nodes the regions absorbed.
  std::vector<std::string> lowered;
  std::vector<Skipped> skipped;
  int regions = 0;  // int8 regions (each one kernel over its own u8/s8 buffers)

  bool is_lowered(const std::string& node) const {
    for (const std::string& n : lowered)
      if (n == node) return true;
    return false;
  }
  // The reason `node` was not lowered, or "" when it was not reported as skipped.
  std::string reason(const std::string& node) const {
    for (const Skipped& s : skipped)
      if (s.node == node) return s.reason;
    return {};
  }
};

}  // namespace retort::engine
