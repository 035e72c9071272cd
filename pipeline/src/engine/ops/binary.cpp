// Add, Sub, Mul, Div with multidirectional broadcasting. Forward runs oneDNN binary when the
// first source already has the output shape (after swapping the operands of a commutative op),
// else a broadcast loop. Backward is loops: elementwise products, then sums over the dims an
// input was broadcast along.
#include <algorithm>
#include <cstring>
#include <unordered_map>

#include "broadcast.h"
#include "ops.h"
#include "retort/engine/dnnl_util.h"

namespace retort::engine {
namespace {

enum class BinaryOp { kAdd, kSub, kMul, kDiv };

const char* op_name(BinaryOp op) {
  switch (op) {
    case BinaryOp::kAdd:
      return "Add";
    case BinaryOp::kSub:
      return "Sub";
    case BinaryOp::kMul:
      return "Mul";
    case BinaryOp::kDiv:
      return "Div";
  }
  return "?";
}

dnnl::algorithm dnnl_algorithm(BinaryOp op) {
  switch (op) {
    case BinaryOp::kAdd:
      return dnnl::algorithm::binary_add;
    case BinaryOp::kSub:
      return dnnl::algorithm::binary_sub;
    case BinaryOp::kMul:
      return dnnl::algorithm::binary_mul;
    case BinaryOp::kDiv:
      return dnnl::algorithm::binary_div;
  }
  return dnnl::algorithm::binary_add;
}

class BinaryKernel final : public Kernel {
 public:
  BinaryKernel(const KernelContext& ctx, BinaryOp op, Shape a, Shape b, Shape out)
      : engine_(ctx.engine),
        stream_(ctx.stream),
        op_(op),
        a_shape_(std::move(a)),
        b_shape_(std::move(b)),
        out_shape_(std::move(out)) {}

  std::vector<Shape> output_shapes() const override { return {out_shape_}; }

  Status bind(const Bindings& bd) override {
    a_ = bd.inputs[0];
    b_ = bd.inputs[1];
    y_ = bd.outputs[0];
    dy_ = bd.output_grads[0];
    da_ = bd.input_grads[0];
    db_ = bd.input_grads[1];
    if (shape_numel(out_shape_) == 0) return Status::Ok();
    const bool a_full = shape_numel(a_shape_) == shape_numel(out_shape_);
    const bool b_full = shape_numel(b_shape_) == shape_numel(out_shape_);
    const bool commutative = op_ == BinaryOp::kAdd || op_ == BinaryOp::kMul;
    // oneDNN binary broadcasts src1 only, so src0 must have the output shape.
    if (a_full || (b_full && commutative)) {
      const bool swap = !a_full;
      const size_t rank = std::max<size_t>(out_shape_.size(), 1);
      const Shape& s0 = swap ? b_shape_ : a_shape_;
      const Shape& s1 = swap ? a_shape_ : b_shape_;
      try {
        const dnnl::memory::desc d0 = dense_desc(pad_left(s0, rank));
        const dnnl::memory::desc d1 = dense_desc(pad_left(s1, rank));
        const dnnl::memory::desc dd = dense_desc(pad_left(out_shape_, rank));
        dnnl::primitive_attr attr;
        attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
        dnnl::binary::primitive_desc pd(dnnl::binary::desc(dnnl_algorithm(op_), d0, d1, dd), attr,
                                        engine_);
        fwd_ = dnnl::binary(pd);
        fwd_args_ = {{DNNL_ARG_SRC_0, dnnl::memory(d0, engine_, swap ? b_.data : a_.data)},
                     {DNNL_ARG_SRC_1, dnnl::memory(d1, engine_, swap ? a_.data : b_.data)},
                     {DNNL_ARG_DST, dnnl::memory(dd, engine_, y_.data)},
                     {DNNL_ARG_SCRATCHPAD, dnnl::memory(pd.scratchpad_desc(), engine_)}};
        use_dnnl_ = true;
      } catch (const dnnl::error& e) {
        return make_error(ErrorCode::kInternal, "oneDNN binary: ", e.what());
      }
    }
    // Products and quotients need an output-sized temporary when reduced or reused.
    const bool needs_tmp = (op_ == BinaryOp::kMul && ((da_ && !a_full) || (db_ && !b_full))) ||
                           (op_ == BinaryOp::kDiv && (da_ || db_));
    if (dy_ && needs_tmp) tmp_ = Tensor(DType::kFloat32, out_shape_);
    return Status::Ok();
  }

  void forward(bool /*training*/) override {
    if (shape_numel(out_shape_) == 0) return;
    if (use_dnnl_) {
      fwd_.execute(stream_, fwd_args_);
      stream_.wait();
      return;
    }
    const Operand a{a_.data, &a_shape_}, b{b_.data, &b_shape_};
    switch (op_) {
      case BinaryOp::kAdd:
        broadcast_apply(out_shape_, y_.data, a, b, [](float x, float y) { return x + y; });
        break;
      case BinaryOp::kSub:
        broadcast_apply(out_shape_, y_.data, a, b, [](float x, float y) { return x - y; });
        break;
      case BinaryOp::kMul:
        broadcast_apply(out_shape_, y_.data, a, b, [](float x, float y) { return x * y; });
        break;
      case BinaryOp::kDiv:
        broadcast_apply(out_shape_, y_.data, a, b, [](float x, float y) { return x / y; });
        break;
    }
  }

  void backward() override {
    if (!dy_ || shape_numel(out_shape_) == 0) {
      for (const View& g : {da_, db_})
        if (g) std::memset(g.data, 0, static_cast<size_t>(g.numel()) * sizeof(float));
      return;
    }
    const float* dy = dy_.data;
    switch (op_) {
      case BinaryOp::kAdd:
      case BinaryOp::kSub:
        if (da_) reduce_sum_to(dy, out_shape_, da_.data, a_shape_, 1.0f);
        if (db_)
          reduce_sum_to(dy, out_shape_, db_.data, b_shape_, op_ == BinaryOp::kSub ? -1.0f : 1.0f);
        break;
      case BinaryOp::kMul:
        // dA = sum(dY * B), dB = sum(dY * A).
        if (da_) product_grad(a_shape_, da_.data, {b_.data, &b_shape_});
        if (db_) product_grad(b_shape_, db_.data, {a_.data, &a_shape_});
        break;
      case BinaryOp::kDiv: {
        // t = dY / B; dA = sum(t); dB = sum(-t * Y) (= -dY A / B^2, with Y = A / B).
        float* t = tmp_.data<float>();
        const Operand dyo{dy, &out_shape_}, to{t, &out_shape_};
        broadcast_apply(out_shape_, t, dyo, {b_.data, &b_shape_},
                        [](float g, float v) { return g / v; });
        if (da_) reduce_sum_to(t, out_shape_, da_.data, a_shape_, 1.0f);
        if (db_) {
          broadcast_apply(out_shape_, t, to, {y_.data, &out_shape_},
                          [](float g, float y) { return -g * y; });
          reduce_sum_to(t, out_shape_, db_.data, b_shape_, 1.0f);
        }
        break;
      }
    }
  }

 private:
  // grad (shape `target`) = sum over broadcast dims of dY * other.
  void product_grad(const Shape& target, float* grad, Operand other) {
    const Operand dyo{dy_.data, &out_shape_};
    const auto mul = [](float g, float v) { return g * v; };
    if (shape_numel(target) == shape_numel(out_shape_)) {
      broadcast_apply(out_shape_, grad, dyo, other, mul);
    } else {
      broadcast_apply(out_shape_, tmp_.data<float>(), dyo, other, mul);
      reduce_sum_to(tmp_.data<float>(), out_shape_, grad, target, 1.0f);
    }
  }

  dnnl::engine engine_;
  dnnl::stream stream_;
  const BinaryOp op_;
  const Shape a_shape_, b_shape_, out_shape_;
  View a_, b_, y_, dy_, da_, db_;
  bool use_dnnl_ = false;
  dnnl::binary fwd_;
  std::unordered_map<int, dnnl::memory> fwd_args_;
  Tensor tmp_;  // output-sized scratch for backward
};

Expected<std::unique_ptr<Kernel>> create_binary(const KernelContext& ctx, BinaryOp op) {
  const Node& node = ctx.node;
  if (node.inputs.size() != 2 || !node.has_input(0) || !node.has_input(1))
    return make_error(ErrorCode::kInvalidArgument, node.describe(), ": ", op_name(op),
                      " takes exactly two inputs");
  const Shape& a = ctx.input_shapes[0];
  const Shape& b = ctx.input_shapes[1];
  Shape out;
  if (!broadcast_shapes(a, b, &out))
    return make_error(ErrorCode::kInvalidArgument, node.describe(), ": input shapes ",
                      shape_to_string(a), " and ", shape_to_string(b),
                      " are not broadcastable (numpy rules: trailing dims must match or be 1)");
  if (out.size() > DNNL_MAX_NDIMS)
    return make_error(ErrorCode::kUnsupported, node.describe(), ": rank ", out.size(),
                      " is above the supported maximum of ", DNNL_MAX_NDIMS);
  return std::unique_ptr<Kernel>(new BinaryKernel(ctx, op, a, b, out));
}

}  // namespace

Expected<std::unique_ptr<Kernel>> create_add_kernel(const KernelContext& ctx) {
  return create_binary(ctx, BinaryOp::kAdd);
}

Expected<std::unique_ptr<Kernel>> create_sub_kernel(const KernelContext& ctx) {
  return create_binary(ctx, BinaryOp::kSub);
}

Expected<std::unique_ptr<Kernel>> create_mul_kernel(const KernelContext& ctx) {
  return create_binary(ctx, BinaryOp::kMul);
}

Expected<std::unique_ptr<Kernel>> create_div_kernel(const KernelContext& ctx) {
  return create_binary(ctx, BinaryOp::kDiv);
}

}  // namespace retort::engine
