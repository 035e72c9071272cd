// Reading and writing ONNX files. This header and onnx_io.cpp are the only places that know
// the ONNX protobuf; everything else works on retort::Model.
//
// Loading converts the ModelProto into the IR (nodes, every attribute kind, initializers,
// runtime inputs, outputs, value_info, symbolic dims, metadata), sorts the nodes
// topologically and folds the shape arithmetic that exporters emit (see fold_constants.h).
// Saving runs onnx::checker on the proto first and writes atomically (temporary file, then
// rename), so a rejected or interrupted save never leaves a file behind.
#pragma once

#include <string>
#include <string_view>

#include "retort/core/status.h"
#include "retort/core/tensor.h"
#include "retort/graph/model.h"

namespace retort {

// Oldest default-domain opset the loader accepts.
inline constexpr int64_t kMinOnnxOpset = 13;

struct OnnxLoadOptions {
  // Also accept a default-domain opset older than kMinOnnxOpset when no operator the model
  // uses changed definition between that opset and kMinOnnxOpset (checked against ONNX's
  // schema registry); the model is then read as opset kMinOnnxOpset. Off: such files fail.
  bool upgrade_unchanged_opset = false;
};

// Loads an ONNX model file. Errors name the file: missing file (kNotFound), not an ONNX
// protobuf or no graph (kParse), opset older than 13 or a tensor type the IR lacks
// (kUnsupported).
Expected<Model> load_onnx(const std::string& path, const OnnxLoadOptions& options = {});
// Same as load_onnx from bytes already in memory; `origin` names them in error messages.
Expected<Model> parse_onnx(std::string_view bytes, const std::string& origin,
                           const OnnxLoadOptions& options = {});

// Serializes the model (after onnx::checker accepts it).
Expected<std::string> serialize_onnx(const Model& model);
// Serializes, checks and writes `path` atomically (write_file_atomically: a temporary of a
// unique name, then a rename), so concurrent saves to one path each succeed.
Status save_onnx(const Model& model, const std::string& path);

// A single TensorProto file, as the ONNX node tests store inputs and outputs
// (test_data_set_0/input_0.pb).
Expected<Tensor> load_tensor_pb(const std::string& path);
Status save_tensor_pb(const Tensor& tensor, const std::string& path);

}  // namespace retort
