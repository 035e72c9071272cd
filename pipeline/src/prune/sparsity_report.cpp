#include "retort/prune/sparsity_report.h"

#include "retort/engine/flops.h"
#include "retort/engine/plan.h"
#include "retort/prune/prunable.h"

namespace retort::prune {

Expected<SparsityReport> measure_sparsity(Model& model) {
  SparsityReport r;
  RETORT_ASSIGN_OR_RETURN(engine::ComputeCost cost, engine::count_compute(model));
  engine::PlanOptions po;
  po.batch = engine::runnable_batch(model, 1);  // positions are per image: divided below
  RETORT_ASSIGN_OR_RETURN(auto plan, engine::Plan::compile(model, po));
  for (const PrunableLayer& l : find_prunable_layers(model)) {
    const Tensor& w = model.graph.initializers.at(l.weight);
    LayerSparsity s{l.node, l.op, l.shape, w.numel(), 0, 0, 0, 0};
    for (float v : w.span<float>()) s.nonzeros += v != 0.0f ? 1 : 0;
    s.sparsity = s.parameters ? 1.0 - static_cast<double>(s.nonzeros) / s.parameters : 0.0;
    // Each weight element is used once per output position: output elements / output channels.
    const Node* node = nullptr;
    for (const Node& n : model.graph.nodes)
      if (n.name == l.node) node = &n;
    int64_t positions = 1;
    if (node != nullptr && !node->outputs.empty()) {
      auto out = plan->value(node->outputs[0]);
      if (out.ok()) {
        const int64_t out_channels = l.op == "Conv" ? l.outer : l.outer * l.inner;
        positions = out_channels ? shape_numel(out->shape) / out_channels / po.batch : 0;
      }
    }
    s.macs = s.parameters * positions;
    s.nonzero_macs = s.nonzeros * positions;
    r.prunable_parameters += s.parameters;
    r.prunable_nonzeros += s.nonzeros;
    r.nonzero_macs -= s.macs - s.nonzero_macs;  // the skipped MACs, subtracted below
    r.layers.push_back(std::move(s));
  }
  r.prunable_sparsity = r.prunable_parameters
                            ? 1.0 - static_cast<double>(r.prunable_nonzeros) / r.prunable_parameters
                            : 0.0;
  r.parameters = model.parameter_count();
  r.nonzero_parameters = model.nonzero_parameters();
  r.sparsity = r.parameters ? 1.0 - static_cast<double>(r.nonzero_parameters) / r.parameters : 0;
  r.macs = cost.macs;
  r.flops = cost.flops;
  const int64_t skipped = -r.nonzero_macs;
  r.nonzero_macs = cost.macs - skipped;
  r.nonzero_flops = cost.flops - 2 * skipped;
  return r;
}

nlohmann::json to_json(const SparsityReport& r) {
  nlohmann::json layers = nlohmann::json::array();
  for (const LayerSparsity& l : r.layers)
    layers.push_back({{"layer", l.node},
                      {"op", l.op},
                      {"shape", l.shape},
                      {"parameters", l.parameters},
                      {"nonzeros", l.nonzeros},
                      {"sparsity", l.sparsity},
                      {"macs", l.macs},
                      {"nonzero_macs", l.nonzero_macs}});
  return {{"layers", layers},
          {"prunable_parameters", r.prunable_parameters},
          {"prunable_nonzeros", r.prunable_nonzeros},
          {"prunable_sparsity", r.prunable_sparsity},
          {"parameters", r.parameters},
          {"nonzero_parameters", r.nonzero_parameters},
          {"sparsity", r.sparsity},
          {"macs", r.macs},
          {"flops", r.flops},
          {"nonzero_macs", r.nonzero_macs},
          {"nonzero_flops", r.nonzero_flops}};
}

}  // namespace retort::prune
