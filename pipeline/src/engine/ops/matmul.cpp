// MatMul with numpy semantics: 1-D operands are promoted (and the extra dim dropped from the
// output), batch dims broadcast. Forward and both gradients are oneDNN matmuls; transposes are
// strided views. A gradient whose operand was broadcast over batch dims is computed at full
// batch size into a scratch buffer and summed down, except for the common "activations
// [.., M, K] times a shared weight [K, N]" case, which folds the batch into one matmul.
#include <algorithm>
#include <cstring>
#include <unordered_map>
#include <utility>

#include "broadcast.h"
#include "ops.h"
#include "retort/engine/dnnl_util.h"

namespace retort::engine {
namespace {

using dnnl::memory;

constexpr size_t kMaxRank = DNNL_MAX_NDIMS;

std::vector<int64_t> plain_strides(const Shape& dims) {
  std::vector<int64_t> strides(dims.size());
  int64_t s = 1;
  for (size_t i = dims.size(); i-- > 0;) {
    strides[i] = s;
    s *= std::max<int64_t>(dims[i], 1);
  }
  return strides;
}

memory::desc plain(const Shape& dims) {
  return memory::desc(to_dims(dims), memory::data_type::f32, plain_strides(dims));
}

// The stored tensor `dims` seen with its last two dims swapped (no copy).
memory::desc transposed(const Shape& dims) {
  Shape t = dims;
  std::vector<int64_t> strides = plain_strides(dims);
  const size_t r = dims.size();
  std::swap(t[r - 1], t[r - 2]);
  std::swap(strides[r - 1], strides[r - 2]);
  return memory::desc(to_dims(t), memory::data_type::f32, strides);
}

Shape with_matrix(Shape batch, int64_t rows, int64_t cols) {
  batch.push_back(rows);
  batch.push_back(cols);
  return batch;
}

dnnl::primitive_attr user_scratchpad() {
  dnnl::primitive_attr attr;
  attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
  return attr;
}

// One matmul primitive with its arguments bound once.
struct BoundMatmul {
  dnnl::matmul prim;
  std::unordered_map<int, memory> args;

  void create(const dnnl::engine& eng, const memory::desc& src, void* src_ptr,
              const memory::desc& wei, void* wei_ptr, const memory::desc& dst, void* dst_ptr) {
    dnnl::matmul::primitive_desc pd(dnnl::matmul::desc(src, wei, dst), user_scratchpad(), eng);
    prim = dnnl::matmul(pd);
    args = {{DNNL_ARG_SRC, memory(src, eng, src_ptr)},
            {DNNL_ARG_WEIGHTS, memory(wei, eng, wei_ptr)},
            {DNNL_ARG_DST, memory(dst, eng, dst_ptr)},
            {DNNL_ARG_SCRATCHPAD, memory(pd.scratchpad_desc(), eng)}};
  }
  void run(dnnl::stream& s) { prim.execute(s, args); }
};

class MatMulKernel final : public Kernel {
 public:
  // a, b: operands padded to the same rank >= 2; batch: broadcast batch dims.
  MatMulKernel(const KernelContext& ctx, Shape a, Shape b, Shape batch, Shape out_shape)
      : engine_(ctx.engine),
        stream_(ctx.stream),
        a_dims_(std::move(a)),
        b_dims_(std::move(b)),
        batch_(std::move(batch)),
        out_shape_(std::move(out_shape)) {
    const size_t r = a_dims_.size();
    m_ = a_dims_[r - 2];
    k_ = a_dims_[r - 1];
    n_ = b_dims_[r - 1];
  }

  std::vector<Shape> output_shapes() const override { return {out_shape_}; }

  Status bind(const Bindings& bd) override {
    a_ = bd.inputs[0];
    b_ = bd.inputs[1];
    y_ = bd.outputs[0];
    dy_ = bd.output_grads[0];
    da_ = bd.input_grads[0];
    db_ = bd.input_grads[1];
    degenerate_ = shape_numel(out_shape_) == 0 || k_ == 0;
    if (degenerate_) return Status::Ok();
    try {
      bind_primitives();
    } catch (const dnnl::error& e) {
      return make_error(ErrorCode::kInternal, "oneDNN matmul: ", e.what());
    }
    return Status::Ok();
  }

  void forward(bool /*training*/) override {
    if (degenerate_) {
      zero(y_);
      return;
    }
    fwd_.run(stream_);
    stream_.wait();
  }

  void backward() override {
    if (degenerate_ || !dy_) {
      zero(da_);
      zero(db_);
      return;
    }
    if (da_) bwd_a_.run(stream_);
    if (db_) bwd_b_.run(stream_);
    stream_.wait();
    if (da_ && !scratch_a_.empty())
      reduce_sum_to(scratch_a_.data<float>(), scratch_a_.shape(), da_.data, a_dims_);
    if (db_ && !scratch_b_.empty())
      reduce_sum_to(scratch_b_.data<float>(), scratch_b_.shape(), db_.data, b_dims_);
  }

 private:
  static void zero(const View& v) {
    if (v) std::memset(v.data, 0, static_cast<size_t>(v.numel()) * sizeof(float));
  }

  void bind_primitives() {
    const Shape out_dims = with_matrix(batch_, m_, n_);
    fwd_.create(engine_, plain(a_dims_), a_.data, plain(b_dims_), b_.data, plain(out_dims),
                y_.data);
    if (!dy_) return;
    const Shape a_batch(a_dims_.begin(), a_dims_.end() - 2);
    const Shape b_batch(b_dims_.begin(), b_dims_.end() - 2);
    if (da_) {
      // dA = dY B^T, at full batch size when A was broadcast.
      float* dst = da_.data;
      Shape dst_dims = a_dims_;
      if (a_batch != batch_) {
        scratch_a_ = Tensor(DType::kFloat32, with_matrix(batch_, m_, k_));
        dst = scratch_a_.data<float>();
        dst_dims = scratch_a_.shape();
      }
      bwd_a_.create(engine_, plain(out_dims), dy_.data, transposed(b_dims_), b_.data,
                    plain(dst_dims), dst);
    }
    if (db_) {
      // dB = A^T dY.
      const bool b_shared = shape_numel(b_batch) == 1;
      if (b_batch == batch_) {
        bwd_b_.create(engine_, transposed(a_dims_), a_.data, plain(out_dims), dy_.data,
                      plain(b_dims_), db_.data);
      } else if (b_shared && a_batch == batch_) {
        // Shared weight: sum over the batch is one [K, P*M] x [P*M, N] product.
        const int64_t rows = shape_numel(batch_) * m_;
        bwd_b_.create(engine_, memory::desc({k_, rows}, memory::data_type::f32, {1, k_}), a_.data,
                      plain({rows, n_}), dy_.data, plain({k_, n_}), db_.data);
      } else {
        scratch_b_ = Tensor(DType::kFloat32, with_matrix(batch_, k_, n_));
        bwd_b_.create(engine_, transposed(a_dims_), a_.data, plain(out_dims), dy_.data,
                      plain(scratch_b_.shape()), scratch_b_.data<float>());
      }
    }
  }

  dnnl::engine engine_;
  dnnl::stream stream_;
  const Shape a_dims_, b_dims_, batch_, out_shape_;
  int64_t m_ = 0, k_ = 0, n_ = 0;
  bool degenerate_ = false;
  View a_, b_, y_, dy_, da_, db_;
  BoundMatmul fwd_, bwd_a_, bwd_b_;
  Tensor scratch_a_, scratch_b_;  // full-batch gradients of a broadcast operand
};

}  // namespace

Expected<std::unique_ptr<Kernel>> create_mat_mul_kernel(const KernelContext& ctx) {
  const Node& node = ctx.node;
  if (node.input_count() != 2 || !node.has_input(0) || !node.has_input(1))
    return make_error(ErrorCode::kInvalidArgument, node.describe(), ": MatMul takes two inputs");
  const Shape& a = ctx.input_shapes[0];
  const Shape& b = ctx.input_shapes[1];
  if (a.empty() || b.empty())
    return make_error(ErrorCode::kInvalidArgument, node.describe(), ": operands ",
                      shape_to_string(a), " and ", shape_to_string(b),
                      " must have at least one dimension");
  // numpy promotion of vectors: [K] -> [1, K] on the left, [K] -> [K, 1] on the right.
  const Shape a2 = a.size() == 1 ? Shape{1, a[0]} : a;
  const Shape b2 = b.size() == 1 ? Shape{b[0], 1} : b;
  const size_t r = std::max(a2.size(), b2.size());
  if (r > kMaxRank)
    return make_error(ErrorCode::kUnsupported, node.describe(), ": rank ", r,
                      " is above the supported maximum of ", kMaxRank);
  const Shape ap = pad_left(a2, r), bp = pad_left(b2, r);
  if (ap[r - 1] != bp[r - 2])
    return make_error(ErrorCode::kInvalidArgument, node.describe(), ": inner dimensions differ: A ",
                      shape_to_string(a), " has K=", ap[r - 1], " but B ", shape_to_string(b),
                      " has K=", bp[r - 2]);
  Shape batch;
  if (!broadcast_shapes(Shape(ap.begin(), ap.end() - 2), Shape(bp.begin(), bp.end() - 2), &batch))
    return make_error(ErrorCode::kInvalidArgument, node.describe(), ": batch dimensions of A ",
                      shape_to_string(a), " and B ", shape_to_string(b), " do not broadcast");
  Shape out = batch;
  if (a.size() > 1) out.push_back(ap[r - 2]);
  if (b.size() > 1) out.push_back(bp[r - 1]);
  return std::unique_ptr<Kernel>(new MatMulKernel(ctx, ap, bp, batch, out));
}

}  // namespace retort::engine
