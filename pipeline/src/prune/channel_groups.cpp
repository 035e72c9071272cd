// Channel flow analysis: which layers produce removable channels, which values carry them (on
// which axis), which consumers must follow, and which groups are tied or cannot be pruned.
#include <algorithm>
#include <functional>
#include <map>
#include <memory>
#include <numeric>
#include <set>

#include "prune/channel_graph.h"
#include "retort/engine/plan.h"

namespace retort::prune::detail {
namespace {

// Channels of one group carried by a value: along `axis`, channel c spans the entries
// [c * inner, (c + 1) * inner) (inner > 1 after a Flatten of [C, H, W]).
struct Carried {
  size_t elem = 0;  // union-find element (a producer)
  int axis = 1;
  int64_t inner = 1;
};

// Ops that map each channel to itself, elementwise (only input 0 is data).
const std::set<std::string>& unary_ops() {
  static const std::set<std::string> kOps = {
      "Relu", "LeakyRelu", "PRelu",       "Sigmoid",   "Tanh",     "Clip",     "Elu",
      "Selu", "Celu",      "HardSigmoid", "HardSwish", "Softplus", "Softsign", "Abs",
      "Neg",  "Exp",       "Erf",         "Identity",  "Dropout",  "Sqrt",     "Reciprocal"};
  return kOps;
}

// Ops that keep the channel axis (1) and work per channel.
const std::set<std::string>& pooling_ops() {
  static const std::set<std::string> kOps = {"MaxPool",       "AveragePool", "GlobalAveragePool",
                                             "GlobalMaxPool", "LpPool",      "GlobalLpPool"};
  return kOps;
}

const std::set<std::string>& binary_ops() {
  static const std::set<std::string> kOps = {"Add", "Sub", "Mul", "Div"};
  return kOps;
}

std::string quoted(const std::string& s) {
  return "'" + s + "'";
}

class Analyser {
 public:
  explicit Analyser(const Model& model) { a_.model = model; }

  Expected<ChannelAnalysis> run() {
    Graph& g = a_.model.graph;
    RETORT_RETURN_IF_ERROR(g.sort_topologically());
    RETORT_RETURN_IF_ERROR(read_shapes());
    for (size_t i = 0; i < g.nodes.size(); ++i) visit(i);
    for (const ValueInfo& out : g.outputs) {
      auto it = carried_.find(out.name);
      if (it == carried_.end()) continue;
      const Producer& p = producers_[it->second.elem];
      const Node* writer = g.producer_of(out.name);
      if (writer && writer->name == p.name)
        block(it->second.elem, "its output is the graph output " + quoted(out.name));
      else
        block(it->second.elem, "its channels reach the graph output " + quoted(out.name) +
                                   (writer ? " (written by " + writer->describe() + ")" : ""));
    }
    finish();
    return std::move(a_);
  }

 private:
  // --- shapes -------------------------------------------------------------------------------
  Status read_shapes() {
    Model copy = a_.model;  // the plan only reads the initializers at compile time
    engine::PlanOptions options;
    options.batch = 1;
    auto plan = engine::Plan::compile(copy, options);
    if (!plan.ok())
      return plan.status().with_context(
          "channel pruning needs the model's shapes, but its plan does not compile");
    for (const Node& n : copy.graph.nodes)
      for (const std::string& out : n.outputs) {
        if (out.empty()) continue;
        auto v = (*plan)->value(out);
        if (v.ok()) shapes_[out] = v->shape;
      }
    for (const ValueInfo& in : copy.graph.inputs) {
      auto v = (*plan)->value(in.name);
      if (v.ok()) shapes_[in.name] = v->shape;
    }
    return Status::Ok();
  }

  std::optional<Shape> shape_of(const std::string& value) const {
    auto it = shapes_.find(value);
    if (it != shapes_.end()) return it->second;
    auto init = a_.model.graph.initializers.find(value);
    if (init != a_.model.graph.initializers.end()) return init->second.shape();
    return std::nullopt;
  }

  const Tensor* initializer(const Node& n, size_t i) const {
    if (!n.has_input(i)) return nullptr;
    auto it = a_.model.graph.initializers.find(n.inputs[i]);
    return it == a_.model.graph.initializers.end() ? nullptr : &it->second;
  }

  const Carried* carried(const Node& n, size_t i) const {
    if (!n.has_input(i)) return nullptr;
    auto it = carried_.find(n.inputs[i]);
    return it == carried_.end() ? nullptr : &it->second;
  }

  // --- union-find over producers -------------------------------------------------------------
  size_t find(size_t e) {
    while (parent_[e] != e) e = parent_[e] = parent_[parent_[e]];
    return e;
  }
  void block(size_t e, const std::string& why) {
    e = find(e);
    if (why_not_[e].empty()) why_not_[e] = why;
  }
  void unite(size_t x, size_t y) {
    x = find(x);
    y = find(y);
    if (x == y) return;
    if (producers_[y].node < producers_[x].node) std::swap(x, y);
    parent_[y] = x;
    if (why_not_[x].empty()) why_not_[x] = why_not_[y];
  }

  size_t add_producer(size_t node, const std::string& weight, int weight_axis, int64_t channels) {
    Producer p;
    p.node = node;
    p.name = a_.model.graph.nodes[node].name;
    p.weight = weight;
    p.weight_axis = weight_axis;
    p.channels = channels;
    producers_.push_back(p);
    parent_.push_back(parent_.size());
    why_not_.emplace_back();
    return producers_.size() - 1;
  }

  void edit(size_t node, size_t input, size_t elem, int axis, int64_t inner = 1) {
    edits_.push_back({node, input, elem, axis, inner});
  }

  void carry(const std::string& value, Carried c) {
    if (!value.empty()) carried_[value] = c;
  }

  // Blocks every group a node reads at any input.
  void block_inputs(const Node& n, const std::string& why) {
    for (size_t i = 0; i < n.inputs.size(); ++i)
      if (const Carried* c = carried(n, i)) block(c->elem, n.describe() + " " + why);
  }
  // Blocks groups read at inputs other than the listed ones.
  void block_inputs_except(const Node& n, std::initializer_list<size_t> allowed) {
    for (size_t i = 0; i < n.inputs.size(); ++i) {
      if (std::find(allowed.begin(), allowed.end(), i) != allowed.end()) continue;
      if (const Carried* c = carried(n, i))
        block(c->elem, n.describe() + " reads its channels at input " + std::to_string(i) +
                           ", which channel pruning does not handle");
    }
  }
  // Blocks the group at input 0 unless it sits on axis 1, unflattened.
  bool require_channel_axis(const Node& n, const Carried& c) {
    if (c.axis == 1 && c.inner == 1) return true;
    block(c.elem, n.describe() + " needs its channels on axis 1, but they are on axis " +
                      std::to_string(c.axis) + (c.inner > 1 ? " (flattened)" : ""));
    return false;
  }

  // --- nodes ----------------------------------------------------------------------------------
  void visit(size_t index) {
    const Node& n = a_.model.graph.nodes[index];
    const std::string& op = n.op_type;
    if (!n.domain.empty() && n.domain != "ai.onnx") {
      block_inputs(n, "is not a default-domain operator, which channel pruning does not handle");
    } else if (op == "Conv") {
      visit_conv(index, n);
    } else if (op == "Gemm") {
      visit_gemm(index, n);
    } else if (op == "MatMul") {
      visit_matmul(index, n);
    } else if (op == "BatchNormalization") {
      visit_batch_norm(index, n);
    } else if (unary_ops().count(op)) {
      block_inputs_except(n, {0});
      if (const Carried* c = carried(n, 0)) {
        if (op == "PRelu") {
          visit_binary(index, n);  // its slope broadcasts like a binary operand
          return;
        }
        for (const std::string& out : n.outputs) carry(out, *c);
      }
    } else if (pooling_ops().count(op)) {
      block_inputs_except(n, {0});
      if (const Carried* c = carried(n, 0); c && require_channel_axis(n, *c))
        for (const std::string& out : n.outputs) carry(out, *c);
    } else if (binary_ops().count(op)) {
      visit_binary(index, n);
    } else if (op == "Flatten") {
      visit_flatten(n);
    } else if (op == "Reshape") {
      visit_reshape(index, n);
    } else if (op == "Pad") {
      visit_pad(n);
    } else if (op == "Softmax" || op == "LogSoftmax") {
      const Carried* c = carried(n, 0);
      if (!c) return;
      const auto shape = shape_of(n.inputs[0]);
      int64_t axis = n.attr_int("axis", -1);
      if (shape && axis < 0) axis += static_cast<int64_t>(shape->size());
      if (axis == c->axis) {
        block(c->elem, n.describe() + " normalises over its channels");
        return;
      }
      carry(n.outputs[0], *c);
    } else if (op == "Concat") {
      block_inputs(n,
                   "joins its channels with other values; channel pruning does not handle "
                   "Concat");
    } else {
      block_inputs(n, "reads its channels, and channel pruning does not handle " + op);
    }
  }

  void visit_conv(size_t index, const Node& n) {
    const Tensor* w = initializer(n, 1);
    const Carried* x = carried(n, 0);
    if (!w || w->rank() < 3 || initializer(n, 0)) {
      block_inputs(n, "has no weight initializer, so its channels cannot be removed");
      return;
    }
    block_inputs_except(n, {0});
    const int64_t groups = n.attr_int("group", 1);
    const int64_t m = w->dim(0);
    const auto in_shape = shape_of(n.inputs[0]);
    const int64_t cin = in_shape && in_shape->size() > 1 ? (*in_shape)[1] : -1;
    const Tensor* bias = initializer(n, 2);
    if (n.has_input(2) && !bias) {
      block_inputs(n, "has a runtime bias, which channel pruning does not handle");
      return;
    }
    if (groups == 1) {
      if (x && require_channel_axis(n, *x)) edit(index, 1, x->elem, 1);
      const size_t p = add_producer(index, n.inputs[1], 0, m);
      edit(index, 1, p, 0);
      if (bias) edit(index, 2, p, 0);
      carry(n.outputs[0], {p, 1, 1});
      return;
    }
    if (groups == cin && m == groups && w->dim(1) == 1) {
      // Depthwise: each output channel reads its own input channel, so it follows the group of
      // its input (and has no channels of its own to prune).
      if (!x) return;
      if (!require_channel_axis(n, *x)) return;
      edit(index, 1, x->elem, 0);
      if (bias) edit(index, 2, x->elem, 0);
      a_.attr_edits.push_back({index, x->elem});
      carry(n.outputs[0], *x);
      return;
    }
    const std::string why = "is a grouped convolution (group=" + std::to_string(groups) +
                            "), whose channels can only be removed evenly per group";
    if (x) block(x->elem, n.describe() + " " + why);
    const size_t p = add_producer(index, n.inputs[1], 0, m);
    block(p, "it " + why);
    carry(n.outputs[0], {p, 1, 1});
  }

  void visit_gemm(size_t index, const Node& n) {
    const Tensor* b = initializer(n, 1);
    if (!b || b->rank() != 2 || initializer(n, 0)) {
      block_inputs(n, "multiplies two runtime values; channel pruning does not handle that");
      return;
    }
    block_inputs_except(n, {0});
    const bool trans_a = n.attr_int("transA", 0) != 0;
    const bool trans_b = n.attr_int("transB", 0) != 0;
    if (const Carried* x = carried(n, 0)) {
      if (trans_a || x->axis != 1)
        block(x->elem, n.describe() + " reads its channels transposed (transA)");
      else
        edit(index, 1, x->elem, trans_b ? 1 : 0, x->inner);
    }
    const int64_t outputs = trans_b ? b->dim(0) : b->dim(1);
    const size_t p = add_producer(index, n.inputs[1], trans_b ? 0 : 1, outputs);
    edit(index, 1, p, trans_b ? 0 : 1);
    if (n.has_input(2)) {
      const Tensor* c = initializer(n, 2);
      if (!c) {
        block(p, "its bias input is a runtime value");
      } else if (c->rank() > 0 && c->shape().back() == outputs && outputs > 1) {
        edit(index, 2, p, static_cast<int>(c->rank()) - 1);
      } else if (c->rank() > 0 && c->shape().back() != 1) {
        block(p, "its bias has shape " + shape_to_string(c->shape()));
      }
    }
    carry(n.outputs[0], {p, 1, 1});
  }

  void visit_matmul(size_t index, const Node& n) {
    const Tensor* b = initializer(n, 1);
    const auto a_shape = shape_of(n.inputs[0]);
    if (!b || b->rank() != 2 || initializer(n, 0) || !a_shape || a_shape->size() < 2) {
      block_inputs(n, "multiplies two runtime values; channel pruning does not handle that");
      return;
    }
    const int rank = static_cast<int>(a_shape->size());
    if (const Carried* x = carried(n, 0)) {
      if (x->axis != rank - 1)
        block(x->elem, n.describe() + " contracts another axis than its channels");
      else
        edit(index, 1, x->elem, 0, x->inner);
    }
    const size_t p = add_producer(index, n.inputs[1], 1, b->dim(1));
    edit(index, 1, p, 1);
    carry(n.outputs[0], {p, rank - 1, 1});
  }

  void visit_batch_norm(size_t index, const Node& n) {
    const Carried* x = carried(n, 0);
    block_inputs_except(n, {0});
    if (!x || !require_channel_axis(n, *x)) return;
    for (size_t i = 1; i <= 4; ++i) {
      if (!n.has_input(i)) continue;
      if (!initializer(n, i)) {
        block(x->elem, n.describe() + " has a runtime parameter at input " + std::to_string(i));
        return;
      }
      edit(index, i, x->elem, 0);
    }
    // Network slimming reads the scale of the batch norm right after a layer.
    for (Producer& p : producers_)
      if (a_.model.graph.nodes[p.node].outputs[0] == n.inputs[0] && p.bn_scale.empty())
        p.bn_scale = n.inputs[1];
    carry(n.outputs[0], *x);  // training-mode outputs (running mean/var) are not tracked
  }

  // Elementwise ops with broadcasting: channels that meet here are tied into one group.
  void visit_binary(size_t index, const Node& n) {
    const auto out_shape = shape_of(n.outputs[0]);
    std::vector<std::pair<size_t, Carried>> tracked;
    for (size_t i = 0; i < n.inputs.size(); ++i)
      if (const Carried* c = carried(n, i)) tracked.emplace_back(i, *c);
    if (tracked.empty()) return;
    if (!out_shape) {
      block_inputs(n, "has an output of unknown shape");
      return;
    }
    const int rank = static_cast<int>(out_shape->size());
    auto aligned = [&](size_t i, int axis) {
      const auto s = shape_of(n.inputs[i]);
      return axis + rank - static_cast<int>(s ? s->size() : 0);
    };
    const int axis = aligned(tracked[0].first, tracked[0].second.axis);
    const int64_t inner = tracked[0].second.inner;
    const int64_t extent = (*out_shape)[axis];
    for (const auto& [i, c] : tracked) {
      const auto s = shape_of(n.inputs[i]);
      const int own = c.axis;
      if (aligned(i, own) != axis || c.inner != inner || !s || (*s)[own] != extent) {
        block_inputs(n, "combines channels along different axes or shapes");
        return;
      }
    }
    for (const auto& [i, c] : tracked) unite(tracked[0].second.elem, c.elem);
    const size_t elem = tracked[0].second.elem;
    for (size_t i = 0; i < n.inputs.size(); ++i) {
      if (!n.has_input(i) || carried(n, i)) continue;
      const auto s = shape_of(n.inputs[i]);
      const int pos = s ? axis - (rank - static_cast<int>(s->size())) : -1;
      const int64_t dim = s && pos >= 0 ? (*s)[pos] : 1;
      if (dim == 1) continue;  // broadcasts over the channels
      if (initializer(n, i) && dim == extent) {
        edit(index, i, elem, pos, inner);
      } else {
        block(elem, n.describe() + " combines its channels with " + quoted(n.inputs[i]) +
                        ", whose channels cannot be removed with them");
        return;
      }
    }
    carry(n.outputs[0], {elem, axis, inner});
  }

  void visit_flatten(const Node& n) {
    const Carried* x = carried(n, 0);
    if (!x) return;
    const auto s = shape_of(n.inputs[0]);
    if (!s) {
      block(x->elem, n.describe() + " has an input of unknown shape");
      return;
    }
    int64_t axis = n.attr_int("axis", 1);
    if (axis < 0) axis += static_cast<int64_t>(s->size());
    if (axis != x->axis) {
      block(x->elem, n.describe() + " flattens at axis " + std::to_string(axis) +
                         ", which mixes its channels (axis " + std::to_string(x->axis) +
                         ") with other dimensions");
      return;
    }
    int64_t inner = x->inner;
    for (size_t d = static_cast<size_t>(axis) + 1; d < s->size(); ++d) inner *= (*s)[d];
    carry(n.outputs[0], {x->elem, 1, inner});
  }

  // A Reshape that only merges the channel axis with the dims after it ([N, C, H, W] -> [N, C*H*W],
  // [N, C, 1, 1] -> [N, C]) keeps whole channels contiguous; any other mixes them.
  void visit_reshape(size_t index, const Node& n) {
    const Carried* x = carried(n, 0);
    block_inputs_except(n, {0});
    if (!x) return;
    const auto in = shape_of(n.inputs[0]);
    const auto out = shape_of(n.outputs[0]);
    const Tensor* target = initializer(n, 1);
    auto reject = [&](const std::string& why) { block(x->elem, n.describe() + " " + why); };
    if (!in || !out || !target) {
      reject("has a runtime target shape");
      return;
    }
    int64_t before = 1;
    for (int d = 1; d < x->axis; ++d) before *= (*in)[d];
    if (out->size() != 2 || (*out)[0] != (*in)[0] || x->axis < 1 || before != 1) {
      reject("reshapes it to " + shape_to_string(*out) + " (at batch 1), which mixes channels");
      return;
    }
    int64_t inner = x->inner;
    for (size_t d = static_cast<size_t>(x->axis) + 1; d < in->size(); ++d) inner *= (*in)[d];
    a_.shape_edits.push_back({index, x->elem, 1, inner});
    carry(n.outputs[0], {x->elem, 1, inner});
  }

  void visit_pad(const Node& n) {
    const Carried* x = carried(n, 0);
    block_inputs_except(n, {0, 1, 2});
    if (!x) return;
    std::vector<int64_t> pads = n.attr_ints("pads");
    if (n.has_input(1)) {
      const Tensor* t = initializer(n, 1);
      if (!t) {
        block(x->elem, n.describe() + " has runtime pads");
        return;
      }
      pads = t->to_int64_vector();
    }
    const size_t rank = pads.size() / 2;
    const size_t axis = static_cast<size_t>(x->axis);
    if (n.has_input(3) || (axis < rank && (pads[axis] != 0 || pads[axis + rank] != 0))) {
      block(x->elem, n.describe() + " pads its channel axis");
      return;
    }
    carry(n.outputs[0], *x);
  }

  // --- result ---------------------------------------------------------------------------------
  void finish() {
    std::map<size_t, size_t> group_of_root;
    for (size_t e = 0; e < producers_.size(); ++e) {
      const size_t root = find(e);
      auto [it, fresh] = group_of_root.emplace(root, a_.groups.size());
      if (fresh) {
        ChannelGroup g;
        g.id = producers_[root].name;
        g.channels = producers_[root].channels;
        g.prunable = why_not_[root].empty();
        g.why_not = why_not_[root];
        a_.groups.push_back(g);
        a_.group_producers.emplace_back();
      }
      producers_[e].group = it->second;
      a_.groups[it->second].layers.push_back(producers_[e].name);
      a_.group_producers[it->second].push_back(e);
    }
    // Producers were added in topological order and roots are the earliest, so groups are
    // already in the order of their first layer.
    auto group = [&](size_t elem) { return producers_[find(elem)].group; };
    for (const TensorEdit& e : edits_)
      a_.tensor_edits.push_back({e.node, e.input, group(e.group), e.axis, e.inner});
    for (GroupAttrEdit& e : a_.attr_edits) e.group = group(e.group);
    for (ShapeEdit& e : a_.shape_edits) e.group = group(e.group);
    for (const auto& [value, c] : carried_)
      a_.value_edits.push_back({value, group(c.elem), c.axis, c.inner});
    a_.producers = producers_;
  }

  ChannelAnalysis a_;
  std::map<std::string, Shape> shapes_;
  std::map<std::string, Carried> carried_;
  std::vector<Producer> producers_;
  std::vector<size_t> parent_;
  std::vector<std::string> why_not_;
  std::vector<TensorEdit> edits_;  // `group` holds a union-find element until finish()
};

}  // namespace

Expected<ChannelAnalysis> analyse_channels(const Model& model) {
  return Analyser(model).run();
}

}  // namespace retort::prune::detail
