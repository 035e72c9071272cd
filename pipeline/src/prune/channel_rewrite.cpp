// Graph surgery: applies the edits of a ChannelAnalysis for the kept channels of each group.
#include <cstring>
#include <map>
#include <set>

#include "prune/channel_graph.h"

namespace retort::prune::detail {
namespace {

// A fresh tensor with only the listed channels along `axis` (channel c spans the entries
// [c * inner, (c + 1) * inner) of that axis).
Tensor slice_axis(const Tensor& t, int axis, const std::vector<int64_t>& keep, int64_t inner) {
  const Shape& shape = t.shape();
  int64_t outer = 1;
  for (int d = 0; d < axis; ++d) outer *= shape[d];
  int64_t after = 1;
  for (size_t d = static_cast<size_t>(axis) + 1; d < shape.size(); ++d) after *= shape[d];
  const int64_t extent = shape[axis];
  Shape new_shape = shape;
  new_shape[axis] = static_cast<int64_t>(keep.size()) * inner;
  Tensor out(t.dtype(), new_shape);
  const size_t row = static_cast<size_t>(after) * dtype_size(t.dtype());  // bytes per entry
  const size_t block = row * static_cast<size_t>(inner);                  // bytes per channel
  const auto* src = static_cast<const std::byte*>(t.raw());
  auto* dst = static_cast<std::byte*>(out.raw());
  for (int64_t o = 0; o < outer; ++o) {
    const std::byte* base = src + static_cast<size_t>(o * extent) * row;
    for (int64_t c : keep) {
      std::memcpy(dst, base + static_cast<size_t>(c) * block, block);
      dst += block;
    }
  }
  return out;
}

}  // namespace

Expected<Model> rewrite_channels(const ChannelAnalysis& analysis,
                                 const std::vector<std::optional<std::vector<int64_t>>>& keep) {
  Model out = analysis.model;
  Graph& g = out.graph;
  // Copies of a Model share tensor storage: give the result its own.
  for (auto& [name, t] : g.initializers) t = t.clone();
  for (Node& n : g.nodes)
    for (auto& [key, attr] : n.attributes)
      if (!attr.t.empty()) attr.t = attr.t.clone();

  std::map<std::pair<size_t, size_t>, Tensor> edited;  // (node, input) -> new initializer
  auto current = [&](size_t node, size_t input) -> const Tensor& {
    auto it = edited.find({node, input});
    if (it != edited.end()) return it->second;
    return g.initializers.at(g.nodes[node].inputs[input]);
  };
  for (const TensorEdit& e : analysis.tensor_edits) {
    const auto& k = keep[e.group];
    if (!k) continue;
    const Tensor& t = current(e.node, e.input);
    if (e.axis < 0 || static_cast<size_t>(e.axis) >= t.rank() ||
        t.dim(e.axis) != analysis.groups[e.group].channels * e.inner)
      return make_error(ErrorCode::kInternal, "channel pruning: ", g.nodes[e.node].describe(),
                        " input ", e.input, " has shape ", shape_to_string(t.shape()),
                        ", expected ", analysis.groups[e.group].channels * e.inner,
                        " entries on axis ", e.axis);
    Tensor sliced = slice_axis(t, e.axis, *k, e.inner);
    edited[{e.node, e.input}] = std::move(sliced);
  }
  for (const ShapeEdit& e : analysis.shape_edits) {
    const auto& k = keep[e.group];
    if (!k) continue;
    std::vector<int64_t> target = current(e.node, 1).to_int64_vector();
    if (static_cast<size_t>(e.axis) < target.size() && target[e.axis] > 0)
      target[e.axis] = static_cast<int64_t>(k->size()) * e.inner;
    edited[{e.node, 1}] =
        Tensor::from_vector<int64_t>({static_cast<int64_t>(target.size())}, target);
  }
  for (const GroupAttrEdit& e : analysis.attr_edits)
    if (const auto& k = keep[e.group])
      g.nodes[e.node].attributes["group"] = Attribute::of_int(static_cast<int64_t>(k->size()));

  // Store the new tensors; an initializer that other nodes also read gets a new name.
  std::map<std::string, int> readers;
  for (const Node& n : g.nodes)
    for (const std::string& in : n.inputs)
      if (!in.empty()) ++readers[in];
  std::set<std::string> renamed;
  for (auto& [where, t] : edited) {
    Node& n = g.nodes[where.first];
    std::string& name = n.inputs[where.second];
    if (readers[name] == 1) {
      g.initializers[name] = std::move(t);
      continue;
    }
    renamed.insert(name);
    const std::string fresh = g.unique_name(name + "." + n.name);
    g.initializers[fresh] = std::move(t);
    name = fresh;
  }
  if (!renamed.empty()) {
    std::set<std::string> used;
    for (const Node& n : g.nodes) used.insert(n.inputs.begin(), n.inputs.end());
    for (const std::string& name : renamed)
      if (!used.count(name)) g.initializers.erase(name);
  }

  // Shape annotations follow.
  std::map<std::string, const ValueEdit*> by_value;
  for (const ValueEdit& e : analysis.value_edits)
    if (keep[e.group]) by_value[e.value] = &e;
  for (auto* infos : {&g.value_infos, &g.outputs, &g.inputs})
    for (ValueInfo& vi : *infos) {
      auto it = by_value.find(vi.name);
      if (it == by_value.end()) continue;
      const ValueEdit& e = *it->second;
      if (static_cast<size_t>(e.axis) < vi.dims.size() && vi.dims[e.axis].is_fixed())
        vi.dims[e.axis] = Dim::fixed(static_cast<int64_t>(keep[e.group]->size()) * e.inner);
    }
  return out;
}

}  // namespace retort::prune::detail
