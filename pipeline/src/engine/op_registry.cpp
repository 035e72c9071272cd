#include <algorithm>
#include <map>

#include "ops/ops.h"

namespace retort::engine {
namespace {

const std::map<std::string, KernelFactory, std::less<>>& registry() {
  static const std::map<std::string, KernelFactory, std::less<>> kRegistry = {
      {"Gemm", &create_gemm_kernel},
      {"MatMul", &create_mat_mul_kernel},
      {"Add", &create_add_kernel},
      {"Sub", &create_sub_kernel},
      {"Mul", &create_mul_kernel},
      {"Div", &create_div_kernel},
      {"Relu", &create_relu_kernel},
      {"Clip", &create_clip_kernel},
      {"Softmax", &create_softmax_kernel},
      {"LogSoftmax", &create_log_softmax_kernel},
      {"Flatten", &create_flatten_kernel},
      {"Reshape", &create_reshape_kernel},
      {"Identity", &create_identity_kernel},
      {"Dropout", &create_dropout_kernel},
      {"Concat", &create_concat_kernel},
      {"Conv", &create_conv_kernel},
      {"MaxPool", &create_max_pool_kernel},
      {"AveragePool", &create_average_pool_kernel},
      {"GlobalAveragePool", &create_global_average_pool_kernel},
      {"Pad", &create_pad_kernel},
      {"BatchNormalization", &create_batch_normalization_kernel},
      {"QuantizeLinear", &create_quantize_linear_kernel},
      {"DequantizeLinear", &create_dequantize_linear_kernel},
  };
  return kRegistry;
}

}  // namespace

Expected<KernelFactory> find_kernel_factory(const Node& node) {
  if (!node.domain.empty() && node.domain != "ai.onnx")
    return make_error(ErrorCode::kUnsupported, node.describe(), ": operator domain '", node.domain,
                      "' is not supported (only the default ONNX domain)");
  auto it = registry().find(node.op_type);
  if (it == registry().end()) {
    std::string known;
    for (const auto& [name, _] : registry()) known += (known.empty() ? "" : ", ") + name;
    return make_error(ErrorCode::kUnsupported, node.describe(), ": operator '", node.op_type,
                      "' is not supported by the engine. Supported: ", known);
  }
  return it->second;
}

std::vector<std::string> supported_ops() {
  std::vector<std::string> names;
  for (const auto& [name, _] : registry()) names.push_back(name);
  return names;
}

}  // namespace retort::engine
