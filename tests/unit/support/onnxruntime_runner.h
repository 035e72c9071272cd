// Runs ONNX models in ONNX Runtime for agreement tests against retort's engine.
//
// ONNX Runtime is not a Debian package; its Node.js build (npm package onnxruntime-node, CPU
// binaries inside) is installed into tests/ort by scripts/setup_node.sh. run_in_onnxruntime()
// writes the inputs to a scratch folder, runs `node tests/ort/run_model.js MANIFEST` (see that
// script for the file protocol: raw little-endian tensors named in JSON manifests) on one
// thread, and reads the outputs back. Node and the script's folder come from the compile
// definitions RETORT_NODE_EXECUTABLE and RETORT_ORT_DIR (tests/CMakeLists.txt).
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "retort/core/status.h"
#include "retort/core/tensor.h"

namespace retort::test_support {

struct OnnxRuntimeOptions {
  int threads = 1;                   // intra-op threads, 1 or 2 (1 is deterministic)
  std::string optimization = "all";  // ORT graph optimisation: disabled, basic, extended, all
};

// Runs the model at `model_path` on the named inputs and returns its graph outputs in the
// model's output order (float32, int64, int32, int8, uint8 or bool tensors, as ORT made them).
// Errors: kNotFound when Node or onnxruntime-node is missing (the message says how to install
// it); kUnsupported when ONNX Runtime fails to load the model and kInternal when it fails to
// run it, each carrying ONNX Runtime's own message; kIo for scratch-file failures.
Expected<std::vector<Tensor>> run_in_onnxruntime(
    const std::string& model_path, const std::vector<std::pair<std::string, Tensor>>& inputs,
    const OnnxRuntimeOptions& options = {});

// Largest |a - b| over two float32 tensors of the same shape; +infinity when the shapes or
// dtypes differ or either holds a NaN, so a comparison against a tolerance fails.
float max_abs_difference(const Tensor& a, const Tensor& b);

// Fraction of rows of two float32 [N, C] score tensors whose arg-max (the first one, on ties)
// is the same class; NaN when the shapes differ, are not 2-D or N is 0, so any comparison
// against a threshold fails.
double top1_agreement(const Tensor& a, const Tensor& b);

}  // namespace retort::test_support
