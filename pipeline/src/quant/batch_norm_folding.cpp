#include "retort/quant/batch_norm_folding.h"

#include <cmath>
#include <map>
#include <set>

#include "graph_queries.h"

namespace retort::quant {
namespace {

const Tensor* float_initializer(const Graph& g, const Node& n, size_t i) {
  return n.has_input(i) ? quant::float_initializer(g, n.inputs[i]) : nullptr;
}

}  // namespace

Expected<BatchNormFolding> fold_batch_norms(Model& model) {
  Graph& g = model.graph;
  RETORT_RETURN_IF_ERROR(g.sort_topologically());
  BatchNormFolding result;
  std::set<size_t> removed;
  for (size_t b = 0; b < g.nodes.size(); ++b) {
    const Node& bn = g.nodes[b];
    if (bn.op_type != "BatchNormalization") continue;
    const auto counts = consumer_counts(g);
    const Node* conv_ptr = g.producer_of(bn.inputs[0]);
    const auto keep = [&](const std::string& why) { result.kept.push_back(bn.name + ": " + why); };
    if (conv_ptr == nullptr || conv_ptr->op_type != "Conv") {
      keep(conv_ptr == nullptr ? "its input is not computed by a node"
                               : "its input comes from '" + conv_ptr->op_type + "', not a Conv");
      continue;
    }
    Node& conv = const_cast<Node&>(*conv_ptr);
    if (counts.at(bn.inputs[0]) != 1) {
      keep("the output of " + conv.name + " is also read elsewhere");
      continue;
    }
    const Tensor* w = float_initializer(g, conv, 1);
    const Tensor* gamma = float_initializer(g, bn, 1);
    const Tensor* beta = float_initializer(g, bn, 2);
    const Tensor* mean = float_initializer(g, bn, 3);
    const Tensor* var = float_initializer(g, bn, 4);
    if (!w || !gamma || !beta || !mean || !var ||
        (conv.has_input(2) && !float_initializer(g, conv, 2))) {
      keep("the weights of " + conv.name + " or its own parameters are not float initializers");
      continue;
    }
    if (counts.at(conv.inputs[1]) != 1) {
      keep("the weight of " + conv.name + " is shared with another node");
      continue;
    }
    const int64_t out_channels = w->dim(0);
    if (gamma->numel() != out_channels) {
      keep("it has " + std::to_string(gamma->numel()) + " channels but " + conv.name + " has " +
           std::to_string(out_channels));
      continue;
    }
    const float eps = bn.attr_float("epsilon", 1e-5f);
    const int64_t per_channel = w->numel() / out_channels;
    Tensor new_w = w->clone();
    Tensor new_b(DType::kFloat32, {out_channels});
    const Tensor* old_b = conv.has_input(2) ? float_initializer(g, conv, 2) : nullptr;
    for (int64_t c = 0; c < out_channels; ++c) {
      const double k =
          gamma->data<float>()[c] / std::sqrt(static_cast<double>(var->data<float>()[c]) + eps);
      float* wc = new_w.data<float>() + c * per_channel;
      for (int64_t i = 0; i < per_channel; ++i) wc[i] = static_cast<float>(wc[i] * k);
      const double bias = old_b ? old_b->data<float>()[c] : 0.0;
      new_b.data<float>()[c] =
          static_cast<float>((bias - mean->data<float>()[c]) * k + beta->data<float>()[c]);
    }
    g.initializers[conv.inputs[1]] = new_w;
    std::string bias_name = conv.has_input(2) ? conv.inputs[2] : g.unique_name(conv.name + ".bias");
    if (conv.has_input(2) && counts.at(bias_name) != 1)
      bias_name = g.unique_name(conv.name + ".bias");
    g.initializers[bias_name] = new_b;
    if (conv.inputs.size() < 3) conv.inputs.resize(3);
    conv.inputs[2] = bias_name;
    const std::string old_out = conv.outputs[0];
    conv.outputs[0] = bn.outputs[0];
    std::erase_if(g.value_infos, [&](const ValueInfo& v) { return v.name == old_out; });
    result.folded.push_back(bn.name + " into " + conv.name);
    removed.insert(b);
  }
  // Drop the folded nodes, then the parameters nothing reads any more.
  std::vector<Node> kept_nodes;
  for (size_t i = 0; i < g.nodes.size(); ++i)
    if (!removed.count(i)) kept_nodes.push_back(std::move(g.nodes[i]));
  g.nodes = std::move(kept_nodes);
  const auto counts = consumer_counts(g);
  std::erase_if(g.initializers, [&](const auto& kv) { return !counts.count(kv.first); });
  RETORT_RETURN_IF_ERROR(g.sort_topologically());
  return result;
}

}  // namespace retort::quant
