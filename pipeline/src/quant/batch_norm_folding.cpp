#include "retort/quant/batch_norm_folding.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <set>
#include <vector>

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
    // The weight is a float initializer, or (QAT form) one behind a QuantizeLinear ->
    // DequantizeLinear pair that only this conv reads: then fold into it and rescale the pair.
    std::string weight_name = conv.inputs[1];
    const Node* weight_q = nullptr;
    if (const Node* dq = g.producer_of(weight_name); dq && dq->op_type == "DequantizeLinear") {
      const Node* q = g.producer_of(dq->inputs[0]);
      if (q && q->op_type == "QuantizeLinear" && counts.at(dq->outputs[0]) == 1 &&
          counts.at(q->outputs[0]) == 1 && float_initializer(g, *q, 0) &&
          float_initializer(g, *q, 1)) {
        weight_q = q;
        weight_name = q->inputs[0];
      }
    }
    const Tensor* w = quant::float_initializer(g, weight_name);
    const Tensor* gamma = float_initializer(g, bn, 1);
    const Tensor* beta = float_initializer(g, bn, 2);
    const Tensor* mean = float_initializer(g, bn, 3);
    const Tensor* var = float_initializer(g, bn, 4);
    if (!w || !gamma || !beta || !mean || !var ||
        (conv.has_input(2) && !float_initializer(g, conv, 2))) {
      keep("the weights of " + conv.name + " or its own parameters are not float initializers");
      continue;
    }
    if (counts.at(weight_name) != 1) {
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
    std::vector<double> factors(static_cast<size_t>(out_channels));
    for (int64_t c = 0; c < out_channels; ++c) {
      const double k =
          gamma->data<float>()[c] / std::sqrt(static_cast<double>(var->data<float>()[c]) + eps);
      factors[c] = k;
      float* wc = new_w.data<float>() + c * per_channel;
      for (int64_t i = 0; i < per_channel; ++i) wc[i] = static_cast<float>(wc[i] * k);
      const double bias = old_b ? old_b->data<float>()[c] : 0.0;
      new_b.data<float>()[c] =
          static_cast<float>((bias - mean->data<float>()[c]) * k + beta->data<float>()[c]);
    }
    g.initializers[weight_name] = new_w;
    if (weight_q != nullptr) {
      // Symmetric scales follow |k| per channel exactly; a per-tensor scale takes the largest.
      const std::string scale_name = weight_q->inputs[1];
      Tensor scale = g.initializers.at(scale_name).clone();
      if (scale.numel() == out_channels) {
        for (int64_t c = 0; c < out_channels; ++c)
          scale.data<float>()[c] *= static_cast<float>(std::abs(factors[c]));
      } else {
        double largest = 0;
        for (int64_t c = 0; c < out_channels; ++c)
          largest = std::max(largest, std::abs(factors[c]));
        scale.data<float>()[0] *= static_cast<float>(largest);
      }
      g.initializers[scale_name] = scale;
    }
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
