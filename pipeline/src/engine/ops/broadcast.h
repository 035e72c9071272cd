// Shape helpers of the built-in kernels: numpy-style broadcasting (shape rules, a row iterator
// over an output with broadcast operands, the sum-reduction that backward needs) and dense
// row-major oneDNN descriptors of any rank oneDNN accepts.
#pragma once

#include <array>
#include <cstdint>
#include <initializer_list>
#include <string>

#include "oneapi/dnnl/dnnl.hpp"
#include "retort/core/tensor.h"

namespace retort::engine {

// Multidirectional broadcast of `a` and `b` into `out`; false if they are incompatible.
bool broadcast_shapes(const Shape& a, const Shape& b, Shape* out);
// Whether `from` broadcasts unidirectionally to `to` (every right-aligned dim is 1 or equal).
bool broadcasts_to(const Shape& from, const Shape& to);
// `shape` with leading 1s up to `rank` dims.
Shape pad_left(const Shape& shape, size_t rank);

// Walks an output shape one contiguous run ("row") at a time, with up to kMaxOperands operands
// broadcast to it. Dims that broadcast alike for every operand are merged first so that rows
// are as long as possible (a [M,N] + [N] add is M rows of N).
class BroadcastIter {
 public:
  static constexpr size_t kMaxOperands = 4;

  BroadcastIter(const Shape& out, std::initializer_list<Shape> operands);

  int64_t rows() const { return rows_; }
  int64_t inner() const { return inner_; }
  // Element stride of operand k inside a row: 1, or 0 when it is broadcast along the row.
  int64_t inner_stride(size_t k) const { return dims_.empty() ? 0 : strides_[k].back(); }
  // Start offsets of `row` for every operand.
  void offsets(int64_t row, int64_t* off) const;
  // Whether operand k is never broadcast in the outer dims (distinct rows, distinct offsets).
  bool outer_distinct(size_t k) const;

 private:
  size_t count_ = 0;
  Shape dims_;  // merged dims, last one is the row
  std::array<std::vector<int64_t>, kMaxOperands> strides_;
  int64_t rows_ = 1;
  int64_t inner_ = 1;
};

// dst (shape `to`) = scale * sum of src (shape `from`) over the dims that `to` broadcasts
// along. `to` must broadcast to `from`. Overwrites dst.
void reduce_sum_to(const float* src, const Shape& from, float* dst, const Shape& to,
                   float scale = 1.0f);

// Row-major f32 descriptor of `shape` via explicit strides, for ranks 1..DNNL_MAX_NDIMS
// (a scalar becomes [1]).
dnnl::memory::desc dense_desc(const Shape& shape);

// Below this many elements the elementwise loops stay on one thread (OpenMP start-up costs
// more than the work).
constexpr int64_t kParallelGrain = 1 << 15;

}  // namespace retort::engine
