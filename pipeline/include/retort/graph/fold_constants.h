// Load-time folding of the shape arithmetic that exporters emit, and the light shape
// propagation it needs.
//
// torch.onnx.export turns `x.view(x.size(0), -1)` into Shape -> Gather -> Unsqueeze ->
// Concat -> Reshape. With a symbolic batch the shape is not a constant, but it is known up to
// the batch: fold_constants rewrites it into one Reshape with a constant shape, where a
// symbolic entry becomes 0 ("copy the input's dim", allowzero = 0) when it is the input's dim
// at the same position, or -1 when it is the only unknown entry.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "retort/core/status.h"
#include "retort/graph/model.h"

namespace retort {

// Folds, on integer (int64/int32) shape-like tensors: Constant (any dtype, becomes an
// initializer), Identity of a constant, Shape, Gather, Unsqueeze, Squeeze, Concat, Cast,
// Slice, Add/Sub/Mul/Div, ConstantOfShape. Float computation is never folded. Then removes
// nodes whose outputs nothing reads and initializers that nothing reads. The graph must be
// topologically sorted. Fails, naming the node, when a Reshape's shape depends on symbolic
// dims in a way that cannot be expressed with 0 and -1.
Status fold_constants(Model& model);

// Shapes of the graph's values as far as they follow from the graph inputs and initializers
// through the supported op set (Gemm, MatMul, Add/Sub/Mul/Div, Relu, Conv, MaxPool,
// AveragePool, GlobalAveragePool, Pad, BatchNormalization, Flatten, Reshape, Softmax,
// LogSoftmax, Dropout, Identity, Concat and the shape ops above). Symbolic dims keep their
// name ("batch"); derived ones get a descriptive name ("batch*784"). Values whose shape is
// unknown are absent. The graph must be topologically sorted.
std::map<std::string, std::vector<Dim>> infer_shapes(const Graph& graph);

}  // namespace retort
