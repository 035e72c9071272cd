#include "retort/engine/plan.h"

#include <algorithm>
#include <cassert>
#include <chrono>
#include <cstring>
#include <deque>
#include <map>
#include <new>
#include <set>
#include <unordered_map>

#include "engine/chain_fusion.h"
#include "engine/int8/region.h"
#include "ops/ops.h"
#include "retort/core/checked_alloc.h"
#include "retort/engine/dnnl_util.h"

namespace retort::engine {
namespace {

constexpr int kNoValue = -1;

// One named float32 value of the graph: its buffer and, when it carries one, its gradient.
struct ValueSlot {
  std::string name;
  Tensor storage;  // owned buffer (empty for initializers, which live in the model)
  View view;
  Tensor grad_storage;
  View grad;  // null when the value carries no gradient
  bool requires_grad = false;
  bool external_grad = false;  // graph output or requested in grad_values: caller writes it
  bool accumulates = false;    // consumers write private slots that the plan sums in
  int grad_consumers = 0;
  bool shared = false;  // PlanOptions::share_buffers: its buffer serves other values too
};

// A consumer's private gradient for an accumulating input, added into the value after backward.
struct GradAccumulation {
  View partial;
  View total;
};

struct NodeStep {
  std::unique_ptr<Kernel> kernel;
  std::vector<int> inputs;  // value index per node input; kNoValue for constants/omitted
  std::vector<int> outputs;
  std::vector<Tensor> partial_storage;
  std::vector<GradAccumulation> accumulations;
  bool runs_backward = false;
  // Parameters (indices into Plan::parameters()) that no kernel reads or adds gradient to after
  // this node's backward: an observer may update them right away.
  std::vector<size_t> parameters_final;
};

View make_view(Tensor& t) {
  return View{t.data<float>(), t.shape()};
}

void add_into(const View& dst, const View& src) {
  float* __restrict d = dst.data;
  const float* __restrict s = src.data;
  const int64_t n = dst.numel();
#pragma omp parallel for simd if (n > (1 << 16))
  for (int64_t i = 0; i < n; ++i) d[i] += s[i];
}

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

void zero(const View& v) {
  std::memset(v.data, 0, static_cast<size_t>(v.numel()) * sizeof(float));
}

}  // namespace

struct Plan::Impl {
  PlanOptions options;
  dnnl::stream stream{cpu_engine()};
  std::vector<Node> nodes;             // the plan's own copy: kernels may refer to it
  std::deque<KernelContext> contexts;  // kept alive for kernels that hold on to them
  std::vector<ValueSlot> values;
  std::unordered_map<std::string, int> index;
  std::vector<NodeStep> steps;
  std::vector<int> graph_inputs, graph_outputs;
  std::vector<Parameter> parameters;
  std::vector<size_t> parameters_never_read;  // by a node that runs backward: told at the end
  std::vector<View> zero_on_forward;          // external gradients, reset by each training forward
  std::vector<View> zero_on_backward;         // internal accumulators
  std::vector<std::shared_ptr<const int8::Region>> int8_regions;  // region nodes' kernels
  Int8Lowering int8_report;
  std::vector<NodeTime> node_times;                  // PlanOptions::profile
  std::map<std::string, std::string> hidden_values;  // fused away -> the fused node's name
  std::vector<Tensor> shared_buffers;                // PlanOptions::share_buffers

  int add_value(const std::string& name) {
    index[name] = static_cast<int>(values.size());
    values.push_back(ValueSlot{});
    values.back().name = name;
    return static_cast<int>(values.size()) - 1;
  }
  int find(const std::string& name) const {
    auto it = index.find(name);
    return it == index.end() ? kNoValue : it->second;
  }
  Status not_found(const std::string& name) const {
    auto hidden = hidden_values.find(name);
    if (hidden != hidden_values.end())
      return make_error(ErrorCode::kNotFound, "value '", name,
                        "' has no buffer: it is inside node '", hidden->second,
                        "', which runs a chain (Conv/Gemm -> Relu [-> MaxPool] or Sub -> Div "
                        "[-> Flatten]) as one kernel in this plan. Name it in "
                        "PlanOptions::keep_values (or set fuse_chains = false) to read it");
    return make_error(ErrorCode::kNotFound, "the model has no float32 value named '", name, "'");
  }

  Status build(Model& model);
  // A float32 buffer of a shape taken from the model (and the batch): a hostile or corrupt
  // file can make it any size, so it is checked, and a failure names the value.
  Expected<Tensor> buffer(const Shape& shape, const std::string& what) const {
    auto t = allocate_tensor(DType::kFloat32, shape, what);
    if (t.ok()) return t;
    return make_error(t.status().code(), t.status().message(), " at batch ", options.batch,
                      "; the model's shapes are wrong or too large for this machine: check the "
                      "model, or use a smaller batch");
  }
  Status share_buffers();
};

// Gives each node output that is not a graph output or a keep_values value a buffer from a
// pool, in step order: a buffer goes back to the pool after the last step that reads its value,
// and a step takes its outputs' buffers before it gives back its inputs', so no kernel reads
// and writes one buffer.
Status Plan::Impl::share_buffers() {
  std::vector<bool> own(values.size(), false);
  for (int v : graph_outputs) own[v] = true;
  for (const std::string& name : options.keep_values)
    if (const int v = find(name); v != kNoValue) own[v] = true;
  std::vector<size_t> last_reader(values.size(), 0);
  for (size_t n = 0; n < steps.size(); ++n)
    for (int v : steps[n].inputs)
      if (v != kNoValue) last_reader[v] = n;
  std::multimap<int64_t, size_t> free;  // capacity in floats -> index into shared_buffers
  std::vector<int64_t> buffer_of(values.size(), -1);
  for (size_t n = 0; n < steps.size(); ++n) {
    for (int v : steps[n].outputs) {
      if (v == kNoValue) continue;
      ValueSlot& slot = values[v];
      const int64_t need = shape_numel(slot.view.shape);
      if (own[v] || need == 0) {
        RETORT_ASSIGN_OR_RETURN(slot.storage, buffer(slot.view.shape, "value '" + slot.name + "'"));
        slot.view = make_view(slot.storage);
        continue;
      }
      size_t b = shared_buffers.size();
      if (auto fit = free.lower_bound(need); fit != free.end()) {
        b = fit->second;
        free.erase(fit);
      } else {
        RETORT_ASSIGN_OR_RETURN(Tensor shared, buffer(Shape{need}, "value '" + slot.name + "'"));
        shared_buffers.push_back(std::move(shared));
      }
      buffer_of[v] = static_cast<int64_t>(b);
      slot.view.data = shared_buffers[b].data<float>();
      slot.shared = true;
    }
    auto release = [&](int v) {
      if (v == kNoValue || buffer_of[v] < 0 || last_reader[v] > n) return;
      const auto b = static_cast<size_t>(buffer_of[v]);
      free.emplace(shared_buffers[b].numel(), b);
      buffer_of[v] = -1;
    };
    for (int v : steps[n].inputs) release(v);
    for (int v : steps[n].outputs) release(v);  // outputs nothing reads
  }
  return Status::Ok();
}

Status Plan::Impl::build(Model& model) {
  Graph& graph = model.graph;
  RETORT_RETURN_IF_ERROR(graph.sort_topologically());
  if (options.batch <= 0)
    return make_error(ErrorCode::kInvalidArgument, "plan batch size must be positive, got ",
                      options.batch);

  for (const ValueInfo& in : graph.inputs) {
    if (in.dtype != DType::kFloat32)
      return make_error(ErrorCode::kUnsupported, "graph input '", in.name, "' has dtype ",
                        dtype_name(in.dtype), "; the engine runs float32 inputs only");
    int v = add_value(in.name);
    RETORT_ASSIGN_OR_RETURN(values[v].storage, buffer(in.concrete_shape(options.batch),
                                                      "graph input '" + in.name + "'"));
    values[v].view = make_view(values[v].storage);
    graph_inputs.push_back(v);
  }
  for (auto& [name, tensor] : graph.initializers) {
    if (tensor.dtype() != DType::kFloat32 || find(name) != kNoValue) continue;
    int v = add_value(name);
    values[v].view = make_view(tensor);  // in place: training updates the model's weights
  }

  // The parameters a training plan trains (checked once the values exist, below).
  std::set<std::string> trainable;
  if (options.backward) {
    const std::vector<std::string> names =
        options.trainable.empty() ? model.learnable_parameters() : options.trainable;
    trainable.insert(names.begin(), names.end());
  }

  // Create every kernel; this is where shapes are inferred and attributes validated.
  nodes = graph.nodes;
  if (options.constant_weights && options.backward)
    return make_error(ErrorCode::kInvalidArgument,
                      "constant_weights is for inference plans only (backward must be off): a "
                      "training plan changes its weights every step");
  if (options.share_buffers && options.backward)
    return make_error(ErrorCode::kInvalidArgument,
                      "share_buffers is for inference plans only (backward must be off): "
                      "backward reads every value forward wrote");
  if (options.lower_int8) {
    if (options.backward)
      return make_error(ErrorCode::kInvalidArgument,
                        "lower_int8 is for inference plans only (backward must be off)");
    RETORT_ASSIGN_OR_RETURN(int8::Lowered lowered, int8::lower(model));
    nodes = std::move(lowered.nodes);
    int8_regions = std::move(lowered.regions);
    int8_report = std::move(lowered.report);
  } else if ((options.backward || options.constant_weights) && options.fuse_chains) {
    std::set<std::string> keep(options.grad_values.begin(), options.grad_values.end());
    keep.insert(options.keep_values.begin(), options.keep_values.end());
    for (const ValueInfo& out : graph.outputs) keep.insert(out.name);
    // Initializers no gradient reaches in this plan.
    std::set<std::string> frozen;
    for (const auto& [name, tensor] : graph.initializers)
      if (options.frozen || !trainable.count(name)) frozen.insert(name);
    fusion::FusedChains fused = fusion::fuse_chains(nodes, keep, frozen);
    nodes = std::move(fused.nodes);
    hidden_values = std::move(fused.hidden_values);
  }
  steps.resize(nodes.size());
  uint64_t node_seed = options.seed * 0x9E3779B97F4A7C15ULL + 1;
  for (size_t n = 0; n < nodes.size(); ++n) {
    const Node& node = nodes[n];
    std::vector<Shape> shapes;
    std::vector<const Tensor*> constants;
    NodeStep& step = steps[n];
    for (const std::string& in : node.inputs) {
      auto init = graph.initializers.find(in);
      const Tensor* constant = init == graph.initializers.end() ? nullptr : &init->second;
      int v = in.empty() ? kNoValue : find(in);
      if (!in.empty() && v == kNoValue && constant == nullptr)
        return make_error(ErrorCode::kInvalidArgument, node.describe(), ": input '", in,
                          "' is not a float32 value the engine computes (non-float tensors are "
                          "only supported as initializers)");
      shapes.push_back(v != kNoValue ? values[v].view.shape
                       : constant    ? constant->shape()
                                     : Shape{});
      constants.push_back(constant);
      step.inputs.push_back(v);
    }
    contexts.push_back(KernelContext{node, std::move(shapes), std::move(constants), cpu_engine(),
                                     stream, node_seed + n * 0xBF58476D1CE4E5B9ULL, &model.metadata,
                                     options.constant_weights});
    if (const int region = int8::region_index(node); region >= 0) {
      RETORT_ASSIGN_OR_RETURN(step.kernel,
                              int8::create_region_kernel(contexts.back(), *int8_regions[region]));
    } else if (fusion::is_fused_conv(node)) {
      RETORT_ASSIGN_OR_RETURN(step.kernel, create_conv_kernel(contexts.back()));
    } else if (fusion::is_fused_gemm(node)) {
      RETORT_ASSIGN_OR_RETURN(step.kernel, create_gemm_kernel(contexts.back()));
    } else if (fusion::is_fused_normalize(node)) {
      RETORT_ASSIGN_OR_RETURN(step.kernel, create_normalize_kernel(contexts.back()));
    } else {
      RETORT_ASSIGN_OR_RETURN(KernelFactory factory, find_kernel_factory(node));
      RETORT_ASSIGN_OR_RETURN(step.kernel, factory(contexts.back()));
    }
    for (size_t i = 0; i < node.inputs.size(); ++i) {
      if (step.inputs[i] == kNoValue && !node.inputs[i].empty() && step.kernel->runtime_input(i))
        return make_error(ErrorCode::kUnsupported, node.describe(), ": input ", i, " ('",
                          node.inputs[i], "') must be a float32 tensor");
    }
    std::vector<Shape> out_shapes = step.kernel->output_shapes();
    for (size_t o = 0; o < node.outputs.size(); ++o) {
      const std::string& out = node.outputs[o];
      if (out.empty()) {
        step.outputs.push_back(kNoValue);
        continue;
      }
      if (find(out) != kNoValue)
        return make_error(ErrorCode::kInvalidArgument, node.describe(), ": output '", out,
                          "' is already defined by another node, input or initializer");
      if (o >= out_shapes.size())
        return make_error(ErrorCode::kUnsupported, node.describe(), ": output ", o, " ('", out,
                          "') is not supported by the engine");
      int v = add_value(out);
      if (options.share_buffers) {
        values[v].view = View{nullptr, out_shapes[o]};  // share_buffers() gives it one
      } else {
        RETORT_ASSIGN_OR_RETURN(values[v].storage,
                                buffer(out_shapes[o], node.describe() + ": output '" + out + "'"));
        values[v].view = make_view(values[v].storage);
      }
      step.outputs.push_back(v);
    }
  }
  for (const ValueInfo& out : graph.outputs) {
    int v = find(out.name);
    if (v == kNoValue)
      return make_error(ErrorCode::kInvalidArgument, "graph output '", out.name,
                        "' is never computed");
    graph_outputs.push_back(v);
  }
  for (const std::string& name : options.keep_values)
    if (find(name) == kNoValue && !hidden_values.count(name))
      return make_error(ErrorCode::kNotFound, "PlanOptions::keep_values names '", name,
                        "', which the model does not have");
  if (options.share_buffers) RETORT_RETURN_IF_ERROR(share_buffers());

  if (options.backward) {
    // Which values carry gradients: trainable parameters (and inputs on request), then forward.
    for (const std::string& name : trainable) {
      auto it = graph.initializers.find(name);
      if (it == graph.initializers.end() || it->second.dtype() != DType::kFloat32)
        return make_error(ErrorCode::kNotFound, "trainable parameter '", name,
                          "' is not a float32 initializer of the model");
    }
    for (auto& [name, tensor] : graph.initializers) {
      int v = find(name);
      if (v == kNoValue || options.frozen) continue;
      if (trainable.count(name)) values[v].requires_grad = true;
    }
    if (options.input_grads)
      for (int v : graph_inputs) values[v].requires_grad = true;
    // A parameter only counts when it reaches a differentiable input (not BN running stats).
    std::vector<bool> used_as_differentiable(values.size(), false);
    for (NodeStep& step : steps) {
      bool any = false;
      for (size_t i = 0; i < step.inputs.size(); ++i) {
        int v = step.inputs[i];
        if (v == kNoValue || !step.kernel->differentiable_input(i)) continue;
        used_as_differentiable[v] = true;
        any = any || values[v].requires_grad;
      }
      for (int v : step.outputs)
        if (v != kNoValue) values[v].requires_grad = any;
    }
    for (auto& [name, tensor] : graph.initializers) {
      int v = find(name);
      if (v != kNoValue && !used_as_differentiable[v]) values[v].requires_grad = false;
    }
    for (const std::string& name : options.grad_values) {
      int v = find(name);
      if (v == kNoValue)
        return make_error(ErrorCode::kNotFound, "gradient requested for value '", name,
                          "', which the model does not have");
      if (!values[v].requires_grad)
        return make_error(ErrorCode::kInvalidArgument, "gradient requested for value '", name,
                          "', which does not depend on any trainable parameter");
      values[v].external_grad = true;
    }
    for (int v : graph_outputs) values[v].external_grad = values[v].requires_grad;
    for (NodeStep& step : steps)
      for (size_t i = 0; i < step.inputs.size(); ++i) {
        int v = step.inputs[i];
        if (v != kNoValue && values[v].requires_grad && step.kernel->differentiable_input(i))
          ++values[v].grad_consumers;
      }
    for (ValueSlot& slot : values) {
      if (!slot.requires_grad) continue;
      RETORT_ASSIGN_OR_RETURN(slot.grad_storage,
                              buffer(slot.view.shape, "the gradient of '" + slot.name + "'"));
      slot.grad = make_view(slot.grad_storage);
      slot.accumulates = slot.grad_consumers + (slot.external_grad ? 1 : 0) > 1;
      if (slot.external_grad)
        zero_on_forward.push_back(slot.grad);
      else if (slot.accumulates)
        zero_on_backward.push_back(slot.grad);
    }
    for (auto& [name, tensor] : graph.initializers) {
      int v = find(name);
      if (v != kNoValue && values[v].requires_grad)
        parameters.push_back(Parameter{name, values[v].view, values[v].grad});
    }
  }

  // Bind: hand each kernel its buffers, once.
  for (size_t n = 0; n < steps.size(); ++n) {
    NodeStep& step = steps[n];
    Bindings b;
    for (size_t i = 0; i < step.inputs.size(); ++i) {
      int v = step.inputs[i];
      const KernelContext& ctx = contexts[n];
      b.inputs.push_back(v == kNoValue ? View{nullptr, ctx.input_shapes[i]} : values[v].view);
      View g;
      if (v != kNoValue && values[v].requires_grad && step.kernel->differentiable_input(i)) {
        if (values[v].accumulates) {
          RETORT_ASSIGN_OR_RETURN(
              Tensor partial,
              buffer(values[v].view.shape,
                     nodes[n].describe() + ": the gradient of input '" + values[v].name + "'"));
          step.partial_storage.push_back(std::move(partial));
          g = make_view(step.partial_storage.back());
          step.accumulations.push_back({g, values[v].grad});
        } else {
          g = values[v].grad;
        }
        step.runs_backward = true;
      }
      b.input_grads.push_back(g);
    }
    for (int v : step.outputs) {
      b.outputs.push_back(v == kNoValue ? View{} : values[v].view);
      b.output_grads.push_back(v == kNoValue ? View{} : values[v].grad);
    }
    RETORT_RETURN_IF_ERROR(step.kernel->bind(b).with_context(nodes[n].describe()));
  }
  // Backward runs the nodes last to first, so a parameter is final after the backward of the
  // first node that reads it and runs backward (nodes that do not run backward read nothing).
  for (size_t k = 0; k < parameters.size(); ++k) {
    const int v = find(parameters[k].name);
    auto reads = [v](const NodeStep& step) {
      return step.runs_backward &&
             std::find(step.inputs.begin(), step.inputs.end(), v) != step.inputs.end();
    };
    auto first = std::find_if(steps.begin(), steps.end(), reads);
    if (first == steps.end())
      parameters_never_read.push_back(k);
    else
      first->parameters_final.push_back(k);
  }
  if (options.profile)
    for (const Node& node : nodes) node_times.push_back(NodeTime{node.describe()});
  return Status::Ok();
}

int64_t runnable_batch(const Model& model, int64_t wanted) {
  return model.graph.fixed_batch().value_or(wanted);
}

Plan::Plan(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Plan::~Plan() = default;

Expected<std::unique_ptr<Plan>> Plan::compile(Model& model, const PlanOptions& options) {
  auto impl = std::make_unique<Impl>();
  impl->options = options;
  // The buffers are checked one by one (Impl::buffer); this catches the rest (a kernel's own
  // workspace, the plan's bookkeeping) when memory runs out.
  try {
    RETORT_RETURN_IF_ERROR(impl->build(model));
  } catch (const std::bad_alloc&) {
    return make_error(ErrorCode::kInvalidArgument,
                      "out of memory while compiling the plan at batch ", options.batch,
                      "; the model is too large for this machine: use a smaller batch");
  }
  return std::unique_ptr<Plan>(new Plan(std::move(impl)));
}

Expected<View> Plan::value(const std::string& name) const {
  int v = impl_->find(name);
  if (v == kNoValue) return impl_->not_found(name);
  if (impl_->values[v].shared)
    return make_error(ErrorCode::kNotFound, "value '", name,
                      "' has no buffer of its own in this plan: with PlanOptions::share_buffers "
                      "later values reuse it once no node reads it. Name it in "
                      "PlanOptions::keep_values to read it");
  return impl_->values[v].view;
}

Expected<View> Plan::grad(const std::string& name) const {
  int v = impl_->find(name);
  if (v == kNoValue) return impl_->not_found(name);
  if (!impl_->values[v].grad)
    return make_error(ErrorCode::kInvalidArgument, "value '", name,
                      "' carries no gradient in this plan (compile with backward and name it in "
                      "PlanOptions::grad_values)");
  return impl_->values[v].grad;
}

View Plan::input(size_t i) const {
  return impl_->values[impl_->graph_inputs.at(i)].view;
}
View Plan::output(size_t i) const {
  return impl_->values[impl_->graph_outputs.at(i)].view;
}
View Plan::output_grad(size_t i) const {
  return impl_->values[impl_->graph_outputs.at(i)].grad;
}
const std::vector<Parameter>& Plan::parameters() const {
  return impl_->parameters;
}
int64_t Plan::batch() const {
  return impl_->options.batch;
}
const Int8Lowering& Plan::int8_lowering() const {
  return impl_->int8_report;
}

void Plan::forward(bool training) {
  if (impl_->options.profile) {
    for (size_t n = 0; n < impl_->steps.size(); ++n) {
      const auto start = std::chrono::steady_clock::now();
      impl_->steps[n].kernel->forward(training);
      NodeTime& t = impl_->node_times[n];
      t.forward_seconds += seconds_since(start);
      ++t.forward_calls;
    }
  } else {
    for (NodeStep& step : impl_->steps) step.kernel->forward(training);
  }
  if (training)
    for (const View& g : impl_->zero_on_forward) zero(g);
}

void Plan::backward() {
  backward(nullptr);
}

void Plan::backward(ParameterObserver& observer) {
  backward(&observer);
}

void Plan::backward(ParameterObserver* observer) {
  assert(impl_->options.backward && "plan compiled without backward");
  for (const View& g : impl_->zero_on_backward) zero(g);
  for (size_t n = impl_->steps.size(); n-- > 0;) {
    NodeStep& step = impl_->steps[n];
    if (!step.runs_backward) continue;
    const auto start = std::chrono::steady_clock::now();
    step.kernel->backward();
    for (const GradAccumulation& acc : step.accumulations) add_into(acc.total, acc.partial);
    if (impl_->options.profile) {
      NodeTime& t = impl_->node_times[n];
      t.backward_seconds += seconds_since(start);
      ++t.backward_calls;
    }
    if (observer)
      for (size_t k : step.parameters_final) observer->parameter_final(k);
  }
  if (observer)
    for (size_t k : impl_->parameters_never_read) observer->parameter_final(k);
}

const std::vector<NodeTime>& Plan::node_times() const {
  return impl_->node_times;
}

}  // namespace retort::engine
