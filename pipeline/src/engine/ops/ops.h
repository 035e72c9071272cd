// Factories of the built-in kernels, one file per op family. Registered in op_registry.cpp.
#pragma once

#include <memory>

#include "retort/engine/kernel.h"

namespace retort::engine {

// gemm.cpp
Expected<std::unique_ptr<Kernel>> create_gemm_kernel(const KernelContext& ctx);

// matmul.cpp
Expected<std::unique_ptr<Kernel>> create_mat_mul_kernel(const KernelContext& ctx);

// binary.cpp
Expected<std::unique_ptr<Kernel>> create_add_kernel(const KernelContext& ctx);
Expected<std::unique_ptr<Kernel>> create_sub_kernel(const KernelContext& ctx);
Expected<std::unique_ptr<Kernel>> create_mul_kernel(const KernelContext& ctx);
Expected<std::unique_ptr<Kernel>> create_div_kernel(const KernelContext& ctx);

// normalize.cpp: a fused Sub -> Div [-> Flatten] (engine/chain_fusion.h)
Expected<std::unique_ptr<Kernel>> create_normalize_kernel(const KernelContext& ctx);

// eltwise.cpp
Expected<std::unique_ptr<Kernel>> create_relu_kernel(const KernelContext& ctx);
Expected<std::unique_ptr<Kernel>> create_clip_kernel(const KernelContext& ctx);

// softmax.cpp
Expected<std::unique_ptr<Kernel>> create_softmax_kernel(const KernelContext& ctx);
Expected<std::unique_ptr<Kernel>> create_log_softmax_kernel(const KernelContext& ctx);

// reshape.cpp
Expected<std::unique_ptr<Kernel>> create_flatten_kernel(const KernelContext& ctx);
Expected<std::unique_ptr<Kernel>> create_reshape_kernel(const KernelContext& ctx);
Expected<std::unique_ptr<Kernel>> create_identity_kernel(const KernelContext& ctx);

// dropout.cpp
Expected<std::unique_ptr<Kernel>> create_dropout_kernel(const KernelContext& ctx);

// concat.cpp
Expected<std::unique_ptr<Kernel>> create_concat_kernel(const KernelContext& ctx);

// conv.cpp
Expected<std::unique_ptr<Kernel>> create_conv_kernel(const KernelContext& ctx);

// pooling.cpp
Expected<std::unique_ptr<Kernel>> create_max_pool_kernel(const KernelContext& ctx);
Expected<std::unique_ptr<Kernel>> create_average_pool_kernel(const KernelContext& ctx);
Expected<std::unique_ptr<Kernel>> create_global_average_pool_kernel(const KernelContext& ctx);

// pad.cpp
Expected<std::unique_ptr<Kernel>> create_pad_kernel(const KernelContext& ctx);

// batch_norm.cpp
Expected<std::unique_ptr<Kernel>> create_batch_normalization_kernel(const KernelContext& ctx);

// quantize_linear.cpp
Expected<std::unique_ptr<Kernel>> create_quantize_linear_kernel(const KernelContext& ctx);
Expected<std::unique_ptr<Kernel>> create_dequantize_linear_kernel(const KernelContext& ctx);

}  // namespace retort::engine
