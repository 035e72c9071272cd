// The fused input normalisation y = (x - a) / b, optionally flattened (engine/chain_fusion.h).
// The arch builders' form, a and b of one value per channel (shape [1, C, 1, ...] or a single
// value) against x [N, C, ...], runs as one vectorised pass over rows of x (per_channel_pass):
// in the hinton student's training step it takes 0.036-0.044 ms per 128 x 784 batch where
// oneDNN's binary subtraction with a division post-op took 0.049-0.053 (3 alternating runs of
// profile_train_step), for the same bits (a float subtraction, then a float division). Other forms
// run that oneDNN binary, written straight into the output (a Flatten only renames the
// row-major buffer's shape); when oneDNN cannot take it (x itself broadcast, or a broadcast
// pattern post-ops lack), two broadcast loops through a scratch buffer. Backward: dx = dy / b,
// summed over the dims x was broadcast along; a and b get no gradient (the pass fuses only
// constants no gradient reaches).
#include <algorithm>
#include <cstring>
#include <unordered_map>

#include "broadcast.h"
#include "engine/chain_fusion.h"
#include "engine/vector_clones.h"
#include "ops.h"

namespace retort::engine {
namespace {

// y = (x - a[c]) / b[c] over `rows` rows of `inner` elements, row r in channel r % channels;
// a_step, b_step are 1 for per-channel constants and 0 for a single value.
RETORT_VECTOR_CLONES
void per_channel_pass(const float* x, const float* a, const float* b, float* y, int64_t rows,
                      int64_t inner, int64_t channels, int64_t a_step, int64_t b_step) {
#pragma omp parallel for schedule(static) if (rows * inner > kParallelGrain)
  for (int64_t r = 0; r < rows; ++r) {
    const int64_t c = r % channels;
    const float av = a[c * a_step], bv = b[c * b_step];
    const float* __restrict xr = x + r * inner;
    float* __restrict yr = y + r * inner;
    for (int64_t j = 0; j < inner; ++j) yr[j] = (xr[j] - av) / bv;
  }
}

// The step through a constant of shape `c` (padded to x's rank) per channel of x: 1 when it
// holds one value per channel ([1, C, 1, ...]), 0 for a single value, -1 for any other form.
int64_t channel_step(const Shape& x, const Shape& c) {
  const Shape padded = pad_left(c, x.size());
  if (shape_numel(padded) == 1) return 0;
  for (size_t d = 0; d < padded.size(); ++d)
    if (padded[d] != (d == 1 ? x[1] : 1)) return -1;
  return 1;
}

class NormalizeKernel final : public Kernel {
 public:
  // `diff` = broadcast(x, a), `full` = broadcast(diff, b), `out` = full or its flattened shape.
  NormalizeKernel(const KernelContext& ctx, Shape x, Shape a, Shape b, Shape diff, Shape full,
                  Shape out)
      : engine_(ctx.engine),
        stream_(ctx.stream),
        x_shape_(std::move(x)),
        a_shape_(std::move(a)),
        b_shape_(std::move(b)),
        diff_shape_(std::move(diff)),
        full_shape_(std::move(full)),
        out_shape_(std::move(out)) {}

  std::vector<Shape> output_shapes() const override { return {out_shape_}; }
  bool differentiable_input(size_t i) const override { return i == 0; }

  Status bind(const Bindings& bd) override {
    x_ = bd.inputs[0];
    a_ = bd.inputs[1];
    b_ = bd.inputs[2];
    y_ = bd.outputs[0];
    dy_ = bd.output_grads[0];
    dx_ = bd.input_grads[0];
    if (shape_numel(full_shape_) == 0) return Status::Ok();
    const bool x_full = x_shape_ == full_shape_;
    if (x_full && x_shape_.size() >= 2) {
      a_step_ = channel_step(x_shape_, a_shape_);
      b_step_ = channel_step(x_shape_, b_shape_);
      per_channel_ = a_step_ >= 0 && b_step_ >= 0;
    }
    if (x_full && !per_channel_) use_dnnl_ = try_dnnl();
    if (!use_dnnl_ && !per_channel_) diff_tmp_ = Tensor(DType::kFloat32, diff_shape_);
    if (dx_ && dy_ && !x_full) grad_tmp_ = Tensor(DType::kFloat32, full_shape_);
    return Status::Ok();
  }

  void forward(bool /*training*/) override {
    if (shape_numel(full_shape_) == 0) return;
    if (per_channel_) {
      const int64_t channels = x_shape_[1], rows = x_shape_[0] * channels;
      per_channel_pass(x_.data, a_.data, b_.data, y_.data, rows, shape_numel(x_shape_) / rows,
                       channels, a_step_, b_step_);
      return;
    }
    if (use_dnnl_) {
      fwd_.execute(stream_, fwd_args_);
      stream_.wait();
      return;
    }
    float* diff = diff_tmp_.data<float>();
    broadcast_apply(diff_shape_, diff, {x_.data, &x_shape_}, {a_.data, &a_shape_},
                    [](float x, float a) { return x - a; });
    broadcast_apply(full_shape_, y_.data, {diff, &diff_shape_}, {b_.data, &b_shape_},
                    [](float d, float b) { return d / b; });
  }

  void backward() override {
    if (!dx_) return;
    if (!dy_ || shape_numel(full_shape_) == 0) {
      std::memset(dx_.data, 0, static_cast<size_t>(dx_.numel()) * sizeof(float));
      return;
    }
    const bool x_full = x_shape_ == full_shape_;
    float* t = x_full ? dx_.data : grad_tmp_.data<float>();
    broadcast_apply(full_shape_, t, {dy_.data, &full_shape_}, {b_.data, &b_shape_},
                    [](float g, float b) { return g / b; });
    if (!x_full) reduce_sum_to(t, full_shape_, dx_.data, x_shape_, 1.0f);
  }

 private:
  // oneDNN binary_sub(x, a) with post-op binary_div(b); false when oneDNN refuses the shapes.
  bool try_dnnl() {
    const size_t rank = std::max<size_t>(full_shape_.size(), 1);
    try {
      const dnnl::memory::desc dx = dense_desc(pad_left(x_shape_, rank));
      const dnnl::memory::desc da = dense_desc(pad_left(a_shape_, rank));
      const dnnl::memory::desc db = dense_desc(pad_left(b_shape_, rank));
      dnnl::post_ops divide;
      divide.append_binary(dnnl::algorithm::binary_div, db);
      dnnl::primitive_attr attr;
      attr.set_post_ops(divide);
      attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
      dnnl::binary::primitive_desc pd(dnnl::binary::desc(dnnl::algorithm::binary_sub, dx, da, dx),
                                      attr, engine_);
      fwd_ = dnnl::binary(pd);
      fwd_args_ = {
          {DNNL_ARG_SRC_0, dnnl::memory(dx, engine_, x_.data)},
          {DNNL_ARG_SRC_1, dnnl::memory(da, engine_, a_.data)},
          {DNNL_ARG_ATTR_MULTIPLE_POST_OP(0) | DNNL_ARG_SRC_1, dnnl::memory(db, engine_, b_.data)},
          {DNNL_ARG_DST, dnnl::memory(dx, engine_, y_.data)},
          {DNNL_ARG_SCRATCHPAD, dnnl::memory(pd.scratchpad_desc(), engine_)}};
      return true;
    } catch (const dnnl::error&) {
      return false;  // the loops below compute the same
    }
  }

  dnnl::engine engine_;
  dnnl::stream stream_;
  const Shape x_shape_, a_shape_, b_shape_, diff_shape_, full_shape_, out_shape_;
  View x_, a_, b_, y_, dy_, dx_;
  bool per_channel_ = false;  // per_channel_pass, with these steps through a and b
  int64_t a_step_ = 0, b_step_ = 0;
  bool use_dnnl_ = false;
  dnnl::binary fwd_;
  std::unordered_map<int, dnnl::memory> fwd_args_;
  Tensor diff_tmp_;  // x - a, when the loops run
  Tensor grad_tmp_;  // dy / b before the sum over x's broadcast dims
};

Status broadcast_error(const Node& node, const Shape& a, const Shape& b) {
  return make_error(ErrorCode::kInvalidArgument, node.describe(), ": input shapes ",
                    shape_to_string(a), " and ", shape_to_string(b),
                    " are not broadcastable (numpy rules: trailing dims must match or be 1)");
}

}  // namespace

Expected<std::unique_ptr<Kernel>> create_normalize_kernel(const KernelContext& ctx) {
  const Node& node = ctx.node;
  if (node.inputs.size() != 3 || !node.has_input(0) || !node.has_input(1) || !node.has_input(2))
    return make_error(ErrorCode::kInternal, node.describe(),
                      ": a fused normalisation takes x, mean and std");
  const Shape& x = ctx.input_shapes[0];
  const Shape& a = ctx.input_shapes[1];
  const Shape& b = ctx.input_shapes[2];
  Shape diff, full;
  if (!broadcast_shapes(x, a, &diff)) return broadcast_error(node, x, a);
  const Node div = fusion::fused_div_node(node);
  if (!broadcast_shapes(diff, b, &full)) return broadcast_error(div, diff, b);
  if (full.size() > DNNL_MAX_NDIMS)
    return make_error(ErrorCode::kUnsupported, div.describe(), ": rank ", full.size(),
                      " is above the supported maximum of ", DNNL_MAX_NDIMS);
  Shape out = full;
  if (fusion::has_fused_flatten(node)) {
    Node flatten = fusion::fused_flatten_node(node);
    flatten.inputs = {div.name + ".output"};
    const KernelContext flatten_ctx{flatten, {full}, {nullptr}, ctx.engine, ctx.stream};
    RETORT_ASSIGN_OR_RETURN(std::unique_ptr<Kernel> k, create_flatten_kernel(flatten_ctx));
    out = k->output_shapes()[0];
  }
  return std::unique_ptr<Kernel>(new NormalizeKernel(ctx, x, a, b, diff, full, out));
}

}  // namespace retort::engine
