// Small helpers shared by the oneDNN-backed kernels.
#pragma once

#include "oneapi/dnnl/dnnl.hpp"
#include "retort/core/tensor.h"

namespace retort::engine {

// Process-wide CPU engine (oneDNN engines are cheap to share; streams are per plan).
dnnl::engine& cpu_engine();

// Plain row-major f32 memory descriptor of `shape` (abcd... layout).
dnnl::memory::desc plain_desc(const Shape& shape);
dnnl::memory::dims to_dims(const Shape& shape);

}  // namespace retort::engine
