#include "retort/engine/dnnl_util.h"

namespace retort::engine {

dnnl::engine& cpu_engine() {
  static dnnl::engine engine(dnnl::engine::kind::cpu, 0);
  return engine;
}

dnnl::memory::dims to_dims(const Shape& shape) { return dnnl::memory::dims(shape.begin(), shape.end()); }

dnnl::memory::desc plain_desc(const Shape& shape) {
  using tag = dnnl::memory::format_tag;
  static const tag kTags[] = {tag::a, tag::a, tag::ab, tag::abc, tag::abcd, tag::abcde, tag::abcdef};
  Shape s = shape.empty() ? Shape{1} : shape;
  return dnnl::memory::desc(to_dims(s), dnnl::memory::data_type::f32, kTags[s.size()]);
}

}  // namespace retort::engine
