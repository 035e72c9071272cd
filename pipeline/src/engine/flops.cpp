#include "retort/engine/flops.h"

#include "retort/engine/plan.h"

namespace retort::engine {

Expected<ComputeCost> count_compute(Model& model) {
  PlanOptions options;
  options.batch = runnable_batch(model, 1);  // a fixed batch is divided out below
  RETORT_ASSIGN_OR_RETURN(auto plan, Plan::compile(model, options));
  auto shape_of = [&](const std::string& name) -> Shape {
    auto v = plan->value(name);
    if (v.ok()) return v->shape;
    auto it = model.graph.initializers.find(name);
    return it == model.graph.initializers.end() ? Shape{} : it->second.shape();
  };
  ComputeCost cost;
  for (const Node& node : model.graph.nodes) {
    if (node.outputs.empty() || node.outputs[0].empty()) continue;
    const int64_t out = shape_numel(shape_of(node.outputs[0]));
    int64_t macs = 0;
    if (node.op_type == "Conv") {
      const Shape w = shape_of(node.inputs[1]);  // [M, C/group, kh, kw]
      int64_t per_output = 1;
      for (size_t i = 1; i < w.size(); ++i) per_output *= w[i];
      macs = out * per_output;
    } else if (node.op_type == "Gemm") {
      const Shape a = shape_of(node.inputs[0]);
      macs = out * (node.attr_int("transA", 0) ? a.front() : a.back());
    } else if (node.op_type == "MatMul") {
      macs = out * shape_of(node.inputs[0]).back();
    }
    cost.macs += macs;
    cost.flops += macs > 0 ? 2 * macs : out;
  }
  cost.macs /= options.batch;
  cost.flops /= options.batch;
  return cost;
}

}  // namespace retort::engine
