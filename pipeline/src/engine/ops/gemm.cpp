// Gemm: Y = alpha * A' B' + beta * C (A' = transA ? A^T : A, likewise B'), on oneDNN matmul.
// Transposes are expressed through memory strides, so no operand is ever copied; the common
// MLP case (alpha = beta = 1, C of shape [N]) adds C as the matmul bias. In a plan with constant
// weights, an initializer B is packed once into the layout the matmul prefers. A node fused by
// the plan (chain_fusion.h: Gemm -> Relu) runs the ReLU as a matmul post-op and its backward
// before the matmul backward, into a buffer of its own.
//
// A training forward with a transposed, unpacked B (every Linear layer: W is [N, K]) on a few
// hundred rows runs as one single-threaded matmul per thread, each over its own block of
// columns. oneDNN splits such a problem over rows, so every thread would copy (transpose) all
// of B into its blocked layout; split over columns, each copies only its share. At 128 x 784 x
// 800 on 2 threads that is 0.48 ms instead of 0.55-0.60 (bench/README.md).
#include <omp.h>

#include <algorithm>
#include <cstring>
#include <string>
#include <unordered_map>
#include <vector>

#include "broadcast.h"
#include "engine/chain_fusion.h"
#include "ops.h"
#include "retort/engine/dnnl_util.h"

namespace retort::engine {
namespace {

using dnnl::memory;

// A rows x cols f32 matrix at the given element strides (a transpose swaps them).
memory::desc matrix_desc(int64_t rows, int64_t cols, int64_t row_stride, int64_t col_stride) {
  return memory::desc({rows, cols}, memory::data_type::f32, {row_stride, col_stride});
}

// When the forward splits over columns (see the top of the file): every part gets at least
// this many columns (fewer, and the parts are too narrow to win), the batch is at most this
// many rows (more, and oneDNN's own split has enough rows to share), and K is at most this
// deep (deeper, and the single-threaded parts lose: oneDNN then blocks K differently).
// Measured on Zen 5 at 2 threads, as K x N at M = 128: 784 x 256 gains nothing (nor does
// 800 x 800 at M = 256); 784 x 800, 1000 x 800, 1000 x 1200 and 784 x 1600 gain 15-25%;
// 1200 x 800, 1200 x 1200 and 1600 x 800 lose 5-12%.
constexpr int64_t kMinColumnsPerPart = 256;
constexpr int64_t kMaxRowsToSplit = 192;
constexpr int64_t kMaxDepthToSplit = 1024;
constexpr int64_t kColumnAlignment = 16;  // one AVX-512 vector of f32

// Scratchpads are owned by the kernel so a plan can run on any thread (TOOLCHAIN gotcha 5).
dnnl::primitive_attr user_scratchpad_attr(float scale) {
  dnnl::primitive_attr attr;
  attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
  if (scale != 1.0f) attr.set_output_scales(0, {scale});
  return attr;
}

class GemmKernel final : public Kernel {
 public:
  GemmKernel(const KernelContext& ctx, int64_t m, int64_t k, int64_t n, bool trans_a, bool trans_b,
             float alpha, float beta, bool has_c, Shape c_shape)
      : engine_(ctx.engine),
        stream_(ctx.stream),
        m_(m),
        k_(k),
        n_(n),
        trans_a_(trans_a),
        trans_b_(trans_b),
        alpha_(alpha),
        beta_(beta),
        has_c_(has_c),
        c_shape_(std::move(c_shape)),
        pack_b_(ctx.constant_weights && ctx.constants.size() > 1 && ctx.constants[1] != nullptr),
        relu_(fusion::is_fused_gemm(ctx.node)) {}

  std::vector<Shape> output_shapes() const override { return {{m_, n_}}; }

  Status bind(const Bindings& b) override {
    a_ = b.inputs[0];
    b_ = b.inputs[1];
    if (has_c_) c_ = b.inputs[2];
    y_ = b.outputs[0];
    dy_ = b.output_grads[0];
    da_ = b.input_grads[0];
    db_ = b.input_grads[1];
    if (has_c_) dc_ = b.input_grads[2];
    degenerate_ = m_ == 0 || n_ == 0 || k_ == 0;
    grad_out_ = dy_.data;
    try {
      if (relu_) create_relu();
      if (degenerate_) return Status::Ok();
      create_forward();
      if (dy_ && da_) create_backward_a();
      if (dy_ && db_) create_backward_b();
    } catch (const dnnl::error& e) {
      return make_error(ErrorCode::kInternal, "oneDNN matmul: ", e.what());
    }
    return Status::Ok();
  }

  void forward(bool /*training*/) override {
    if (degenerate_) {
      // K == 0: A'B' is all zeros.
      std::memset(y_.data, 0, static_cast<size_t>(y_.numel()) * sizeof(float));
      if (has_c_ && beta_ != 0.0f) add_scaled_c();
      if (relu_ && y_.numel() > 0) {
        relu_fwd_.execute(stream_, relu_fwd_args_);
        stream_.wait();
      }
      return;
    }
    run_forward_parts();
    if (has_c_ && !c_as_bias_ && beta_ != 0.0f) add_scaled_c();
  }

  void backward() override {
    if (relu_ && dy_ && y_.numel() > 0) {  // the gradient at the matmul's output
      relu_bwd_.execute(stream_, relu_bwd_args_);
      stream_.wait();
    }
    if (!dy_ || degenerate_) {
      for (const View& g : {da_, db_, dc_})
        if (g) std::memset(g.data, 0, static_cast<size_t>(g.numel()) * sizeof(float));
      if (dy_ && dc_) reduce_sum_to(grad_out_, {m_, n_}, dc_.data, c_shape_, beta_);
      return;
    }
    if (da_) bwd_a_.execute(stream_, bwd_a_args_);
    if (db_) bwd_b_.execute(stream_, bwd_b_args_);
    stream_.wait();
    if (dc_) reduce_sum_to(grad_out_, {m_, n_}, dc_.data, c_shape_, beta_);
  }

 private:
  // A' as an M x K matrix, B' as K x N, over the stored (possibly transposed) buffers.
  memory::desc a_op_desc() const {
    return trans_a_ ? matrix_desc(m_, k_, 1, m_) : matrix_desc(m_, k_, k_, 1);
  }
  memory::desc b_op_desc() const {
    return trans_b_ ? matrix_desc(k_, n_, 1, k_) : matrix_desc(k_, n_, n_, 1);
  }
  // Their transposes: A'^T is K x M, B'^T is N x K.
  memory::desc a_op_t_desc() const {
    return trans_a_ ? matrix_desc(k_, m_, m_, 1) : matrix_desc(k_, m_, 1, k_);
  }
  memory::desc b_op_t_desc() const {
    return trans_b_ ? matrix_desc(n_, k_, k_, 1) : matrix_desc(n_, k_, 1, n_);
  }

  // A fused ReLU: the forward primitive is used only when the matmul is degenerate (K = 0);
  // otherwise it is a post-op. Backward reads the output and writes grad_out_.
  void create_relu() {
    if (y_.numel() == 0) return;
    const memory::desc md = matrix_desc(m_, n_, n_, 1);
    const auto relu = dnnl::algorithm::eltwise_relu_use_dst_for_bwd;
    const dnnl::primitive_attr attr = user_scratchpad_attr(1.0f);
    const dnnl::eltwise_forward::primitive_desc fwd_pd(
        dnnl::eltwise_forward::desc(dnnl::prop_kind::forward_training, relu, md, 0.0f, 0.0f), attr,
        engine_);
    relu_fwd_ = dnnl::eltwise_forward(fwd_pd);
    const memory y(md, engine_, y_.data);
    relu_fwd_args_ = {{DNNL_ARG_SRC, y},
                      {DNNL_ARG_DST, y},
                      {DNNL_ARG_SCRATCHPAD, memory(fwd_pd.scratchpad_desc(), engine_)}};
    if (!dy_) return;
    relu_dy_ = memory(md, engine_);
    grad_out_ = static_cast<float*>(relu_dy_.get_data_handle());
    const dnnl::eltwise_backward::primitive_desc bwd_pd(
        dnnl::eltwise_backward::desc(relu, md, md, 0.0f, 0.0f), attr, engine_, fwd_pd);
    relu_bwd_ = dnnl::eltwise_backward(bwd_pd);
    relu_bwd_args_ = {{DNNL_ARG_DST, y},
                      {DNNL_ARG_DIFF_DST, memory(md, engine_, dy_.data)},
                      {DNNL_ARG_DIFF_SRC, relu_dy_},
                      {DNNL_ARG_SCRATCHPAD, memory(bwd_pd.scratchpad_desc(), engine_)}};
  }

  // One matmul over every column, or (see the top of the file) one per thread over its own
  // block of columns: Y[:, n0:n1] = A' B'[:, n0:n1], where B'[:, n0:n1] is rows n0..n1 of the
  // stored [N, K] matrix, contiguous.
  void create_forward() {
    // Fold C into the matmul bias when no scaling gets in the way (bias may broadcast).
    c_as_bias_ = has_c_ && alpha_ == 1.0f && beta_ == 1.0f;
    const int threads = omp_get_max_threads();
    if (trans_b_ && !pack_b_ && threads > 1 && m_ <= kMaxRowsToSplit && k_ <= kMaxDepthToSplit &&
        n_ >= threads * kMinColumnsPerPart) {
      const int64_t per_part = (n_ + threads - 1) / threads;
      const int64_t width = (per_part + kColumnAlignment - 1) / kColumnAlignment * kColumnAlignment;
      for (int64_t n0 = 0; n0 < n_; n0 += width) {
        const int64_t cols = std::min(width, n_ - n0);
        const memory::desc wei = matrix_desc(k_, cols, 1, k_);
        add_forward_part(forward_pd(wei, cols), n0, memory(wei, engine_, b_.data + n0 * k_));
      }
      return;
    }
    const memory::desc wei =
        pack_b_ ? memory::desc({k_, n_}, memory::data_type::f32, memory::format_tag::any)
                : b_op_desc();
    const dnnl::matmul::primitive_desc pd = forward_pd(wei, n_);
    memory stored_b(b_op_desc(), engine_, b_.data);
    if (pack_b_ && pd.weights_desc() != b_op_desc()) {
      memory packed(pd.weights_desc(), engine_);
      dnnl::reorder(stored_b, packed).execute(stream_, stored_b, packed);
      stream_.wait();
      stored_b = packed;
    }
    add_forward_part(pd, 0, stored_b);
  }

  // The forward matmul for `cols` output columns with weights `wei`: alpha as an output scale,
  // C as its bias when it can be, the fused ReLU as a post-op.
  dnnl::matmul::primitive_desc forward_pd(const memory::desc& wei, int64_t cols) const {
    dnnl::primitive_attr attr = user_scratchpad_attr(alpha_);
    if (relu_) {  // the fusion pass only fuses Gemms whose C is a bias or absent
      dnnl::post_ops ops;
      ops.append_eltwise(1.0f, dnnl::algorithm::eltwise_relu, 0.0f, 0.0f);
      attr.set_post_ops(ops);
    }
    const memory::desc dst = matrix_desc(m_, cols, n_, 1);
    if (c_as_bias_)
      return {dnnl::matmul::desc(a_op_desc(), wei, bias_desc(cols), dst), attr, engine_};
    return {dnnl::matmul::desc(a_op_desc(), wei, dst), attr, engine_};
  }

  // C as the bias of `cols` output columns: C is [N], [1, N], [M, N], [M, 1] or [1, 1]
  // (right-aligned broadcast); a column-broadcast C is the same for every block of columns.
  memory::desc bias_desc(int64_t cols) const {
    const Shape c2 = pad_left(c_shape_, 2);
    return c2[1] == 1 ? matrix_desc(c2[0], 1, 1, 1) : matrix_desc(c2[0], cols, c2[1], 1);
  }

  // The matmul `pd` writing output columns from n0 on, with its own stream (parts run on
  // different threads) and scratchpad.
  void add_forward_part(const dnnl::matmul::primitive_desc& pd, int64_t n0, const memory& weights) {
    ForwardPart part{dnnl::matmul(pd), dnnl::stream(engine_), {}};
    part.args[DNNL_ARG_SRC] = memory(a_op_desc(), engine_, a_.data);
    part.args[DNNL_ARG_WEIGHTS] = weights;
    part.args[DNNL_ARG_DST] = memory(pd.dst_desc(), engine_, y_.data + n0);
    part.args[DNNL_ARG_SCRATCHPAD] = memory(pd.scratchpad_desc(), engine_);
    if (c_as_bias_) {
      const bool per_column = pad_left(c_shape_, 2)[1] != 1;
      part.args[DNNL_ARG_BIAS] = memory(pd.bias_desc(), engine_, c_.data + (per_column ? n0 : 0));
    }
    forward_parts_.push_back(std::move(part));
  }

  // Inside the parallel region oneDNN runs each matmul on the calling thread alone. Fewer
  // threads than parts now (the caller lowered them since bind) run the parts in turn.
  void run_forward_parts() {
    const auto parts = static_cast<int>(forward_parts_.size());
    if (parts == 1) {
      ForwardPart& part = forward_parts_[0];
      part.matmul.execute(part.stream, part.args);
      part.stream.wait();
      return;
    }
    const int threads = std::min(parts, omp_get_max_threads());
#pragma omp parallel for num_threads(threads) schedule(static, 1)
    for (int i = 0; i < parts; ++i) {
      ForwardPart& part = forward_parts_[static_cast<size_t>(i)];
      part.matmul.execute(part.stream, part.args);
      part.stream.wait();
    }
  }

  // dA' = alpha * dY B'^T. Written so that the stored dA is the plain destination:
  // transA = 0: dA (M x K) = dY (M x N) * B'^T (N x K);
  // transA = 1: dA (K x M) = B' (K x N) * dY^T (N x M).
  void create_backward_a() {
    memory::desc src, wei, dst;
    void *src_ptr, *wei_ptr;
    if (!trans_a_) {
      src = matrix_desc(m_, n_, n_, 1);
      src_ptr = grad_out_;
      wei = b_op_t_desc();
      wei_ptr = b_.data;
      dst = matrix_desc(m_, k_, k_, 1);
    } else {
      src = b_op_desc();
      src_ptr = b_.data;
      wei = matrix_desc(n_, m_, 1, n_);
      wei_ptr = grad_out_;
      dst = matrix_desc(k_, m_, m_, 1);
    }
    dnnl::matmul::primitive_desc pd(dnnl::matmul::desc(src, wei, dst), user_scratchpad_attr(alpha_),
                                    engine_);
    bwd_a_ = dnnl::matmul(pd);
    bwd_a_args_ = {{DNNL_ARG_SRC, memory(src, engine_, src_ptr)},
                   {DNNL_ARG_WEIGHTS, memory(wei, engine_, wei_ptr)},
                   {DNNL_ARG_DST, memory(dst, engine_, da_.data)},
                   {DNNL_ARG_SCRATCHPAD, memory(pd.scratchpad_desc(), engine_)}};
  }

  // dB' = alpha * A'^T dY:
  // transB = 0: dB (K x N) = A'^T (K x M) * dY (M x N);
  // transB = 1: dB (N x K) = dY^T (N x M) * A' (M x K).
  void create_backward_b() {
    memory::desc src, wei, dst;
    void *src_ptr, *wei_ptr;
    if (!trans_b_) {
      src = a_op_t_desc();
      src_ptr = a_.data;
      wei = matrix_desc(m_, n_, n_, 1);
      wei_ptr = grad_out_;
      dst = matrix_desc(k_, n_, n_, 1);
    } else {
      src = matrix_desc(n_, m_, 1, n_);
      src_ptr = grad_out_;
      wei = a_op_desc();
      wei_ptr = a_.data;
      dst = matrix_desc(n_, k_, k_, 1);
    }
    dnnl::matmul::primitive_desc pd(dnnl::matmul::desc(src, wei, dst), user_scratchpad_attr(alpha_),
                                    engine_);
    bwd_b_ = dnnl::matmul(pd);
    bwd_b_args_ = {{DNNL_ARG_SRC, memory(src, engine_, src_ptr)},
                   {DNNL_ARG_WEIGHTS, memory(wei, engine_, wei_ptr)},
                   {DNNL_ARG_DST, memory(dst, engine_, db_.data)},
                   {DNNL_ARG_SCRATCHPAD, memory(pd.scratchpad_desc(), engine_)}};
  }

  // Y += beta * C, C broadcast over [M, N] (the rare alpha/beta != 1 path).
  void add_scaled_c() {
    const Shape out{m_, n_};
    const BroadcastIter it(out, {out, c_shape_});
    const float beta = beta_;
    const float* c = c_.data;
    float* y = y_.data;
    const int64_t inner = it.inner(), cs = it.inner_stride(1);
#pragma omp parallel for if (m_ * n_ > kParallelGrain)
    for (int64_t r = 0; r < it.rows(); ++r) {
      int64_t off[2];
      it.offsets(r, off);
      for (int64_t j = 0; j < inner; ++j) y[off[0] + j] += beta * c[off[1] + j * cs];
    }
  }

  dnnl::engine engine_;
  dnnl::stream stream_;
  const int64_t m_, k_, n_;
  const bool trans_a_, trans_b_;
  const float alpha_, beta_;
  const bool has_c_;
  const Shape c_shape_;
  const bool pack_b_;          // B is a constant initializer of a constant-weights plan
  const bool relu_;            // a fused Gemm -> Relu
  float* grad_out_ = nullptr;  // gradient at the matmul output: dy, or relu_dy_ when fused
  memory relu_dy_;
  dnnl::eltwise_forward relu_fwd_;
  dnnl::eltwise_backward relu_bwd_;
  std::unordered_map<int, memory> relu_fwd_args_, relu_bwd_args_;
  bool degenerate_ = false;
  bool c_as_bias_ = false;
  View a_, b_, c_, y_, dy_, da_, db_, dc_;
  struct ForwardPart {
    dnnl::matmul matmul;
    dnnl::stream stream;
    std::unordered_map<int, memory> args;
  };
  std::vector<ForwardPart> forward_parts_;  // one, or one per thread over blocks of columns
  dnnl::matmul bwd_a_, bwd_b_;
  std::unordered_map<int, memory> bwd_a_args_, bwd_b_args_;
};

}  // namespace

Expected<std::unique_ptr<Kernel>> create_gemm_kernel(const KernelContext& ctx) {
  const Node& node = ctx.node;
  if (!node.has_input(0) || !node.has_input(1) || node.inputs.size() > 3)
    return make_error(ErrorCode::kInvalidArgument, node.describe(),
                      ": Gemm takes inputs A, B and an optional C");
  const Shape& a = ctx.input_shapes[0];
  const Shape& b = ctx.input_shapes[1];
  if (a.size() != 2 || b.size() != 2)
    return make_error(ErrorCode::kInvalidArgument, node.describe(), ": A ", shape_to_string(a),
                      " and B ", shape_to_string(b), " must both be 2-D matrices");
  const int64_t trans_a = node.attr_int("transA", 0), trans_b = node.attr_int("transB", 0);
  if ((trans_a != 0 && trans_a != 1) || (trans_b != 0 && trans_b != 1))
    return make_error(ErrorCode::kInvalidArgument, node.describe(), ": transA=", trans_a,
                      " and transB=", trans_b, " must be 0 or 1");
  const int64_t m = trans_a ? a[1] : a[0], k = trans_a ? a[0] : a[1];
  const int64_t kb = trans_b ? b[1] : b[0], n = trans_b ? b[0] : b[1];
  if (k != kb)
    return make_error(ErrorCode::kInvalidArgument, node.describe(), ": inner dimensions differ: A ",
                      shape_to_string(a), " (transA=", trans_a, ") has K=", k, " but B ",
                      shape_to_string(b), " (transB=", trans_b, ") has K=", kb);
  const bool has_c = node.has_input(2);
  Shape c_shape;
  if (has_c) {
    c_shape = ctx.input_shapes[2];
    if (!broadcasts_to(c_shape, {m, n}))
      return make_error(ErrorCode::kInvalidArgument, node.describe(), ": C ",
                        shape_to_string(c_shape), " does not broadcast to the output [", m, ", ", n,
                        "]");
  }
  return std::unique_ptr<Kernel>(
      new GemmKernel(ctx, m, k, n, trans_a != 0, trans_b != 0, node.attr_float("alpha", 1.0f),
                     node.attr_float("beta", 1.0f), has_c, std::move(c_shape)));
}

}  // namespace retort::engine
