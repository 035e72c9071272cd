// The fused input normalisation y = (x - a) / b, optionally flattened (engine/chain_fusion.h).
// Forward is one oneDNN binary subtraction with the division as a binary post-op, written
// straight into the output (a Flatten only renames the row-major buffer's shape). When oneDNN
// cannot take it (x itself broadcast, or a broadcast pattern post-ops lack), two broadcast loops
// through a scratch buffer. Backward: dx = dy / b, summed over the dims x was broadcast along;
// a and b get no gradient (the pass fuses only constants no gradient reaches).
#include <algorithm>
#include <cstring>
#include <unordered_map>

#include "broadcast.h"
#include "engine/chain_fusion.h"
#include "ops.h"

namespace retort::engine {
namespace {

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
    if (x_full) use_dnnl_ = try_dnnl();
    if (!use_dnnl_) diff_tmp_ = Tensor(DType::kFloat32, diff_shape_);
    if (dx_ && dy_ && !x_full) grad_tmp_ = Tensor(DType::kFloat32, full_shape_);
    return Status::Ok();
  }

  void forward(bool /*training*/) override {
    if (shape_numel(full_shape_) == 0) return;
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
