#include "retort/engine/dnnl_util.h"

#include <algorithm>

namespace retort::engine {

dnnl::engine& cpu_engine() {
  static dnnl::engine engine(dnnl::engine::kind::cpu, 0);
  return engine;
}

dnnl::memory::dims to_dims(const Shape& shape) {
  return dnnl::memory::dims(shape.begin(), shape.end());
}

dnnl::memory::desc plain_desc(const Shape& shape) {
  // Row-major strides work for every rank oneDNN supports (format tags stop at 6 here).
  Shape s = shape.empty() ? Shape{1} : shape;
  dnnl::memory::dims strides(s.size(), 1);
  for (size_t i = s.size() - 1; i > 0; --i)
    strides[i - 1] = strides[i] * std::max<int64_t>(1, s[i]);
  return dnnl::memory::desc(to_dims(s), dnnl::memory::data_type::f32, strides);
}

}  // namespace retort::engine
