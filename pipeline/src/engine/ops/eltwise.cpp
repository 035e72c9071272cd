// Relu and Clip on oneDNN eltwise primitives (a small ReLU in a loop of its own that gives oneDNN's
// bits). Backward reads the output (relu_use_dst_for_bwd), which stays correct should the
// plan ever run Relu in place.
#include <cstring>
#include <limits>
#include <unordered_map>

#include "broadcast.h"
#include "ops.h"
#include "retort/engine/dnnl_util.h"

namespace retort::engine {
namespace {

// A ReLU of at most this many elements runs on the calling thread: for a small tensor, waking
// oneDNN's OpenMP team costs more than the work, and on a busy machine the fork and join take
// a scheduler slice per node (a chain of small ReLUs spent about 90% of its time there).
constexpr int64_t kInlineReluMaxElements = int64_t{1} << 15;

class EltwiseKernel final : public Kernel {
 public:
  EltwiseKernel(const KernelContext& ctx, dnnl::algorithm fwd_alg, dnnl::algorithm bwd_alg,
                float alpha, float beta, Shape shape)
      : engine_(ctx.engine),
        stream_(ctx.stream),
        fwd_alg_(fwd_alg),
        bwd_alg_(bwd_alg),
        alpha_(alpha),
        beta_(beta),
        shape_(std::move(shape)),
        inline_relu_(fwd_alg == dnnl::algorithm::eltwise_relu_use_dst_for_bwd && alpha == 0.0f &&
                     shape_numel(shape_) <= kInlineReluMaxElements) {}

  std::vector<Shape> output_shapes() const override { return {shape_}; }
  // Inputs after the first (Clip's bounds) are constants read at creation.
  bool differentiable_input(size_t i) const override { return i == 0; }
  bool runtime_input(size_t i) const override { return i == 0; }

  Status bind(const Bindings& b) override {
    dx_ = b.input_grads[0];
    if (inline_relu_) {  // no oneDNN objects at all
      x_ = b.inputs[0].data;
      y_ = b.outputs[0].data;
      dy_ = b.output_grads[0].data;
      return Status::Ok();
    }
    if (shape_numel(shape_) == 0) return Status::Ok();
    try {
      const dnnl::memory::desc md = dense_desc(shape_);
      dnnl::primitive_attr attr;
      attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
      const dnnl::eltwise_forward::primitive_desc fwd_pd(
          dnnl::eltwise_forward::desc(dnnl::prop_kind::forward_training, fwd_alg_, md, alpha_,
                                      beta_),
          attr, engine_);
      fwd_ = dnnl::eltwise_forward(fwd_pd);
      fwd_args_ = {{DNNL_ARG_SRC, dnnl::memory(md, engine_, b.inputs[0].data)},
                   {DNNL_ARG_DST, dnnl::memory(md, engine_, b.outputs[0].data)},
                   {DNNL_ARG_SCRATCHPAD, dnnl::memory(fwd_pd.scratchpad_desc(), engine_)}};
      if (b.output_grads[0] && dx_) {
        const dnnl::eltwise_backward::primitive_desc bwd_pd(
            dnnl::eltwise_backward::desc(bwd_alg_, md, md, alpha_, beta_), attr, engine_, fwd_pd);
        bwd_ = dnnl::eltwise_backward(bwd_pd);
        // The _use_dst_for_bwd algorithms read the output; the others (clip) the input.
        const bool reads_dst = bwd_alg_ == dnnl::algorithm::eltwise_relu_use_dst_for_bwd;
        bwd_args_ = {{reads_dst ? DNNL_ARG_DST : DNNL_ARG_SRC,
                      dnnl::memory(md, engine_, reads_dst ? b.outputs[0].data : b.inputs[0].data)},
                     {DNNL_ARG_DIFF_DST, dnnl::memory(md, engine_, b.output_grads[0].data)},
                     {DNNL_ARG_DIFF_SRC, dnnl::memory(md, engine_, dx_.data)},
                     {DNNL_ARG_SCRATCHPAD, dnnl::memory(bwd_pd.scratchpad_desc(), engine_)}};
        has_bwd_ = true;
      }
    } catch (const dnnl::error& e) {
      return make_error(ErrorCode::kInternal, "oneDNN eltwise: ", e.what());
    }
    return Status::Ok();
  }

  void forward(bool /*training*/) override {
    if (inline_relu_) {
      // oneDNN's bits: its ReLU is max(x, 0) on vmaxps, which gives +0 for a negative input,
      // -0 and NaN alike.
      const float* x = x_;
      float* y = y_;
      const int64_t n = shape_numel(shape_);
#pragma omp simd
      for (int64_t i = 0; i < n; ++i) y[i] = x[i] > 0.0f ? x[i] : 0.0f;
      return;
    }
    if (shape_numel(shape_) == 0) return;
    fwd_.execute(stream_, fwd_args_);
    stream_.wait();
  }

  void backward() override {
    if (!dx_) return;
    if (inline_relu_ && dy_ != nullptr) {
      // relu_use_dst_for_bwd's formula: dy where y > 0, else 0 * dy.
      const float* y = y_;
      const float* dy = dy_;
      float* dx = dx_.data;
      const int64_t n = shape_numel(shape_);
#pragma omp simd
      for (int64_t i = 0; i < n; ++i) dx[i] = y[i] > 0.0f ? dy[i] : dy[i] * 0.0f;
      return;
    }
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
  const dnnl::algorithm fwd_alg_, bwd_alg_;
  const float alpha_, beta_;
  const Shape shape_;
  const bool inline_relu_;
  const float* x_ = nullptr;  // the inline ReLU's buffers
  float* y_ = nullptr;
  const float* dy_ = nullptr;
  View dx_;
  bool has_bwd_ = false;
  dnnl::eltwise_forward fwd_;
  dnnl::eltwise_backward bwd_;
  std::unordered_map<int, dnnl::memory> fwd_args_, bwd_args_;
};

}  // namespace

Expected<std::unique_ptr<Kernel>> create_relu_kernel(const KernelContext& ctx) {
  const Node& node = ctx.node;
  if (node.inputs.size() != 1 || !node.has_input(0))
    return make_error(ErrorCode::kInvalidArgument, node.describe(), ": Relu takes one input");
  if (ctx.input_shapes[0].size() > DNNL_MAX_NDIMS)
    return make_error(ErrorCode::kUnsupported, node.describe(), ": rank ",
                      ctx.input_shapes[0].size(), " is above the supported maximum of ",
                      DNNL_MAX_NDIMS);
  // The _use_dst_for_bwd variant is both forward and backward relu; backward then reads dst.
  return std::unique_ptr<Kernel>(new EltwiseKernel(
      ctx, dnnl::algorithm::eltwise_relu_use_dst_for_bwd,
      dnnl::algorithm::eltwise_relu_use_dst_for_bwd, 0.0f, 0.0f, ctx.input_shapes[0]));
}

Expected<std::unique_ptr<Kernel>> create_clip_kernel(const KernelContext& ctx) {
  // Clip-13: min and max are optional scalar inputs; the engine needs them as constants (the
  // quantize export inserts Clip to express code ranges narrower than 8 bits).
  const Node& node = ctx.node;
  if (node.inputs.empty() || !node.has_input(0) || node.inputs.size() > 3)
    return make_error(ErrorCode::kInvalidArgument, node.describe(),
                      ": Clip takes an input and optional min and max");
  float bounds[2] = {-std::numeric_limits<float>::max(), std::numeric_limits<float>::max()};
  for (size_t i = 1; i < 3; ++i) {
    if (!node.has_input(i)) continue;
    const Tensor* t = ctx.constants[i];
    if (t == nullptr || t->dtype() != DType::kFloat32 || t->numel() != 1)
      return make_error(ErrorCode::kUnsupported, node.describe(), ": ", i == 1 ? "min" : "max",
                        " ('", node.inputs[i], "') must be a float32 scalar initializer");
    bounds[i - 1] = t->data<float>()[0];
  }
  if (ctx.input_shapes[0].size() > DNNL_MAX_NDIMS)
    return make_error(ErrorCode::kUnsupported, node.describe(), ": rank ",
                      ctx.input_shapes[0].size(), " is above the supported maximum of ",
                      DNNL_MAX_NDIMS);
  return std::unique_ptr<Kernel>(new EltwiseKernel(ctx, dnnl::algorithm::eltwise_clip,
                                                   dnnl::algorithm::eltwise_clip, bounds[0],
                                                   bounds[1], ctx.input_shapes[0]));
}

}  // namespace retort::engine
