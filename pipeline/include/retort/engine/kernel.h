// The contract between the training plan and one op's implementation.
//
// A kernel is created once per (node, input shapes) when a plan is compiled. The plan then
// allocates every buffer and calls bind(), where the kernel creates its oneDNN primitives and
// memory objects over those buffers (their addresses never change). forward()/backward() run
// every step and must not allocate or create primitives (see oneDNN's cnn_training_f32).
#pragma once

#include <map>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "oneapi/dnnl/dnnl.hpp"
#include "retort/core/status.h"
#include "retort/core/tensor.h"
#include "retort/graph/model.h"

namespace retort::engine {

// A float32 buffer owned by the plan (or an initializer of the model); stable address.
struct View {
  float* data = nullptr;
  Shape shape;
  int64_t numel() const { return shape_numel(shape); }
  explicit operator bool() const { return data != nullptr; }
  std::span<float> span() const { return {data, static_cast<size_t>(numel())}; }
};

// What a kernel's factory sees at plan compile time.
struct KernelContext {
  const Node& node;
  std::vector<Shape> input_shapes;       // one per node input; {} for an omitted optional input
  std::vector<const Tensor*> constants;  // per input: the initializer if it is one, else nullptr
  dnnl::engine& engine;
  dnnl::stream& stream;
  uint64_t seed = 0;  // for stochastic ops (Dropout)
  // The model's metadata (e.g. kQuantizationKey: bit ranges and observers of QuantizeLinear).
  const std::map<std::string, std::string>* metadata = nullptr;
  // PlanOptions::constant_weights: initializers keep their values while the plan lives, so a
  // kernel may pack them once in bind() instead of reading them on every forward.
  bool constant_weights = false;
};

// Buffers handed to bind(). Gradient views are null where no gradient is needed.
struct Bindings {
  std::vector<View> inputs;
  std::vector<View> outputs;
  std::vector<View> input_grads;   // backward() overwrites each non-null one
  std::vector<View> output_grads;  // read by backward(); null if nothing depends on that output
};

class Kernel {
 public:
  virtual ~Kernel() = default;
  // Output shapes, known from the constructor on.
  virtual std::vector<Shape> output_shapes() const = 0;
  // Whether input i can carry a gradient at all (Reshape's shape input cannot).
  virtual bool differentiable_input(size_t i) const {
    (void)i;
    return true;
  }
  // Inputs the kernel needs as float32 runtime buffers (others it reads from ctx.constants).
  virtual bool runtime_input(size_t i) const {
    (void)i;
    return true;
  }
  // Create primitives and memory objects over the plan's buffers. Called once.
  virtual Status bind(const Bindings& b) = 0;
  virtual void forward(bool training) = 0;
  virtual void backward() = 0;
};

using KernelFactory = Expected<std::unique_ptr<Kernel>> (*)(const KernelContext&);

// The kernel factory of an ONNX op type, or an error naming the node and listing what is
// supported.
Expected<KernelFactory> find_kernel_factory(const Node& node);
std::vector<std::string> supported_ops();

}  // namespace retort::engine
