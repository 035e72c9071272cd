#include "broadcast.h"

#include <omp.h>

#include <algorithm>
#include <cassert>
#include <cstring>

namespace retort::engine {

bool broadcast_shapes(const Shape& a, const Shape& b, Shape* out) {
  const size_t rank = std::max(a.size(), b.size());
  const Shape pa = pad_left(a, rank), pb = pad_left(b, rank);
  Shape result(rank);
  for (size_t i = 0; i < rank; ++i) {
    if (pa[i] == pb[i] || pb[i] == 1) {
      result[i] = pa[i];
    } else if (pa[i] == 1) {
      result[i] = pb[i];
    } else {
      return false;
    }
  }
  *out = std::move(result);
  return true;
}

bool broadcasts_to(const Shape& from, const Shape& to) {
  if (from.size() > to.size()) return false;
  const Shape p = pad_left(from, to.size());
  for (size_t i = 0; i < to.size(); ++i)
    if (p[i] != 1 && p[i] != to[i]) return false;
  return true;
}

Shape pad_left(const Shape& shape, size_t rank) {
  assert(shape.size() <= rank);
  Shape padded(rank - shape.size(), 1);
  padded.insert(padded.end(), shape.begin(), shape.end());
  return padded;
}

BroadcastIter::BroadcastIter(const Shape& out, std::initializer_list<Shape> operands)
    : count_(operands.size()) {
  assert(count_ <= kMaxOperands);
  const size_t rank = out.size();
  // Right-aligned element strides per operand, 0 where the operand is broadcast.
  std::array<std::vector<int64_t>, kMaxOperands> full;
  size_t k = 0;
  for (const Shape& shape : operands) {
    const Shape p = pad_left(shape, rank);
    full[k].assign(rank, 0);
    int64_t stride = 1;
    for (size_t i = rank; i-- > 0;) {
      full[k][i] = p[i] == 1 ? 0 : stride;
      stride *= p[i];
    }
    ++k;
  }
  // Drop size-1 dims, then merge a dim into the previous one when every operand walks both
  // as one contiguous (or one fully broadcast) range.
  for (size_t i = 0; i < rank; ++i) {
    if (out[i] == 1) continue;
    bool merge = !dims_.empty();
    for (size_t j = 0; j < count_ && merge; ++j) merge = strides_[j].back() == full[j][i] * out[i];
    if (merge) {
      dims_.back() *= out[i];
      for (size_t j = 0; j < count_; ++j) strides_[j].back() = full[j][i];
    } else {
      dims_.push_back(out[i]);
      for (size_t j = 0; j < count_; ++j) strides_[j].push_back(full[j][i]);
    }
  }
  if (dims_.empty()) {
    dims_.push_back(1);
    for (size_t j = 0; j < count_; ++j) strides_[j].push_back(0);
  }
  inner_ = dims_.back();
  rows_ = 1;
  for (size_t i = 0; i + 1 < dims_.size(); ++i) rows_ *= dims_[i];
}

void BroadcastIter::offsets(int64_t row, int64_t* off) const {
  for (size_t j = 0; j < count_; ++j) off[j] = 0;
  for (size_t i = dims_.size() - 1; i-- > 0;) {
    const int64_t idx = row % dims_[i];
    row /= dims_[i];
    for (size_t j = 0; j < count_; ++j) off[j] += idx * strides_[j][i];
  }
}

bool BroadcastIter::outer_distinct(size_t k) const {
  for (size_t i = 0; i + 1 < dims_.size(); ++i)
    if (strides_[k][i] == 0) return false;
  return true;
}

dnnl::memory::desc dense_desc(const Shape& shape) {
  const Shape s = shape.empty() ? Shape{1} : shape;
  dnnl::memory::dims strides(s.size());
  int64_t stride = 1;
  for (size_t i = s.size(); i-- > 0;) {
    strides[i] = stride;
    stride *= std::max<int64_t>(s[i], 1);
  }
  return dnnl::memory::desc(dnnl::memory::dims(s.begin(), s.end()), dnnl::memory::data_type::f32,
                            strides);
}

void reduce_sum_to(const float* src, const Shape& from, float* dst, const Shape& to, float scale) {
  const int64_t n_src = shape_numel(from), n_dst = shape_numel(to);
  if (n_src == n_dst) {
#pragma omp parallel for simd if (n_src > kParallelGrain)
    for (int64_t i = 0; i < n_src; ++i) dst[i] = scale * src[i];
    return;
  }
  std::memset(dst, 0, static_cast<size_t>(n_dst) * sizeof(float));
  if (n_src == 0) return;
  const BroadcastIter it(from, {from, to});
  const int64_t rows = it.rows(), inner = it.inner();
  const bool parallel = n_src > kParallelGrain && omp_get_max_threads() > 1;
  if (it.inner_stride(1) == 1) {
    // Rows fold onto dst rows (e.g. a bias gradient: column sums). Threads split the columns,
    // so no two write the same element.
    const int64_t chunk = 64;
    const int64_t chunks = (inner + chunk - 1) / chunk;
#pragma omp parallel for if (parallel && chunks > 1)
    for (int64_t c = 0; c < chunks; ++c) {
      const int64_t c0 = c * chunk, c1 = std::min(inner, c0 + chunk);
      int64_t off[2];
      for (int64_t r = 0; r < rows; ++r) {
        it.offsets(r, off);
        const float* s = src + off[0];
        float* d = dst + off[1];
#pragma omp simd
        for (int64_t j = c0; j < c1; ++j) d[j] += s[j];
      }
    }
  } else if (it.outer_distinct(1)) {
    // Every row sums into its own element (e.g. [M,N] -> [M,1]).
#pragma omp parallel for if (parallel)
    for (int64_t r = 0; r < rows; ++r) {
      int64_t off[2];
      it.offsets(r, off);
      const float* s = src + off[0];
      float sum = 0;
#pragma omp simd reduction(+ : sum)
      for (int64_t j = 0; j < inner; ++j) sum += s[j];
      dst[off[1]] = sum;
    }
  } else {
    int64_t off[2];
    for (int64_t r = 0; r < rows; ++r) {
      it.offsets(r, off);
      const float* s = src + off[0];
      float sum = 0;
#pragma omp simd reduction(+ : sum)
      for (int64_t j = 0; j < inner; ++j) sum += s[j];
      dst[off[1]] += sum;
    }
  }
  if (scale != 1.0f)
    for (int64_t i = 0; i < n_dst; ++i) dst[i] *= scale;
}

}  // namespace retort::engine
