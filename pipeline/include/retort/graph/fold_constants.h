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
// nodes whose outputs nothing reads and initializers that nothing reads. Float tensors that
// were Constant nodes are listed as constants (kConstantsKey) unless an operator reads them as
// a weight (is_operator_weight). The graph must be
// topologically sorted. Fails, naming the node, when a Reshape's shape depends on symbolic
// dims in a way that cannot be expressed with 0 and -1.
Status fold_constants(Model& model);

// A model exported with a fixed batch (torch.onnx.export without dynamic_axes, the default).
struct FixedBatch {
  int64_t batch = 0;     // the graph inputs' fixed first dim; 0 when the batch is not fixed
  std::string conflict;  // why that batch cannot be made symbolic; empty when it can
};

// Whether every graph input of rank >= 2 has the same fixed first dim B (none a symbolic one),
// and if so whether B can be made symbolic: the batch followed through the graph as a symbol
// must reach every graph output's first axis, never meet a fixed size in an operand it
// broadcasts or concatenates with (an Expand of a class token to [B, 1, d]), and each Reshape
// to a constant shape must keep it in one axis ([B, 784] becomes [-1, 784]). Ops whose shapes
// the analysis does not follow count as conflicts.
FixedBatch analyze_fixed_batch(const Model& model);

// Makes a fixed batch symbolic ("batch") when analyze_fixed_batch finds no conflict: the graph
// inputs' and outputs' first dims, the Reshapes' constant shapes, no value_info annotations.
// Returns whether it rewrote the model. load_onnx calls it, so a model exported for batch 1
// runs at any batch.
bool make_batch_symbolic(Model& model);

// Shapes of the graph's values as far as they follow from the graph inputs and initializers
// through the supported op set (Gemm, MatMul, Add/Sub/Mul/Div, Relu, Conv, MaxPool,
// AveragePool, GlobalAveragePool, Pad, BatchNormalization, Flatten, Reshape, Softmax,
// LogSoftmax, Dropout, Identity, Concat and the shape ops above). Symbolic dims keep their
// name ("batch"); derived ones get a descriptive name ("batch*784"). Values whose shape is
// unknown are absent. The graph must be topologically sorted.
std::map<std::string, std::vector<Dim>> infer_shapes(const Graph& graph);

}  // namespace retort
