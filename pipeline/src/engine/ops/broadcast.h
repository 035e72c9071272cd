// Shape helpers of the built-in kernels: numpy-style broadcasting (shape rules, a row iterator
// over an output with broadcast operands, an elementwise apply over it, the sum-reduction that
// backward needs) and dense row-major oneDNN descriptors of any rank oneDNN accepts.
#pragma once

#include <algorithm>
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

// One broadcast operand: data and its (unpadded) shape.
struct Operand {
  const float* data;
  const Shape* shape;
};

template <int SX, int SY, typename F>
void apply_row(float* d, const float* x, const float* y, int64_t n, F f) {
#pragma omp simd
  for (int64_t j = 0; j < n; ++j) d[j] = f(x[j * SX], y[j * SY]);
}

// dst[i] = f(x[i'], y[i'']) over `out` with x and y broadcast to it. dst has the full output
// shape, so rows are independent; long rows are also split so that a same-shape op (one
// merged row) still spreads over the threads. dst may alias x or y when that operand has the
// output shape.
template <typename F>
void broadcast_apply(const Shape& out, float* dst, Operand x, Operand y, F f) {
  constexpr int64_t kChunk = 1 << 13;
  const BroadcastIter it(out, {out, *x.shape, *y.shape});
  const int64_t inner = it.inner();
  const int64_t sx = it.inner_stride(1), sy = it.inner_stride(2);
  const int64_t per_row = std::max<int64_t>(1, (inner + kChunk - 1) / kChunk);
  const int64_t tasks = it.rows() * per_row;
#pragma omp parallel for if (shape_numel(out) > kParallelGrain)
  for (int64_t t = 0; t < tasks; ++t) {
    const int64_t r = t / per_row, begin = (t % per_row) * kChunk;
    const int64_t len = std::min(kChunk, inner - begin);
    int64_t off[3];
    it.offsets(r, off);
    float* d = dst + off[0] + begin;
    const float* xp = x.data + off[1] + begin * sx;
    const float* yp = y.data + off[2] + begin * sy;
    if (sx && sy) {
      apply_row<1, 1>(d, xp, yp, len, f);
    } else if (sx) {
      apply_row<1, 0>(d, xp, yp, len, f);
    } else if (sy) {
      apply_row<0, 1>(d, xp, yp, len, f);
    } else {
      apply_row<0, 0>(d, xp, yp, len, f);
    }
  }
}

}  // namespace retort::engine
