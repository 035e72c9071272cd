// The int8 graph pass. A quantized tensor is the output of a QuantizeLinear whose only
// consumers are DequantizeLinear nodes on the same grid (scalar scale and zero point). A region
// grows from one such tensor (its root QuantizeLinear reads a float value) through the
// Conv/Gemm/MatMul nodes that read it via DequantizeLinear and have quantized weights, their
// fused bias Add/Relu, and requantizing QuantizeLinear outputs, on to the next layers. Since
// every int8 step reads one quantized tensor, a region is a tree with one float input, so
// replacing it by one node cannot create a cycle.
#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <optional>
#include <set>
#include <unordered_map>

#include <nlohmann/json.hpp>

#include "engine/int8/region.h"

namespace retort::engine::int8 {
namespace {

// Why an anchor stays float32 (the message goes into the report).
Status reject(const std::string& why) {
  return Status(ErrorCode::kUnsupported, why);
}

// A Conv/Gemm/MatMul that will run in int8, with what it fuses.
struct AnchorPlan {
  int node = -1;
  Step::Kind kind = Step::Kind::kConv;
  std::string input_q;  // quantized tensor (QuantizeLinear output) it reads
  Tensor weights;       // s8, already in the step's layout
  std::vector<float> scales, bias;
  bool relu = false;
  std::vector<int> fused;         // bias Add, Relu, tail and requantizing QuantizeLinear
  std::vector<int> tail;          // MaxPool/Flatten/Reshape moved past the requantization
  std::vector<int> weight_nodes;  // DequantizeLinear (and QAT QuantizeLinear) of the weights
  std::string output_q;           // quantized output, or
  std::string output_float;       // float output
};

// A MaxPool/Flatten/Reshape between DequantizeLinear and QuantizeLinear on one grid.
struct PassThrough {
  int node = -1, quantize = -1;
  std::string input_q, output_q;
};

class Pass {
 public:
  explicit Pass(const Model& model) : model_(model), g_(model.graph) {
    for (size_t n = 0; n < g_.nodes.size(); ++n) {
      const Node& node = g_.nodes[n];
      for (size_t i = 0; i < node.inputs.size(); ++i)
        if (!node.inputs[i].empty()) consumers_[node.inputs[i]].push_back(static_cast<int>(n));
      for (const std::string& o : node.outputs)
        if (!o.empty()) producer_[o] = static_cast<int>(n);
    }
    for (const ValueInfo& o : g_.outputs) graph_outputs_.insert(o.name);
    auto it = model.metadata.find(kQuantizationKey);
    if (it != model.metadata.end()) qmeta_ = nlohmann::json::parse(it->second, nullptr, false);
  }

  Expected<Lowered> run();

 private:
  const Node* producer(const std::string& v) const {
    auto it = producer_.find(v);
    return it == producer_.end() ? nullptr : &g_.nodes[it->second];
  }
  const std::vector<int>& consumers(const std::string& v) const {
    static const std::vector<int> kNone;
    auto it = consumers_.find(v);
    return it == consumers_.end() ? kNone : it->second;
  }
  const Tensor* initializer(const std::string& v) const {
    auto it = g_.initializers.find(v);
    return it == g_.initializers.end() ? nullptr : &it->second;
  }
  // The one node reading `v`, if `v` has exactly one consumer and is no graph output.
  int sole_consumer(const std::string& v) const {
    const auto& c = consumers(v);
    if (graph_outputs_.count(v) || c.size() != 1) return -1;
    return c[0];
  }
  std::pair<int32_t, int32_t> code_range(const Node& q, bool is_signed) const;
  Expected<QuantParams> scalar_params(const Node& qdq) const;
  Expected<QuantParams> quantized_tensor(const std::string& v);
  Expected<AnchorPlan> plan_anchor(int n);
  Status plan_weights(const Node& anchor, const std::string& w, int out_axis, AnchorPlan& p);
  Status plan_bias(const std::string& b, int64_t channels, AnchorPlan& p);
  void plan_output(const std::string& out, int64_t channels, AnchorPlan& p);
  bool movable(const Node& node) const;
  std::optional<PassThrough> plan_pass_through(int n);

  const Model& model_;
  const Graph& g_;
  std::unordered_map<std::string, std::vector<int>> consumers_;
  std::unordered_map<std::string, int> producer_;
  std::set<std::string> graph_outputs_;
  nlohmann::json qmeta_;
  std::map<std::string, Expected<QuantParams>> qcache_;
};

std::pair<int32_t, int32_t> Pass::code_range(const Node& q, bool is_signed) const {
  int32_t lo = is_signed ? -128 : 0, hi = is_signed ? 127 : 255;
  if (qmeta_.is_object() && qmeta_.contains(q.name) && qmeta_[q.name].is_object()) {
    const auto& e = qmeta_[q.name];
    if (e.contains("qmin") && e["qmin"].is_number_integer())
      lo = std::max(lo, e["qmin"].get<int32_t>());
    if (e.contains("qmax") && e["qmax"].is_number_integer())
      hi = std::min(hi, e["qmax"].get<int32_t>());
  }
  return {lo, hi};
}

// Scale and zero point of a QuantizeLinear/DequantizeLinear when both are scalar constants.
Expected<QuantParams> Pass::scalar_params(const Node& qdq) const {
  const Tensor* s = qdq.has_input(1) ? initializer(qdq.inputs[1]) : nullptr;
  if (s == nullptr || s->dtype() != DType::kFloat32 || s->numel() != 1)
    return reject(qdq.describe() + " has no scalar float32 initializer as its scale");
  QuantParams p;
  p.scale = s->data<float>()[0];
  if (!(p.scale > 0.0f) || !std::isfinite(p.scale))
    return reject(qdq.describe() + " has a scale that is not positive and finite");
  if (qdq.has_input(2)) {
    const Tensor* z = initializer(qdq.inputs[2]);
    if (z == nullptr || z->numel() != 1 ||
        (z->dtype() != DType::kUInt8 && z->dtype() != DType::kInt8))
      return reject(qdq.describe() + " has no scalar uint8/int8 initializer as its zero point");
    p.is_signed = z->dtype() == DType::kInt8;
    p.zero_point = p.is_signed ? z->data<int8_t>()[0] : z->data<uint8_t>()[0];
  }
  std::tie(p.qmin, p.qmax) = code_range(qdq, p.is_signed);
  return p;
}

// `v` as a quantized tensor: a QuantizeLinear output read only by DequantizeLinear nodes on
// the same grid.
Expected<QuantParams> Pass::quantized_tensor(const std::string& v) {
  auto it = qcache_.find(v);
  if (it != qcache_.end()) return it->second;
  auto compute = [&]() -> Expected<QuantParams> {
    const Node* q = producer(v);
    if (q == nullptr || q->op_type != "QuantizeLinear")
      return reject("'" + v + "' is not the output of a QuantizeLinear");
    RETORT_ASSIGN_OR_RETURN(QuantParams p, scalar_params(*q));
    if (graph_outputs_.count(v)) return reject("quantized value '" + v + "' is a graph output");
    for (int c : consumers(v)) {
      const Node& d = g_.nodes[c];
      if (d.op_type != "DequantizeLinear" || d.inputs[0] != v)
        return reject("quantized value '" + v + "' is also read by " + d.describe());
      auto dp = scalar_params(d);
      if (!dp.ok()) return dp.status();
      if (!dp->same_grid(p))
        return reject(d.describe() + " dequantizes '" + v +
                      "' with another scale or zero point than its QuantizeLinear");
    }
    return p;
  };
  return qcache_.emplace(v, compute()).first->second;
}

// Weights: DequantizeLinear of an int8 initializer (export form) or of a QuantizeLinear of a
// float initializer (QAT form, quantized here). `out_axis` is the output-channel axis of the
// stored tensor; the step gets them with the output channel first.
Status Pass::plan_weights(const Node& anchor, const std::string& w, int out_axis, AnchorPlan& p) {
  const Node* dq = producer(w);
  if (dq == nullptr || dq->op_type != "DequantizeLinear") {
    const Tensor* t = initializer(w);
    if (t != nullptr && t->dtype() == DType::kFloat32)
      return reject("weights '" + w + "' are a float32 initializer without QuantizeLinear/" +
                    "DequantizeLinear (nothing to run in int8)");
    return reject("weights '" + w + "' are not the output of a DequantizeLinear");
  }
  const Tensor* codes = initializer(dq->inputs[0]);
  const Tensor* real = nullptr;
  const Node* q = nullptr;
  if (codes == nullptr) {
    q = producer(dq->inputs[0]);
    if (q == nullptr || q->op_type != "QuantizeLinear" || !(real = initializer(q->inputs[0])) ||
        real->dtype() != DType::kFloat32)
      return reject("weights '" + w + "' dequantize neither an int8 initializer nor a " +
                    "QuantizeLinear of a float32 initializer");
  }
  const Tensor& shape_of = codes ? *codes : *real;
  if (codes && codes->dtype() != DType::kInt8)
    return reject("weights '" + dq->inputs[0] + "' are " + dtype_name(codes->dtype()) +
                  "; the int8 kernels take int8 (s8) weights");
  const Shape& ws = shape_of.shape();
  if (ws.size() < 2) return reject("weights '" + w + "' are not at least 2-D");
  const int64_t channels = ws[out_axis];

  // Scale and zero point (the QAT QuantizeLinear must agree with its DequantizeLinear).
  const Node& def = q ? *q : *dq;
  const Tensor* s = def.has_input(1) ? initializer(def.inputs[1]) : nullptr;
  const Tensor* z = def.has_input(2) ? initializer(def.inputs[2]) : nullptr;
  if (s == nullptr || s->dtype() != DType::kFloat32)
    return reject("weight scale of " + def.describe() + " is not a float32 initializer");
  if (q &&
      (dq->inputs.size() < 2 || dq->inputs[1] != q->inputs[1] ||
       dq->input_count() != q->input_count() || (q->has_input(2) && dq->inputs[2] != q->inputs[2])))
    return reject("weight QuantizeLinear and DequantizeLinear use different scale/zero point");
  if (s->numel() != 1) {
    int64_t axis = def.attr_int("axis", 1);
    if (axis < 0) axis += static_cast<int64_t>(ws.size());
    if (s->rank() != 1 || s->numel() != channels || axis != out_axis)
      return reject("weight scale " + shape_to_string(s->shape()) + " of " + def.describe() +
                    " is neither per-tensor nor per output channel (axis " +
                    std::to_string(out_axis) + ")");
  }
  if (z != nullptr) {
    if (z->dtype() != DType::kInt8)
      return reject("weight zero point of " + def.describe() + " is " + dtype_name(z->dtype()) +
                    "; the int8 kernels take symmetric int8 weights");
    for (int8_t v : z->span<int8_t>())
      if (v != 0) return reject("weight zero point of " + def.describe() + " is not 0");
  }
  p.scales.resize(static_cast<size_t>(channels));
  for (int64_t c = 0; c < channels; ++c) {
    p.scales[c] = s->data<float>()[s->numel() == 1 ? 0 : c];
    if (!(p.scales[c] > 0.0f) || !std::isfinite(p.scales[c]))
      return reject("weight scale of " + def.describe() + " is not positive and finite");
  }

  // Codes with the output channel first: [O, ...] stays, [K, N] becomes [N, K].
  Shape out_shape = ws;
  if (out_axis == 1) std::swap(out_shape[0], out_shape[1]);
  if (out_axis == 1 && ws.size() != 2) return reject("weights '" + w + "' are not 2-D");
  Tensor t(DType::kInt8, out_shape);
  const int64_t rows = ws[0], cols = shape_of.numel() / rows;
  const auto [lo, hi] = q ? code_range(*q, true) : std::pair<int32_t, int32_t>{-128, 127};
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c) {
      const int64_t ch = out_axis == 0 ? r : c;
      int8_t code;
      if (codes) {
        code = codes->data<int8_t>()[r * cols + c];
      } else {  // ONNX QuantizeLinear: round half to even (the default rounding mode)
        const float v = std::nearbyint(real->data<float>()[r * cols + c] / p.scales[ch]);
        code = static_cast<int8_t>(std::clamp(v, static_cast<float>(lo), static_cast<float>(hi)));
      }
      t.data<int8_t>()[out_axis == 0 ? r * cols + c : c * rows + r] = code;
    }
  p.weights = std::move(t);
  p.weight_nodes.push_back(producer_.at(w));
  if (q) p.weight_nodes.push_back(producer_.at(dq->inputs[0]));
  (void)anchor;
  return Status::Ok();
}

Status Pass::plan_bias(const std::string& b, int64_t channels, AnchorPlan& p) {
  const Tensor* t = initializer(b);
  if (t == nullptr || t->dtype() != DType::kFloat32 || t->numel() != channels ||
      (t->rank() != 1 && !(t->rank() == 2 && t->dim(0) == 1)))
    return reject("bias '" + b + "' is not a float32 initializer of shape [" +
                  std::to_string(channels) + "]");
  p.bias.assign(t->data<float>(), t->data<float>() + channels);
  return Status::Ok();
}

// Ops that commute with a per-tensor quantization (it is monotonic and elementwise).
bool Pass::movable(const Node& node) const {
  if (node.op_type == "MaxPool")
    return node.outputs.size() == 1 && node.attr_int("storage_order", 0) == 0;
  if (node.op_type == "Flatten") return true;
  if (node.op_type == "Reshape") {
    const Tensor* s = node.has_input(1) ? initializer(node.inputs[1]) : nullptr;
    return s != nullptr && s->dtype() == DType::kInt64;
  }
  return false;
}

// Bias Add, Relu, then either a requantization (possibly after MaxPool/Flatten/Reshape, which
// commute with it) or a float output.
void Pass::plan_output(const std::string& out, int64_t channels, AnchorPlan& p) {
  std::string v = out;
  int c = sole_consumer(v);
  // Only inner products: a [C] Add after a Conv would broadcast along W, not the channels.
  if (p.kind == Step::Kind::kInnerProduct && p.bias.empty() && c >= 0 &&
      g_.nodes[c].op_type == "Add" && g_.nodes[c].input_count() == 2) {
    const Node& add = g_.nodes[c];
    const std::string& other = add.inputs[0] == v ? add.inputs[1] : add.inputs[0];
    AnchorPlan probe;
    if (plan_bias(other, channels, probe).ok()) {
      p.bias = std::move(probe.bias);
      p.fused.push_back(c);
      v = add.outputs[0];
      c = sole_consumer(v);
    }
  }
  if (c >= 0 && g_.nodes[c].op_type == "Relu") {
    p.relu = true;
    p.fused.push_back(c);
    v = g_.nodes[c].outputs[0];
    c = sole_consumer(v);
  }
  std::vector<int> tail;
  std::string t = v;
  while (c >= 0 && movable(g_.nodes[c]) && g_.nodes[c].inputs[0] == t) {
    tail.push_back(c);
    t = g_.nodes[c].outputs[0];
    c = sole_consumer(t);
  }
  if (c >= 0 && g_.nodes[c].op_type == "QuantizeLinear" &&
      quantized_tensor(g_.nodes[c].outputs[0]).ok()) {
    p.tail = tail;
    p.fused.insert(p.fused.end(), tail.begin(), tail.end());
    p.fused.push_back(c);
    p.output_q = g_.nodes[c].outputs[0];
  } else {
    p.output_float = v;
  }
}

Expected<AnchorPlan> Pass::plan_anchor(int n) {
  const Node& node = g_.nodes[n];
  AnchorPlan p;
  p.node = n;
  if (!node.has_input(0) || !node.has_input(1) || node.outputs.size() != 1)
    return reject("unexpected inputs/outputs");
  const Node* dq = producer(node.inputs[0]);
  if (dq == nullptr || dq->op_type != "DequantizeLinear")
    return reject("input '" + node.inputs[0] + "' is not the output of a DequantizeLinear");
  auto qp = quantized_tensor(dq->inputs[0]);
  if (!qp.ok()) return reject("input: " + qp.status().message());
  p.input_q = dq->inputs[0];

  int64_t channels = 0;
  if (node.op_type == "Conv") {
    p.kind = Step::Kind::kConv;
    RETORT_RETURN_IF_ERROR(plan_weights(node, node.inputs[1], 0, p));
    if (p.weights.rank() < 3 || p.weights.rank() > 5) return reject("weights are not 3-D to 5-D");
    channels = p.weights.dim(0);
    if (node.has_input(2)) RETORT_RETURN_IF_ERROR(plan_bias(node.inputs[2], channels, p));
  } else if (node.op_type == "Gemm") {
    p.kind = Step::Kind::kInnerProduct;
    if (node.attr_int("transA", 0) != 0) return reject("transA=1 is not lowered");
    if (node.attr_float("alpha", 1.0f) != 1.0f || node.attr_float("beta", 1.0f) != 1.0f)
      return reject("alpha/beta other than 1 are not lowered");
    const bool trans_b = node.attr_int("transB", 0) != 0;
    RETORT_RETURN_IF_ERROR(plan_weights(node, node.inputs[1], trans_b ? 0 : 1, p));
    if (p.weights.rank() != 2) return reject("weights are not 2-D");
    channels = p.weights.dim(0);
    if (node.has_input(2)) RETORT_RETURN_IF_ERROR(plan_bias(node.inputs[2], channels, p));
  } else {
    p.kind = Step::Kind::kInnerProduct;
    RETORT_RETURN_IF_ERROR(plan_weights(node, node.inputs[1], 1, p));
    channels = p.weights.dim(0);
  }
  plan_output(node.outputs[0], channels, p);
  return p;
}

// ORT's QDQ form: DequantizeLinear -> MaxPool/Flatten/Reshape -> QuantizeLinear, one grid.
std::optional<PassThrough> Pass::plan_pass_through(int n) {
  const Node& node = g_.nodes[n];
  if (!movable(node) || !node.has_input(0)) return std::nullopt;
  const Node* dq = producer(node.inputs[0]);
  if (dq == nullptr || dq->op_type != "DequantizeLinear") return std::nullopt;
  auto in = quantized_tensor(dq->inputs[0]);
  const int c = sole_consumer(node.outputs[0]);
  if (!in.ok() || c < 0 || g_.nodes[c].op_type != "QuantizeLinear") return std::nullopt;
  auto out = quantized_tensor(g_.nodes[c].outputs[0]);
  if (!out.ok() || !out->same_grid(*in) || out->qmin > in->qmin || out->qmax < in->qmax)
    return std::nullopt;
  return PassThrough{n, c, dq->inputs[0], g_.nodes[c].outputs[0]};
}

Expected<Lowered> Pass::run() {
  Lowered result;
  std::vector<std::shared_ptr<Region>> regions;
  // Quantized tensors some region computes: region and tensor index.
  std::unordered_map<std::string, std::pair<int, int>> where;
  std::set<int> removed;
  std::vector<int> removable_weight_nodes;

  auto add_tensor = [&](int r, const std::string& name) {
    Region& reg = *regions[r];
    reg.tensors.push_back(*quantized_tensor(name));
    reg.tensor_names.push_back(name);
    where[name] = {r, static_cast<int>(reg.tensors.size()) - 1};
    return static_cast<int>(reg.tensors.size()) - 1;
  };
  // The region computing quantized tensor `name`; a new region quantizing its float source
  // if no region computes it yet.
  auto source = [&](const std::string& name) {
    auto it = where.find(name);
    if (it != where.end()) return it->second;
    const int qn = producer_.at(name);
    regions.push_back(std::make_shared<Region>());
    const int r = static_cast<int>(regions.size()) - 1;
    regions[r]->inputs.push_back(g_.nodes[qn].inputs[0]);
    Step s;
    s.kind = Step::Kind::kQuantize;
    s.node = g_.nodes[qn].name;
    s.src = 0;
    s.dst = add_tensor(r, name);
    regions[r]->steps.push_back(std::move(s));
    removed.insert(qn);
    return where[name];
  };

  for (int n = 0; n < static_cast<int>(g_.nodes.size()); ++n) {
    const Node& node = g_.nodes[n];
    if (node.op_type == "Conv" || node.op_type == "Gemm" || node.op_type == "MatMul") {
      const bool adjacent = [&] {
        for (size_t i = 0; i < 2 && i < node.inputs.size(); ++i) {
          const Node* p = producer(node.inputs[i]);
          if (p && p->op_type == "DequantizeLinear") return true;
        }
        return false;
      }();
      if (!adjacent) continue;
      auto plan = plan_anchor(n);
      if (!plan.ok()) {
        result.report.skipped.push_back({node.name, node.op_type, plan.status().message()});
        continue;
      }
      AnchorPlan& p = *plan;
      const auto [r, src] = source(p.input_q);
      Step s;
      s.kind = p.kind;
      s.node = node.name;
      s.op = node;
      s.src = src;
      s.weights = std::move(p.weights);
      s.weight_scales = std::move(p.scales);
      s.bias = std::move(p.bias);
      s.relu = p.relu;
      removed.insert(n);
      for (int f : p.fused) removed.insert(f);
      removable_weight_nodes.insert(removable_weight_nodes.end(), p.weight_nodes.begin(),
                                    p.weight_nodes.end());
      if (p.output_q.empty()) {
        s.dst_float = true;
        s.dst = static_cast<int>(regions[r]->outputs.size());
        regions[r]->outputs.push_back(p.output_float);
        regions[r]->steps.push_back(std::move(s));
        continue;
      }
      // Requantized output; the moved tail runs on the quantized tensor after it.
      if (p.tail.empty()) {
        s.dst = add_tensor(r, p.output_q);
        regions[r]->steps.push_back(std::move(s));
      } else {
        // Intermediate tensors of the tail are on the output's grid under their own names.
        const QuantParams grid = *quantized_tensor(p.output_q);
        auto& region =
            *regions[r];  // named: lambdas may not capture structured bindings (clang 14)
        auto add_internal = [&](const std::string& name) {
          region.tensors.push_back(grid);
          region.tensor_names.push_back(name);
          return static_cast<int>(region.tensors.size()) - 1;
        };
        s.dst = add_internal(node.name + ":int8");
        int cur = s.dst;
        regions[r]->steps.push_back(std::move(s));
        for (size_t k = 0; k < p.tail.size(); ++k) {
          const Node& t = g_.nodes[p.tail[k]];
          Step ts;
          ts.kind = t.op_type == "MaxPool" ? Step::Kind::kMaxPool : Step::Kind::kReshape;
          ts.node = t.name;
          ts.op = t;
          ts.flatten = t.op_type == "Flatten";
          if (t.op_type == "Reshape")
            ts.reshape_to = g_.initializers.at(t.inputs[1]).to_int64_vector();
          ts.src = cur;
          ts.dst = k + 1 == p.tail.size() ? add_tensor(r, p.output_q) : add_internal(t.outputs[0]);
          cur = ts.dst;
          regions[r]->steps.push_back(std::move(ts));
        }
      }
      continue;
    }
    if (auto pt = plan_pass_through(n); pt && where.count(pt->input_q)) {
      const auto [r, src] = where.at(pt->input_q);
      Step s;
      s.kind = node.op_type == "MaxPool" ? Step::Kind::kMaxPool : Step::Kind::kReshape;
      s.node = node.name;
      s.op = node;
      s.flatten = node.op_type == "Flatten";
      if (node.op_type == "Reshape")
        s.reshape_to = g_.initializers.at(node.inputs[1]).to_int64_vector();
      s.src = src;
      s.dst = add_tensor(r, pt->output_q);
      regions[r]->steps.push_back(std::move(s));
      removed.insert(n);
      removed.insert(pt->quantize);
    }
  }

  // Every DequantizeLinear of a region's tensor goes; the float values that kept nodes (or
  // graph outputs) still read are dequantized by the region.
  for (auto& [name, loc] : where)
    for (int d : consumers(name)) removed.insert(d);
  auto needed_outside = [&](const std::string& v) {
    if (graph_outputs_.count(v)) return true;
    for (int c : consumers(v))
      if (!removed.count(c)) return true;
    return false;
  };
  for (auto& region : regions) {
    const size_t count = region->steps.size();
    for (size_t k = 0; k < count; ++k) {
      if (region->steps[k].dst_float) continue;
      const int tensor = region->steps[k].dst;  // copied: the loop appends steps
      const std::string name = region->tensor_names[tensor];
      if (!where.count(name)) continue;  // internal tensor of a moved tail
      for (int d : consumers(name)) {
        const std::string& v = g_.nodes[d].outputs[0];
        if (!needed_outside(v)) continue;
        Step s;
        s.kind = Step::Kind::kDequantize;
        s.node = g_.nodes[d].name;
        s.src = tensor;
        s.dst_float = true;
        s.dst = static_cast<int>(region->outputs.size());
        region->outputs.push_back(v);
        region->steps.push_back(std::move(s));
      }
    }
  }
  // Weight QDQ nodes that only fed lowered nodes would otherwise still run every forward.
  for (int w : removable_weight_nodes) {  // DequantizeLinear before its QuantizeLinear
    bool used = false;
    for (const std::string& o : g_.nodes[w].outputs) used = used || needed_outside(o);
    if (!used) removed.insert(w);
  }

  for (int n = 0; n < static_cast<int>(g_.nodes.size()); ++n) {
    if (removed.count(n))
      result.report.lowered.push_back(g_.nodes[n].name);
    else
      result.nodes.push_back(g_.nodes[n]);
  }
  for (size_t r = 0; r < regions.size(); ++r) {
    Node rn;
    rn.name = "int8_region_" + std::to_string(r);
    rn.op_type = kRegionOp;
    rn.domain = kRegionDomain;
    rn.inputs = regions[r]->inputs;
    rn.outputs = regions[r]->outputs;
    rn.attributes["region"] = Attribute::of_int(static_cast<int64_t>(r));
    result.nodes.push_back(std::move(rn));
    result.regions.push_back(regions[r]);
  }
  result.report.regions = static_cast<int>(regions.size());

  // Region nodes were appended: order everything again.
  Graph sorted;
  sorted.nodes = std::move(result.nodes);
  sorted.inputs = g_.inputs;
  sorted.outputs = g_.outputs;
  for (const auto& [name, t] : g_.initializers) sorted.initializers.emplace(name, t);
  RETORT_RETURN_IF_ERROR(sorted.sort_topologically());
  result.nodes = std::move(sorted.nodes);
  return result;
}

}  // namespace

Expected<Lowered> lower(const Model& model) {
  return Pass(model).run();
}

int region_index(const Node& node) {
  if (node.op_type != kRegionOp || node.domain != kRegionDomain) return -1;
  return static_cast<int>(node.attr_int("region", -1));
}

}  // namespace retort::engine::int8
