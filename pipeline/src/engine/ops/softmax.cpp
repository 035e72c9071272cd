// Softmax and LogSoftmax with opset-13 semantics (one `axis`, default -1), on oneDNN
// softmax/logsoftmax primitives. Backward reads the forward output.
#include <cstring>
#include <unordered_map>

#include "broadcast.h"
#include "ops.h"
#include "retort/engine/dnnl_util.h"

namespace retort::engine {
namespace {

template <typename Fwd, typename Bwd>
class SoftmaxKernel final : public Kernel {
 public:
  SoftmaxKernel(const KernelContext& ctx, Shape shape, int axis)
      : engine_(ctx.engine), stream_(ctx.stream), shape_(std::move(shape)), axis_(axis) {}

  std::vector<Shape> output_shapes() const override { return {shape_}; }

  Status bind(const Bindings& b) override {
    dx_ = b.input_grads[0];
    if (shape_numel(shape_) == 0) return Status::Ok();
    try {
      const dnnl::memory::desc md = dense_desc(shape_);
      dnnl::primitive_attr attr;
      attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
      const typename Fwd::primitive_desc fwd_pd(
          typename Fwd::desc(dnnl::prop_kind::forward_training, md, axis_), attr, engine_);
      fwd_ = Fwd(fwd_pd);
      fwd_args_ = {{DNNL_ARG_SRC, dnnl::memory(md, engine_, b.inputs[0].data)},
                   {DNNL_ARG_DST, dnnl::memory(md, engine_, b.outputs[0].data)},
                   {DNNL_ARG_SCRATCHPAD, dnnl::memory(fwd_pd.scratchpad_desc(), engine_)}};
      if (dx_ && b.output_grads[0]) {
        const typename Bwd::primitive_desc bwd_pd(typename Bwd::desc(md, md, axis_), attr, engine_,
                                                  fwd_pd);
        bwd_ = Bwd(bwd_pd);
        bwd_args_ = {{DNNL_ARG_DST, dnnl::memory(md, engine_, b.outputs[0].data)},
                     {DNNL_ARG_DIFF_DST, dnnl::memory(md, engine_, b.output_grads[0].data)},
                     {DNNL_ARG_DIFF_SRC, dnnl::memory(md, engine_, dx_.data)},
                     {DNNL_ARG_SCRATCHPAD, dnnl::memory(bwd_pd.scratchpad_desc(), engine_)}};
        has_bwd_ = true;
      }
    } catch (const dnnl::error& e) {
      return make_error(ErrorCode::kInternal, "oneDNN softmax: ", e.what());
    }
    return Status::Ok();
  }

  void forward(bool /*training*/) override {
    if (shape_numel(shape_) == 0) return;
    fwd_.execute(stream_, fwd_args_);
    stream_.wait();
  }

  void backward() override {
    if (!dx_) return;
    if (!has_bwd_) {
      std::memset(dx_.data, 0, static_cast<size_t>(dx_.numel()) * sizeof(float));
      return;
    }
    bwd_.execute(stream_, bwd_args_);
    stream_.wait();
  }

 private:
  dnnl::engine engine_;
  dnnl::stream stream_;
  const Shape shape_;
  const int axis_;
  View dx_;
  bool has_bwd_ = false;
  Fwd fwd_;
  Bwd bwd_;
  std::unordered_map<int, dnnl::memory> fwd_args_, bwd_args_;
};

template <typename Fwd, typename Bwd>
Expected<std::unique_ptr<Kernel>> create_softmax_like(const KernelContext& ctx) {
  const Node& node = ctx.node;
  if (node.inputs.size() != 1 || !node.has_input(0))
    return make_error(ErrorCode::kInvalidArgument, node.describe(), ": ", node.op_type,
                      " takes one input");
  const Shape& shape = ctx.input_shapes[0];
  const int64_t rank = static_cast<int64_t>(shape.size());
  if (rank == 0 || rank > DNNL_MAX_NDIMS)
    return make_error(ErrorCode::kUnsupported, node.describe(), ": input ", shape_to_string(shape),
                      " has rank ", rank, "; supported ranks are 1 to ", DNNL_MAX_NDIMS);
  const int64_t axis = node.attr_int("axis", -1);
  if (axis < -rank || axis >= rank)
    return make_error(ErrorCode::kInvalidArgument, node.describe(), ": axis ", axis,
                      " is out of range for input ", shape_to_string(shape), " (valid: ", -rank,
                      " to ", rank - 1, ")");
  const int normalized = static_cast<int>(axis < 0 ? axis + rank : axis);
  return std::unique_ptr<Kernel>(new SoftmaxKernel<Fwd, Bwd>(ctx, shape, normalized));
}

}  // namespace

Expected<std::unique_ptr<Kernel>> create_softmax_kernel(const KernelContext& ctx) {
  return create_softmax_like<dnnl::softmax_forward, dnnl::softmax_backward>(ctx);
}

Expected<std::unique_ptr<Kernel>> create_log_softmax_kernel(const KernelContext& ctx) {
  return create_softmax_like<dnnl::logsoftmax_forward, dnnl::logsoftmax_backward>(ctx);
}

}  // namespace retort::engine
