// The in-memory model: a small ONNX-shaped graph IR. Values are named; nodes reference
// them by name; initializers are the weights. Only graph/onnx_io.cpp knows protobuf.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "retort/core/status.h"
#include "retort/core/tensor.h"

namespace retort {

// A dimension is either a fixed size or a symbolic name ("batch").
struct Dim {
  int64_t value = -1;  // -1 when symbolic
  std::string param;   // symbolic name, empty when fixed
  static Dim fixed(int64_t v) { return {v, {}}; }
  static Dim symbolic(std::string name) { return {-1, std::move(name)}; }
  bool is_fixed() const { return value >= 0; }
  bool operator==(const Dim&) const = default;
};

struct ValueInfo {
  std::string name;
  DType dtype = DType::kFloat32;
  std::vector<Dim> dims;
  bool operator==(const ValueInfo&) const = default;
  // Concrete shape with symbolic dims replaced by `batch` (the engine's one free dim).
  Shape concrete_shape(int64_t batch) const;
};

struct Attribute {
  enum class Kind { kInt, kFloat, kString, kInts, kFloats, kStrings, kTensor };
  Kind kind = Kind::kInt;
  int64_t i = 0;
  float f = 0.0f;
  std::string s;
  std::vector<int64_t> ints;
  std::vector<float> floats;
  std::vector<std::string> strings;
  Tensor t;

  static Attribute of_int(int64_t v);
  static Attribute of_float(float v);
  static Attribute of_string(std::string v);
  static Attribute of_ints(std::vector<int64_t> v);
  static Attribute of_floats(std::vector<float> v);
  static Attribute of_tensor(Tensor v);
};

struct Node {
  std::string name;
  std::string op_type;
  std::string domain;               // "" is the default ONNX domain
  std::vector<std::string> inputs;  // "" marks an omitted optional input
  std::vector<std::string> outputs;
  std::map<std::string, Attribute> attributes;

  bool has_attr(const std::string& key) const { return attributes.count(key) != 0; }
  int64_t attr_int(const std::string& key, int64_t fallback) const;
  float attr_float(const std::string& key, float fallback) const;
  std::string attr_string(const std::string& key, const std::string& fallback) const;
  std::vector<int64_t> attr_ints(const std::string& key, std::vector<int64_t> fallback = {}) const;
  // Number of present (non-empty) inputs.
  size_t input_count() const;
  bool has_input(size_t i) const { return i < inputs.size() && !inputs[i].empty(); }
  // "node 'conv1' (Conv)" for error messages.
  std::string describe() const;
};

struct Graph {
  std::string name = "retort";
  std::vector<Node> nodes;        // topologically sorted after sort_topologically()
  std::vector<ValueInfo> inputs;  // runtime inputs only (initializers excluded)
  std::vector<ValueInfo> outputs;
  std::map<std::string, Tensor> initializers;
  std::vector<ValueInfo> value_infos;  // optional shape annotations of intermediates

  const Node* producer_of(const std::string& value) const;
  // The fixed first dim of the graph inputs of rank >= 2 (a model exported for one batch
  // whose batch could not be made symbolic, see make_batch_symbolic); nullopt when symbolic.
  std::optional<int64_t> fixed_batch() const;
  bool is_initializer(const std::string& value) const { return initializers.count(value) != 0; }
  // Sorts nodes so that each comes after the producers of its inputs. Fails on a cycle or on
  // an input that nothing defines.
  Status sort_topologically();
  // A fresh value name with the given prefix that no node, input or initializer uses yet.
  std::string unique_name(const std::string& prefix) const;
};

// Metadata key: a JSON list of float initializers that are constants, never trained: the
// baked-in normalisation, what was a Constant node in the file, the import stage's "frozen".
inline constexpr const char* kConstantsKey = "retort.constants";
// Metadata key: a JSON list of float initializers that training updates although the input
// they feed is not a parameter input (the import stage's "trainable" patterns).
inline constexpr const char* kTrainableKey = "retort.trainable";
// Metadata key: a JSON object describing the QuantizeLinear nodes retort inserted, keyed by
// node name: {"qmin": -8, "qmax": 7, "observer": "none" | "minmax" | "ema", "momentum": 0.01,
// "freeze_step": -1}. qmin/qmax narrow the zero point type's range (bit widths below 8); the
// observer updates the node's scale and zero point in training-mode forwards (minmax: from
// this batch alone, the way weights are observed; ema: a moving average of batch ranges) until
// `freeze_step` training forwards have run (-1: never frozen). Nodes without an entry follow
// plain ONNX semantics.
inline constexpr const char* kQuantizationKey = "retort.quantization";

// Whether a float tensor read at `input` of `node` is a weight of a parameterised operator:
// Conv/ConvTranspose/Gemm/MatMul weights and biases, normalisation scales and shifts, an
// embedding table (Gather's data), PRelu's slope, a QDQ scale (learned by LSQ, else listed
// constant by the quantizer). Such a tensor is trainable wherever it comes from.
bool is_operator_weight(const Node& node, size_t input);

// Whether a float initializer read at `input` of `node` is trainable by its role: an operator
// weight, or an operand of Add, Mul or Concat, or the data of a data-movement op (a MatMul's
// bias, a decomposed layer norm's scale and shift, a position embedding, a class token through
// Expand). Not: Sub/Div/Pow operands, shapes, axes, indices, pads, clip bounds, running
// statistics, ratios. The loader lists the operands that were Constant nodes in the file as
// constants (kConstantsKey): PyTorch exports Python numbers (x * 0.5, (x - mean) / std) so.
bool is_parameter_input(const Node& node, size_t input);

struct Model {
  Graph graph;
  int64_t ir_version = 8;
  int64_t opset = 13;
  std::string producer_name = "retort";
  std::string producer_version = RETORT_VERSION;
  std::map<std::string, std::string> metadata;  // class names, input convention, ...

  // Float initializers that training updates, sorted: those some node reads at a parameter
  // input (is_parameter_input: weights and biases, normalisation scales and shifts, embedding
  // tables, Add/Mul operands such as a MatMul's bias), plus those kTrainableKey lists, minus
  // those kConstantsKey lists. Never the constant operands of Sub/Div/Pow, shapes, indices or
  // running statistics.
  std::vector<std::string> learnable_parameters() const;
  // The names a metadata key holding a JSON list of strings lists (kConstantsKey,
  // kTrainableKey); none when the key is absent or not such a list.
  std::set<std::string> listed(const char* key) const;
  // Adds names to such a list, each once, keeping its order.
  void add_listed(const char* key, const std::vector<std::string>& names);
  // Elements of learnable_parameters() plus the integer weight codes DequantizeLinear reads.
  int64_t parameter_count() const;
  int64_t nonzero_parameters() const;  // the non-zero ones of those
};

// The recipe's override of the trainable set (the import stage's "trainable" and "frozen"):
// name patterns with * and ? wildcards matched against the model's float initializers. Matches
// of `trainable` are trained whatever their role (and no longer listed constant); matches of
// `frozen` never are (frozen wins). A pattern that matches nothing is an error naming it by
// `where` + "/trainable/<i>" or "/frozen/<i>" and listing some of the names it could match.
Status override_trainable(Model& model, const std::vector<std::string>& trainable,
                          const std::vector<std::string>& frozen, const std::string& where);

}  // namespace retort
