#include "retort/arch/graph_builder.h"

#include <algorithm>
#include <cassert>

#include "retort/core/checked_alloc.h"

namespace retort::arch {
namespace {

constexpr float kBatchNormEpsilon = 1e-5f;
constexpr float kBatchNormMomentum = 0.9f;  // ONNX: running = running * momentum + batch * (1 - m)

std::vector<Dim> batched_dims(const Shape& per_sample) {
  std::vector<Dim> dims{Dim::symbolic(kBatchDim)};
  for (int64_t d : per_sample) dims.push_back(Dim::fixed(d));
  return dims;
}

std::string hw_text(int64_t h, int64_t w) {
  return detail::str_cat(h, "x", w);
}

}  // namespace

std::array<int64_t, 4> same_pads(int64_t height, int64_t width, int64_t kernel, int64_t stride) {
  auto total = [&](int64_t size) {
    const int64_t out = (size + stride - 1) / stride;
    return std::max<int64_t>(0, (out - 1) * stride + kernel - size);
  };
  const int64_t th = total(height);
  const int64_t tw = total(width);
  return {th / 2, tw / 2, th - th / 2, tw - tw / 2};
}

GraphBuilder::GraphBuilder(Model& model, engine::InitKind init, uint64_t seed, bool initialize)
    : model_(model), init_(init), seed_(seed), initialize_(initialize) {}

std::string GraphBuilder::input(const std::string& name, const Shape& chw) {
  model_.graph.inputs.push_back(ValueInfo{name, DType::kFloat32, batched_dims(chw)});
  shapes_[name] = chw;
  return name;
}

void GraphBuilder::output(const std::string& value) {
  model_.graph.outputs.push_back(ValueInfo{value, DType::kFloat32, batched_dims(shape(value))});
}

const Shape& GraphBuilder::shape(const std::string& value) const {
  auto it = shapes_.find(value);
  assert(it != shapes_.end() && "value not made by this GraphBuilder");
  return it->second;
}

Node& GraphBuilder::add_node(const std::string& name, const std::string& op_type,
                             std::vector<std::string> inputs, const std::string& output,
                             const Shape& shape) {
  assert(!shapes_.count(output) && "value name used twice");
  Node node;
  node.name = name;
  node.op_type = op_type;
  node.inputs = std::move(inputs);
  node.outputs = {output};
  model_.graph.nodes.push_back(std::move(node));
  shapes_[output] = shape;
  return model_.graph.nodes.back();
}

void GraphBuilder::add_weight(const std::string& name, Shape shape) {
  assert(!model_.graph.initializers.count(name) && "initializer name used twice");
  // The sizes come from a spec, that is from a file: checked before anything is allocated.
  if (status_.ok()) {
    const std::string what = "weight '" + name + "'";
    status_ = check_buffer_size(DType::kFloat32, shape, what);
    if (status_.ok()) {
      const auto bytes = static_cast<uint64_t>(shape_numel(shape)) * sizeof(float);
      const uint64_t limit = buffer_limit_bytes();
      if (bytes > limit - weight_bytes_)
        status_ =
            make_error(ErrorCode::kInvalidArgument, "the weights up to ", what, " ",
                       shape_to_string(shape), " need ", format_bytes(weight_bytes_ + bytes),
                       ", more than the ", format_bytes(limit), " of memory this machine has");
      weight_bytes_ += bytes;
    }
    if (!status_.ok())
      status_ = make_error(status_.code(), status_.message(), "; use fewer or smaller layers");
  }
  if (!status_.ok()) {
    model_.graph.initializers[name] = Tensor();
    return;
  }
  auto w = allocate_tensor(DType::kFloat32, shape, "weight '" + name + "'");
  if (!w.ok()) {
    status_ = w.status();
    model_.graph.initializers[name] = Tensor();
    return;
  }
  if (initialize_) engine::initialize_weight(*w, init_, seed_, name);
  model_.graph.initializers[name] = std::move(w).value();
}

void GraphBuilder::add_constant(const std::string& name, Tensor value) {
  assert(!model_.graph.initializers.count(name) && "initializer name used twice");
  model_.graph.initializers[name] = std::move(value);
}

std::string GraphBuilder::sub_constant(const std::string& name, const std::string& x,
                                       const std::string& constant_name, Tensor constant) {
  add_constant(constant_name, std::move(constant));
  add_node(name, "Sub", {x, constant_name}, name, shape(x));
  return name;
}

std::string GraphBuilder::div_constant(const std::string& name, const std::string& x,
                                       const std::string& constant_name, Tensor constant) {
  add_constant(constant_name, std::move(constant));
  add_node(name, "Div", {x, constant_name}, name, shape(x));
  return name;
}

Expected<std::string> GraphBuilder::conv(const std::string& name, const std::string& x,
                                         const ConvOptions& o) {
  const Shape in = shape(x);
  if (in.size() != 3)
    return make_error(ErrorCode::kInvalidArgument, "layer '", name,
                      "': a convolution needs a [C, H, W] feature map, found ",
                      shape_to_string(in));
  const auto& p = o.pads;
  const int64_t padded_h = in[1] + p[0] + p[2];
  const int64_t padded_w = in[2] + p[1] + p[3];
  if (padded_h < o.kernel || padded_w < o.kernel)
    return make_error(
        ErrorCode::kInvalidArgument, "layer '", name, "': a ", hw_text(o.kernel, o.kernel),
        " kernel does not fit the ", hw_text(in[1], in[2]), " feature map (padded to ",
        hw_text(padded_h, padded_w),
        "); use a smaller kernel, more padding, or fewer pooling/stride steps before it");
  const Shape out{o.out_channels, (padded_h - o.kernel) / o.stride + 1,
                  (padded_w - o.kernel) / o.stride + 1};
  const std::string weight = name + ".weight";
  add_weight(weight, {o.out_channels, in[0], o.kernel, o.kernel});
  std::vector<std::string> inputs{x, weight};
  if (o.bias) {
    add_constant(name + ".bias", Tensor(DType::kFloat32, {o.out_channels}));
    inputs.push_back(name + ".bias");
  }
  Node& node = add_node(name, "Conv", std::move(inputs), name, out);
  node.attributes["kernel_shape"] = Attribute::of_ints({o.kernel, o.kernel});
  node.attributes["strides"] = Attribute::of_ints({o.stride, o.stride});
  node.attributes["pads"] = Attribute::of_ints({p[0], p[1], p[2], p[3]});
  node.attributes["dilations"] = Attribute::of_ints({1, 1});
  node.attributes["group"] = Attribute::of_int(1);
  return name;
}

std::string GraphBuilder::batch_norm(const std::string& name, const std::string& x) {
  const Shape& in = shape(x);
  const int64_t channels = in[0];
  Tensor scale(DType::kFloat32, {channels});
  Tensor var(DType::kFloat32, {channels});
  engine::fill(scale, 1.0f);
  engine::fill(var, 1.0f);
  add_constant(name + ".scale", std::move(scale));
  add_constant(name + ".bias", Tensor(DType::kFloat32, {channels}));
  add_constant(name + ".mean", Tensor(DType::kFloat32, {channels}));
  add_constant(name + ".var", std::move(var));
  Node& node =
      add_node(name, "BatchNormalization",
               {x, name + ".scale", name + ".bias", name + ".mean", name + ".var"}, name, in);
  node.attributes["epsilon"] = Attribute::of_float(kBatchNormEpsilon);
  node.attributes["momentum"] = Attribute::of_float(kBatchNormMomentum);
  return name;
}

std::string GraphBuilder::relu(const std::string& name, const std::string& x) {
  add_node(name, "Relu", {x}, name, shape(x));
  return name;
}

Expected<std::string> GraphBuilder::max_pool(const std::string& name, const std::string& x,
                                             int64_t window) {
  const Shape in = shape(x);
  if (in.size() != 3)
    return make_error(ErrorCode::kInvalidArgument, "layer '", name,
                      "': pooling needs a [C, H, W] feature map, found ", shape_to_string(in));
  if (in[1] < window || in[2] < window)
    return make_error(ErrorCode::kInvalidArgument, "layer '", name, "': a ",
                      hw_text(window, window), " pooling window does not fit the ",
                      hw_text(in[1], in[2]), " feature map; pool less often or use a larger input");
  Node& node = add_node(name, "MaxPool", {x}, name, {in[0], in[1] / window, in[2] / window});
  node.attributes["kernel_shape"] = Attribute::of_ints({window, window});
  node.attributes["strides"] = Attribute::of_ints({window, window});
  node.attributes["pads"] = Attribute::of_ints({0, 0, 0, 0});
  return name;
}

std::string GraphBuilder::global_average_pool(const std::string& name, const std::string& x) {
  const Shape& in = shape(x);
  add_node(name, "GlobalAveragePool", {x}, name, {in[0], 1, 1});
  return name;
}

std::string GraphBuilder::flatten(const std::string& name, const std::string& x) {
  add_node(name, "Flatten", {x}, name, {shape_numel(shape(x))});
  model_.graph.nodes.back().attributes["axis"] = Attribute::of_int(1);
  return name;
}

std::string GraphBuilder::gemm(const std::string& name, const std::string& x, int64_t out_features,
                               const std::string& output_value) {
  const Shape& in = shape(x);
  assert(in.size() == 1 && "Gemm needs a flattened [F] input");
  const std::string weight = name + ".weight";
  const std::string bias = name + ".bias";
  add_weight(weight, {out_features, in[0]});
  add_constant(bias, Tensor(DType::kFloat32, {out_features}));
  const std::string out = output_value.empty() ? name : output_value;
  Node& node = add_node(name, "Gemm", {x, weight, bias}, out, {out_features});
  node.attributes["transB"] = Attribute::of_int(1);
  return out;
}

std::string GraphBuilder::dropout(const std::string& name, const std::string& x, double ratio) {
  const std::string ratio_name = name + ".ratio";
  add_constant(ratio_name, Tensor::scalar(static_cast<float>(ratio)));
  add_node(name, "Dropout", {x, ratio_name}, name, shape(x));
  return name;
}

std::string GraphBuilder::add(const std::string& name, const std::string& a, const std::string& b) {
  assert(shape(a) == shape(b));
  add_node(name, "Add", {a, b}, name, shape(a));
  return name;
}

}  // namespace retort::arch
