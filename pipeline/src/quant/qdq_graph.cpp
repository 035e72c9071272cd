#include "retort/quant/qdq_graph.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <set>

#include <nlohmann/json.hpp>

#include "graph_queries.h"
#include "retort/graph/fold_constants.h"

namespace retort::quant {
namespace {

const std::set<std::string, std::less<>> kInt8Ops = {"Conv", "Gemm", "MatMul"};
// Ops that commute with quantization: an int8 engine runs them on the codes directly.
const std::set<std::string, std::less<>> kTransparentOps = {"MaxPool", "Flatten", "Reshape"};

nlohmann::json read_json_metadata(const Model& m, const char* key, nlohmann::json fallback) {
  auto it = m.metadata.find(key);
  if (it == m.metadata.end()) return fallback;
  nlohmann::json j = nlohmann::json::parse(it->second, nullptr, false);
  return j.is_discarded() ? fallback : j;
}

int64_t sample_numel(const std::map<std::string, std::vector<Dim>>& shapes, const std::string& v) {
  auto it = shapes.find(v);
  if (it == shapes.end()) return 1;
  int64_t n = 1;
  for (size_t d = 1; d < it->second.size(); ++d)
    if (it->second[d].is_fixed()) n *= it->second[d].value;
  return n;
}

}  // namespace

CodeRange QuantizationPlan::weight_range() const {
  return CodeRange::of(spec.weight_bits, /*is_signed=*/true, /*symmetric=*/true);
}

CodeRange QuantizationPlan::activation_range() const {
  return CodeRange::of(spec.activation_bits, spec.activation_signed, /*symmetric=*/false);
}

Expected<QuantizationPlan> plan_quantization(const Model& model, const QuantizeSpec& spec) {
  for (const auto& [what, bits] : {std::pair{"weight_bits", spec.weight_bits},
                                   std::pair{"activation_bits", spec.activation_bits}})
    if (bits < 2 || bits > 8)
      return make_error(ErrorCode::kInvalidArgument, what, " is ", bits,
                        ": bit widths must be between 2 and 8 (int8 codes hold them)");
  const Graph& g = model.graph;
  for (const std::string& name : spec.exclude)
    if (std::none_of(g.nodes.begin(), g.nodes.end(), [&](const Node& n) { return n.name == name; }))
      return make_error(ErrorCode::kNotFound, "exclude names node '", name,
                        "', which the model does not have");
  QuantizationPlan plan;
  plan.spec = spec;
  const auto counts = consumer_counts(g);
  std::map<std::string, size_t> activation_index;
  const std::set<std::string> requested(spec.op_types.begin(), spec.op_types.end());
  for (const Node& n : g.nodes) {
    if (!requested.count(n.op_type)) continue;
    const auto skip = [&](const std::string& why) {
      plan.skipped.push_back({n.name, n.op_type, why});
    };
    if (std::find(spec.exclude.begin(), spec.exclude.end(), n.name) != spec.exclude.end()) {
      skip("excluded by the recipe");
      continue;
    }
    if (!kInt8Ops.count(n.op_type)) {
      skip("no int8 path in the engine (int8 kernels exist for Conv, Gemm and MatMul)");
      continue;
    }
    if (!n.has_input(0) || !n.has_input(1) || g.is_initializer(n.inputs[0])) {
      skip("its first input is not a runtime activation");
      continue;
    }
    const Tensor* w = float_initializer(g, n.inputs[1]);
    if (w == nullptr) {
      skip("its weight '" + n.inputs[1] + "' is not a float32 initializer");
      continue;
    }
    WeightQuant wq;
    wq.node = n.name;
    wq.weight = n.inputs[1];
    if (n.op_type == "Conv") {
      if (w->rank() < 3) {
        skip("its weight is not a convolution kernel");
        continue;
      }
      wq.axis = 0;
    } else if (n.op_type == "Gemm") {
      if (n.attr_int("transA", 0) != 0) {
        skip("transA = 1 (the activation is transposed)");
        continue;
      }
      if (w->rank() != 2) {
        skip("its weight is not a matrix");
        continue;
      }
      wq.axis = n.attr_int("transB", 0) != 0 ? 0 : 1;
    } else {
      if (w->rank() != 2) {
        skip("its weight is not a matrix (batched MatMul weights stay float32)");
        continue;
      }
      wq.axis = 1;
    }
    wq.channels = spec.per_channel ? w->dim(static_cast<size_t>(wq.axis)) : 1;
    plan.weights.push_back(wq);
    plan.quantized.push_back(n.name);
    const std::string& x = n.inputs[0];
    if (activation_index.count(x)) continue;
    ActivationQuant a;
    a.value = x;
    std::string v = x;
    for (const Node* p = g.producer_of(v);
         p != nullptr && kTransparentOps.count(p->op_type) && p->has_input(0) &&
         !g.is_initializer(p->inputs[0]) && counts.at(p->inputs[0]) == 1;
         p = g.producer_of(v)) {
      v = p->inputs[0];
      a.upstream.push_back(v);
    }
    a.observed = v;
    activation_index[x] = plan.activations.size();
    plan.activations.push_back(a);
  }
  return plan;
}

Status compute_weight_qparams(const Model& model, QuantizationPlan& plan, ObserverKind kind) {
  const CodeRange range = plan.weight_range();
  for (WeightQuant& wq : plan.weights) {
    const Tensor& w = model.graph.initializers.at(wq.weight);
    const Shape& s = w.shape();
    int64_t outer = 1, inner = 1;
    for (int64_t d = 0; d < wq.axis; ++d) outer *= s[d];
    for (size_t d = static_cast<size_t>(wq.axis) + 1; d < s.size(); ++d) inner *= s[d];
    const int64_t axis_size = s[static_cast<size_t>(wq.axis)];
    // Gather each channel's values (per tensor: one channel of everything).
    std::vector<std::vector<float>> channel(static_cast<size_t>(wq.channels));
    const float* data = w.data<float>();
    for (int64_t o = 0; o < outer; ++o)
      for (int64_t c = 0; c < axis_size; ++c)
        for (int64_t i = 0; i < inner; ++i)
          channel[wq.channels == 1 ? 0 : c].push_back(data[(o * axis_size + c) * inner + i]);
    wq.scales.clear();
    for (const std::vector<float>& values : channel) {
      RangeObserver::Options o;
      o.kind = kind == ObserverKind::kMse ? ObserverKind::kMse : ObserverKind::kMinMax;
      RangeObserver obs(o, range, /*symmetric=*/true);
      obs.observe(values);
      RETORT_ASSIGN_OR_RETURN(QParams q, obs.qparams());
      wq.scales.push_back(q.scale);
    }
  }
  return Status::Ok();
}

Status apply_quantization(Model& model, const QuantizationPlan& plan,
                          const FakeQuantTraining& training) {
  Graph& g = model.graph;
  RETORT_RETURN_IF_ERROR(g.sort_topologically());
  const auto shapes = infer_shapes(g);
  nlohmann::json entries = read_json_metadata(model, kQuantizationKey, nlohmann::json::object());
  nlohmann::json constants = read_json_metadata(model, kConstantsKey, nlohmann::json::array());
  std::map<std::string, std::map<size_t, std::string>> rewires;  // node -> input -> new value

  const auto add_pair = [&](const std::string& x, const std::string& scale_name,
                            const std::string& zp_name, int64_t axis, nlohmann::json q_entry,
                            nlohmann::json dq_entry) {
    Node q;
    q.name = g.unique_name(x + ".quant");
    q.op_type = "QuantizeLinear";
    q.inputs = {x, scale_name, zp_name};
    q.outputs = {q.name};
    Node dq;
    dq.name = g.unique_name(x + ".dequant");
    dq.op_type = "DequantizeLinear";
    dq.inputs = {q.name, scale_name, zp_name};
    dq.outputs = {dq.name};
    if (axis >= 0) {
      q.attributes["axis"] = Attribute::of_int(axis);
      dq.attributes["axis"] = Attribute::of_int(axis);
    }
    entries[q.name] = std::move(q_entry);
    if (!dq_entry.empty()) entries[dq.name] = std::move(dq_entry);
    std::string out = dq.name;
    // Added now, so that the next pair's unique_name() sees these names.
    g.nodes.push_back(std::move(q));
    g.nodes.push_back(std::move(dq));
    return out;
  };

  // Activations: one pair per value, the chain sharing one scale and zero point.
  const CodeRange arange = plan.activation_range();
  const DType code_type = plan.spec.activation_signed ? DType::kInt8 : DType::kUInt8;
  for (const ActivationQuant& a : plan.activations) {
    const std::string scale_name = g.unique_name(a.observed + ".scale");
    g.initializers[scale_name] = Tensor::scalar(a.qparams.scale);
    const std::string zp_name = g.unique_name(a.observed + ".zero_point");
    Tensor zp(code_type, {});
    if (code_type == DType::kInt8)
      zp.data<int8_t>()[0] = static_cast<int8_t>(a.qparams.zero_point);
    else
      zp.data<uint8_t>()[0] = static_cast<uint8_t>(a.qparams.zero_point);
    g.initializers[zp_name] = zp;
    const float grad_scale =
        1.0f / std::sqrt(static_cast<float>(sample_numel(shapes, a.observed) * arange.qmax));
    std::vector<std::string> chain = {a.value};
    chain.insert(chain.end(), a.upstream.begin(), a.upstream.end());
    for (size_t i = 0; i < chain.size(); ++i) {
      const bool topmost = i + 1 == chain.size();
      nlohmann::json q_entry = {{"qmin", arange.qmin}, {"qmax", arange.qmax}};
      nlohmann::json dq_entry;
      if (training.learn_scales) {
        q_entry["grad_scale"] = grad_scale;
        dq_entry["grad_scale"] = grad_scale;
      } else if (training.observe_activations && topmost) {
        // Only the topmost pair observes; the others read the same scale after it.
        q_entry["observer"] = "ema";
        q_entry["momentum"] = training.momentum;
        q_entry["freeze_step"] = training.freeze_step;
      }
      const std::string dq = add_pair(chain[i], scale_name, zp_name, -1, q_entry, dq_entry);
      // Rewire the readers: of the activation, the quantized nodes; of an upstream value, the
      // transparent op below it.
      const std::string below = i == 0 ? "" : chain[i - 1];
      for (Node& n : g.nodes) {
        if (n.op_type == "QuantizeLinear" || n.op_type == "DequantizeLinear") continue;
        for (size_t k = 0; k < n.inputs.size(); ++k) {
          if (n.inputs[k] != chain[i]) continue;
          const bool quantized_reader =
              i == 0 ? (k == 0 && std::find(plan.quantized.begin(), plan.quantized.end(), n.name) !=
                                      plan.quantized.end())
                     : (!n.outputs.empty() && n.outputs[0] == below);
          if (quantized_reader) rewires[n.name][k] = dq;
        }
      }
    }
    if (!training.learn_scales) constants.push_back(scale_name);
  }

  // Weights: symmetric int8 codes, per channel along the output axis.
  const CodeRange wrange = plan.weight_range();
  std::map<std::string, std::string> weight_dq;
  for (const WeightQuant& wq : plan.weights) {
    if (weight_dq.count(wq.weight)) {
      rewires[wq.node][1] = weight_dq[wq.weight];
      continue;
    }
    if (wq.scales.size() != static_cast<size_t>(wq.channels))
      return make_error(ErrorCode::kInternal, "weight '", wq.weight,
                        "' has no scales (run compute_weight_qparams first)");
    const Shape sshape = wq.channels == 1 ? Shape{} : Shape{wq.channels};
    const std::string scale_name = g.unique_name(wq.weight + ".scale");
    g.initializers[scale_name] = Tensor::from_vector<float>(sshape, wq.scales);
    const std::string zp_name = g.unique_name(wq.weight + ".zero_point");
    g.initializers[zp_name] = Tensor(DType::kInt8, sshape);
    const int64_t per_scale = g.initializers.at(wq.weight).numel() / wq.channels;
    const float grad_scale = 1.0f / std::sqrt(static_cast<float>(per_scale * wrange.qmax));
    nlohmann::json q_entry = {{"qmin", wrange.qmin}, {"qmax", wrange.qmax}};
    nlohmann::json dq_entry;
    if (training.learn_scales) {
      q_entry["grad_scale"] = grad_scale;
      dq_entry["grad_scale"] = grad_scale;
    } else if (training.observe_weights) {
      q_entry["observer"] = "minmax";
      q_entry["symmetric"] = true;
    }
    const std::string dq = add_pair(wq.weight, scale_name, zp_name, wq.channels == 1 ? -1 : wq.axis,
                                    q_entry, dq_entry);
    weight_dq[wq.weight] = dq;
    rewires[wq.node][1] = dq;
    if (!training.learn_scales) constants.push_back(scale_name);
  }

  for (Node& n : g.nodes) {
    auto it = rewires.find(n.name);
    if (it == rewires.end()) continue;
    for (const auto& [k, v] : it->second) n.inputs[k] = v;
  }
  model.metadata[kQuantizationKey] = entries.dump();
  model.metadata[kConstantsKey] = constants.dump();
  return g.sort_topologically();
}

Expected<int> to_int8_weights(Model& model) {
  Graph& g = model.graph;
  nlohmann::json entries = read_json_metadata(model, kQuantizationKey, nlohmann::json::object());
  int converted = 0;
  std::set<std::string> removed_nodes;
  std::map<std::string, std::string> codes_of;  // Q output -> codes initializer
  for (const Node& q : g.nodes) {
    if (q.op_type != "QuantizeLinear" || !q.has_input(2)) continue;
    const Tensor* w = float_initializer(g, q.inputs[0]);
    const Tensor* scale = float_initializer(g, q.inputs[1]);
    auto zp_it = g.initializers.find(q.inputs[2]);
    if (w == nullptr || scale == nullptr || zp_it == g.initializers.end()) continue;
    const Tensor& zp = zp_it->second;
    const bool is_signed = zp.dtype() == DType::kInt8;
    int64_t qmin = is_signed ? -128 : 0, qmax = is_signed ? 127 : 255;
    if (entries.contains(q.name)) {
      qmin = entries[q.name].value("qmin", qmin);
      qmax = entries[q.name].value("qmax", qmax);
    }
    // The per-axis layout, as QuantizeLinear reads it.
    int64_t channels = 1, inner = w->numel();
    if (scale->numel() > 1) {
      int64_t axis = q.attr_int("axis", 1);
      if (axis < 0) axis += static_cast<int64_t>(w->rank());
      channels = w->dim(static_cast<size_t>(axis));
      inner = 1;
      for (size_t d = static_cast<size_t>(axis) + 1; d < w->rank(); ++d) inner *= w->dim(d);
    }
    Tensor codes(zp.dtype(), w->shape());
    const std::vector<int64_t> zps = zp.to_int64_vector();
    for (int64_t i = 0; i < w->numel(); ++i) {
      const int64_t c = (i / inner) % channels;
      const float s = scale->data<float>()[scale->numel() == 1 ? 0 : c];
      const int64_t z = zps[zps.size() == 1 ? 0 : c];
      const auto v = static_cast<int64_t>(
          std::clamp(std::nearbyint(w->data<float>()[i] / s) + static_cast<float>(z),
                     static_cast<float>(qmin), static_cast<float>(qmax)));
      if (is_signed)
        codes.data<int8_t>()[i] = static_cast<int8_t>(v);
      else
        codes.data<uint8_t>()[i] = static_cast<uint8_t>(v);
    }
    const std::string name = g.unique_name(q.inputs[0] + ".int8");
    g.initializers[name] = codes;
    codes_of[q.outputs[0]] = name;
    removed_nodes.insert(q.name);
    entries.erase(q.name);
    ++converted;
  }
  std::erase_if(g.nodes, [&](const Node& n) { return removed_nodes.count(n.name) != 0; });
  // Activation ranges narrower than the code type (bit widths below 8) cannot be said by an
  // opset-13 QuantizeLinear alone: a Clip to the range's real bounds in front of it says it,
  // so every ONNX runtime computes what retort does.
  std::vector<Node> clips;
  for (Node& q : g.nodes) {
    if (q.op_type != "QuantizeLinear" || !entries.contains(q.name) || !q.has_input(2)) continue;
    const Tensor* scale = float_initializer(g, q.inputs[1]);
    auto zp_it = g.initializers.find(q.inputs[2]);
    if (scale == nullptr || scale->numel() != 1 || zp_it == g.initializers.end()) continue;
    const bool is_signed = zp_it->second.dtype() == DType::kInt8;
    const int64_t lo_code = is_signed ? -128 : 0, hi_code = is_signed ? 127 : 255;
    const int64_t qmin = entries[q.name].value("qmin", lo_code);
    const int64_t qmax = entries[q.name].value("qmax", hi_code);
    if (qmin == lo_code && qmax == hi_code) continue;
    const float s = scale->data<float>()[0];
    const auto zp = static_cast<float>(zp_it->second.to_int64_vector()[0]);
    Node clip;
    clip.name = g.unique_name(q.inputs[0] + ".clip");
    clip.op_type = "Clip";
    const std::string lo = g.unique_name(clip.name + ".min");
    g.initializers[lo] = Tensor::scalar((static_cast<float>(qmin) - zp) * s);
    const std::string hi = g.unique_name(clip.name + ".max");
    g.initializers[hi] = Tensor::scalar((static_cast<float>(qmax) - zp) * s);
    clip.inputs = {q.inputs[0], lo, hi};
    clip.outputs = {clip.name};
    q.inputs[0] = clip.name;
    clips.push_back(std::move(clip));
  }
  for (Node& c : clips) g.nodes.push_back(std::move(c));
  for (Node& n : g.nodes)
    for (std::string& in : n.inputs) {
      auto it = codes_of.find(in);
      if (it != codes_of.end()) in = it->second;
    }
  const auto counts = consumer_counts(g);
  std::erase_if(g.initializers, [&](const auto& kv) { return !counts.count(kv.first); });
  if (entries.empty())
    model.metadata.erase(kQuantizationKey);
  else
    model.metadata[kQuantizationKey] = entries.dump();
  RETORT_RETURN_IF_ERROR(g.sort_topologically());
  return converted;
}

}  // namespace retort::quant
