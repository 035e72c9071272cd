// Appends layers to a Model's graph with stable, readable names and initialised weights.
//
// Naming: a layer called "conv1" is a node "conv1" whose output value is also "conv1" (so
// features can be read by layer name), with initializers "conv1.weight" and "conv1.bias".
// BatchNormalization "x.bn" has "x.bn.scale", "x.bn.bias", "x.bn.mean", "x.bn.var".
// The builder tracks each value's per-sample shape ({C, H, W} or {F}); the batch dimension
// is the symbolic "N". Layers that can fail on a shape (a kernel larger than its input)
// return an error that names the layer and the shapes.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "retort/core/status.h"
#include "retort/core/tensor.h"
#include "retort/engine/init.h"
#include "retort/graph/model.h"

namespace retort::arch {

// Name of the symbolic batch dimension of graph inputs and outputs.
inline constexpr const char* kBatchDim = "N";

struct ConvOptions {
  int64_t out_channels = 0;
  int64_t kernel = 3;  // square kernel
  int64_t stride = 1;
  std::array<int64_t, 4> pads{};  // ONNX order: top, left, bottom, right
  bool bias = true;               // off when a BatchNormalization follows
};

// Explicit pads that give ceil(size / stride) outputs (ONNX SAME_UPPER: the extra pad goes to
// the end). For stride 1 and an odd kernel k that is k/2 on every side.
std::array<int64_t, 4> same_pads(int64_t height, int64_t width, int64_t kernel, int64_t stride);

class GraphBuilder {
 public:
  // `initialize` false leaves weights zero (validation builds skip the random draws).
  GraphBuilder(Model& model, engine::InitKind init, uint64_t seed, bool initialize = true);

  // Graph input [N, C, H, W]; returns its value name.
  std::string input(const std::string& name, const Shape& chw);
  // Declares `value` a graph output with dims [N, per-sample shape...].
  void output(const std::string& value);

  // Per-sample shape of a value the builder made.
  const Shape& shape(const std::string& value) const;

  // y = x - c and y = x / c with a constant of shape `constant.shape()` stored as initializer
  // `constant_name` (broadcast against [N, ...]).
  std::string sub_constant(const std::string& name, const std::string& x,
                           const std::string& constant_name, Tensor constant);
  std::string div_constant(const std::string& name, const std::string& x,
                           const std::string& constant_name, Tensor constant);

  Expected<std::string> conv(const std::string& name, const std::string& x,
                             const ConvOptions& options);
  std::string batch_norm(const std::string& name, const std::string& x);
  std::string relu(const std::string& name, const std::string& x);
  // Max pooling with a square window and stride `window`, no padding (floor).
  Expected<std::string> max_pool(const std::string& name, const std::string& x, int64_t window);
  std::string global_average_pool(const std::string& name, const std::string& x);
  std::string flatten(const std::string& name, const std::string& x);
  // Gemm y = x W^T + b with W [out, in] (transB = 1). The output value is `output_value` when
  // given (the classifier writes "logits"), else the node name.
  std::string gemm(const std::string& name, const std::string& x, int64_t out_features,
                   const std::string& output_value = "");
  // Dropout with its ratio as the opset-13 input: a scalar initializer "<name>.ratio".
  std::string dropout(const std::string& name, const std::string& x, double ratio);
  std::string add(const std::string& name, const std::string& a, const std::string& b);

  // Not OK when a weight did not fit this machine's memory (on its own or with the weights
  // before it): the graph is then incomplete (that weight and those after it are left empty).
  const Status& status() const { return status_; }

 private:
  Node& add_node(const std::string& name, const std::string& op_type,
                 std::vector<std::string> inputs, const std::string& output, const Shape& shape);
  void add_weight(const std::string& name, Shape shape);
  void add_constant(const std::string& name, Tensor value);

  Model& model_;
  engine::InitKind init_;
  uint64_t seed_;
  bool initialize_;
  std::map<std::string, Shape> shapes_;
  Status status_;
  uint64_t weight_bytes_ = 0;
};

}  // namespace retort::arch
