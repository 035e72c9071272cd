// A compiled execution plan for one model at one batch size: every kernel, primitive and
// buffer is created in compile(); forward()/backward() only execute.
//
// Gradients: after forward(training=true) the gradient buffers of the graph outputs and of
// every value named in PlanOptions::grad_values are zero; the caller writes (or adds) the
// loss gradient there, then calls backward(). Parameter gradients are then in parameters().
// The plan reads and writes the model's initializers in place (weights, batch-norm running
// statistics): the Model must outlive the plan and keep its initializer tensors.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "retort/core/status.h"
#include "retort/engine/int8_lowering.h"
#include "retort/engine/kernel.h"
#include "retort/graph/model.h"

namespace retort::engine {

struct PlanOptions {
  int64_t batch = 1;      // value of the symbolic batch dimension
  bool backward = false;  // allocate gradients and backward kernels
  // Float initializers that get gradients. Empty: Model::learnable_parameters(). Use
  // frozen = true for a teacher (no parameter gradients).
  std::vector<std::string> trainable;
  bool frozen = false;
  // Values whose gradient the caller reads or injects into (e.g. distillation features).
  std::vector<std::string> grad_values;
  bool input_grads = false;  // also compute gradients of the graph inputs
  uint64_t seed = 0;         // Dropout masks
  // Inference only (backward = false): run QuantizeLinear/DequantizeLinear patterns around
  // Conv, Gemm and MatMul on oneDNN int8 primitives instead of simulating them in float32.
  // Weights are quantized when the plan is compiled, so use it only for plans whose weights
  // do not change while the plan lives (evaluation, speed measurement).
  bool lower_int8 = false;
  // Inference only (backward = false): the model's initializers do not change while the plan
  // lives (a frozen teacher), so Gemm and Conv pack their weights once, when the plan is
  // compiled, into the layout oneDNN runs fastest (Gemm weights stored [N, K], as PyTorch and
  // the arch builders store them, run about 20% slower than packed ones). Weights written after
  // compile() are not seen.
  bool constant_weights = false;
  // Time every kernel call (a steady-clock reading around each; see Plan::node_times()).
  bool profile = false;
  // Training plans and constant_weights plans only: run each Conv -> Relu [-> MaxPool] chain as
  // one kernel on oneDNN's blocked layouts, each Gemm -> Relu with the ReLU as a matmul
  // post-op, and each Sub -> Div [-> Flatten] by constants no gradient reaches (the input
  // normalisation) as one pass. The chain's inner values (the Conv/Gemm output, the Relu output
  // when a MaxPool follows, the Sub and Div outputs) then have no buffer: value() and grad()
  // refuse them. Values named in grad_values or keep_values, and graph outputs, are never
  // hidden. (Other inference plans keep every value: calibration, sparsity and channel-group
  // code read them.)
  bool fuse_chains = true;
  std::vector<std::string> keep_values;
  // Inference only (backward = false): a node's output takes a buffer that an earlier value no
  // longer needs (no later node reads it), so the plan holds only the values alive at one time
  // instead of every value of the graph (a chain of 5,000 ReLUs at batch 10,000: two 640 KB
  // buffers, not 3.2 GB). Only graph inputs and outputs and keep_values can then be read after
  // forward(); value() refuses the others. For evaluation and speed measurement.
  bool share_buffers = false;
};

// Time spent in one node's kernel since the plan was compiled (PlanOptions::profile).
struct NodeTime {
  std::string node;  // Node::describe()
  double forward_seconds = 0;
  double backward_seconds = 0;  // the kernel's backward plus summing its partial gradients
  int64_t forward_calls = 0;
  int64_t backward_calls = 0;
};

struct Parameter {
  std::string name;
  View value;  // the model's initializer
  View grad;
};

// Told during Plan::backward(observer) when a parameter's gradient is complete and no kernel
// reads the parameter any more in this backward, so it may be updated at once (while its
// gradient is still in cache; see Optimizer::backward_and_step).
class ParameterObserver {
 public:
  virtual ~ParameterObserver() = default;
  // `index` into Plan::parameters(); called once per parameter per backward.
  virtual void parameter_final(size_t index) = 0;
};

// The batch a plan of `model` runs at: the model's fixed batch when it has one (an export for
// one batch whose batch could not be made symbolic; PlanOptions::batch sets symbolic dims
// only), else `wanted`. Code that feeds a plan batches of its own size checks the model first
// (engine::check_fixed_batch) or uses this batch.
int64_t runnable_batch(const Model& model, int64_t wanted);

class Plan {
 public:
  static Expected<std::unique_ptr<Plan>> compile(Model& model, const PlanOptions& options);
  ~Plan();
  Plan(const Plan&) = delete;
  Plan& operator=(const Plan&) = delete;

  // Buffer of a named value (graph inputs are written here before forward()).
  Expected<View> value(const std::string& name) const;
  // Gradient buffer of a named value; an error if the value carries no gradient.
  Expected<View> grad(const std::string& name) const;
  View input(size_t i = 0) const;   // i-th graph input
  View output(size_t i = 0) const;  // i-th graph output
  View output_grad(size_t i = 0) const;
  const std::vector<Parameter>& parameters() const;
  int64_t batch() const;
  // What PlanOptions::lower_int8 lowered (empty when it was off).
  const Int8Lowering& int8_lowering() const;
  // One entry per node in execution order; empty unless compiled with PlanOptions::profile.
  const std::vector<NodeTime>& node_times() const;

  void forward(bool training);
  void backward();
  // The same backward, telling `observer` as soon as each parameter is final.
  void backward(ParameterObserver& observer);

 private:
  struct Impl;
  explicit Plan(std::unique_ptr<Impl> impl);
  void backward(ParameterObserver* observer);
  std::unique_ptr<Impl> impl_;
};

}  // namespace retort::engine
