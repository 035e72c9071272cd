// MaxPool, AveragePool, GlobalAveragePool (ONNX semantics, 1-D/2-D/3-D) on oneDNN pooling_v2
// (which has dilations). Max pooling keeps a workspace from forward_training for backward.
#include <algorithm>
#include <unordered_map>

#include "ops.h"
#include "spatial_util.h"

namespace retort::engine {
namespace {

class PoolKernel final : public Kernel {
 public:
  PoolKernel(const KernelContext& ctx, Shape x, Shape y, spatial::Window win, dnnl::algorithm algo)
      : eng_(ctx.engine),
        stream_(ctx.stream),
        x_shape_(std::move(x)),
        y_shape_(std::move(y)),
        win_(std::move(win)),
        algo_(algo) {}

  Status init(const std::string& where) {
    try {
      const auto x_md = plain_desc(x_shape_), y_md = plain_desc(y_shape_);
      const auto strides = spatial::to_dnnl(win_.strides), kernel = spatial::to_dnnl(win_.kernel);
      const auto dil = win_.dnnl_dilations(), pl = spatial::to_dnnl(win_.pad_begin);
      const auto pr = spatial::to_dnnl(win_.dnnl_pad_end);
      const auto attr = spatial::Scratchpad::attr();
      using fwd = dnnl::pooling_v2_forward;
      fwd_train_pd_ = fwd::primitive_desc(fwd::desc(dnnl::prop_kind::forward_training, algo_, x_md,
                                                    y_md, strides, kernel, dil, pl, pr),
                                          attr, eng_);
      fwd_inf_pd_ = fwd::primitive_desc(fwd::desc(dnnl::prop_kind::forward_inference, algo_, x_md,
                                                  y_md, strides, kernel, dil, pl, pr),
                                        attr, eng_);
      bwd_pd_ = dnnl::pooling_v2_backward::primitive_desc(
          dnnl::pooling_v2_backward::desc(algo_, x_md, y_md, strides, kernel, dil, pl, pr), attr,
          eng_, fwd_train_pd_);
    } catch (const dnnl::error& e) {
      return make_error(
          ErrorCode::kUnsupported, where, ": oneDNN has no pooling for this configuration (input ",
          shape_to_string(x_shape_), ", kernel ", shape_to_string(win_.kernel), "): ", e.what());
    }
    if (algo_ == dnnl::algorithm::pooling_avg_include_padding && win_.extended())
      compute_divisor_fix();
    return Status::Ok();
  }

  std::vector<Shape> output_shapes() const override { return {y_shape_}; }

  Status bind(const Bindings& b) override {
    try {
      const auto x_md = plain_desc(x_shape_), y_md = plain_desc(y_shape_);
      dnnl::memory x(x_md, eng_, b.inputs[0].data), y(y_md, eng_, b.outputs[0].data);
      y_ = b.outputs[0].data;
      fwd_inf_ = dnnl::pooling_v2_forward(fwd_inf_pd_);
      scratch_.reserve(fwd_inf_pd_);
      fwd_inf_args_ = {{DNNL_ARG_SRC, x}, {DNNL_ARG_DST, y}};

      dx_ = b.input_grads.empty() ? View{} : b.input_grads[0];
      dy_ = b.output_grads.empty() ? View{} : b.output_grads[0];
      if (dx_) {
        fwd_train_ = dnnl::pooling_v2_forward(fwd_train_pd_);
        bwd_ = dnnl::pooling_v2_backward(bwd_pd_);
        scratch_.reserve(fwd_train_pd_);
        scratch_.reserve(bwd_pd_);
        fwd_train_args_ = fwd_inf_args_;
        dnnl::memory dy = dy_ ? dnnl::memory(y_md, eng_, dy_.data) : dnnl::memory(y_md, eng_);
        if (!fix_.empty()) {  // backward reads a rescaled copy of dy
          scaled_dy_ = dnnl::memory(y_md, eng_);
          dy = scaled_dy_;
        }
        bwd_args_ = {{DNNL_ARG_DIFF_DST, dy},
                     {DNNL_ARG_DIFF_SRC, dnnl::memory(x_md, eng_, dx_.data)}};
        if (fwd_train_pd_.workspace_desc().get_size() > 0) {
          dnnl::memory ws(fwd_train_pd_.workspace_desc(), eng_);
          fwd_train_args_[DNNL_ARG_WORKSPACE] = ws;
          bwd_args_[DNNL_ARG_WORKSPACE] = ws;
        }
      }
      scratch_.allocate(eng_);
      for (auto* args : {&fwd_inf_args_, &fwd_train_args_, &bwd_args_})
        (*args)[DNNL_ARG_SCRATCHPAD] = scratch_.memory();
    } catch (const dnnl::error& e) {
      return make_error(ErrorCode::kInternal, "pooling bind failed: ", e.what());
    }
    return Status::Ok();
  }

  void forward(bool training) override {
    if (training && dx_) {
      fwd_train_.execute(stream_, fwd_train_args_);
    } else {
      fwd_inf_.execute(stream_, fwd_inf_args_);
    }
    stream_.wait();
    if (!fix_.empty()) apply_fix(y_, y_);
  }

  void backward() override {
    if (!dx_) return;
    if (!dy_) {
      std::fill(dx_.data, dx_.data + dx_.numel(), 0.0f);
      return;
    }
    if (!fix_.empty()) apply_fix(dy_.data, static_cast<float*>(scaled_dy_.get_data_handle()));
    bwd_.execute(stream_, bwd_args_);
    stream_.wait();
  }

 private:
  // oneDNN divides by the full kernel size when counting padding; ONNX (like PyTorch) counts
  // only taps inside the declared padding, so windows that ceil_mode pushed past it get a
  // per-position factor kernel_size / taps_inside.
  void compute_divisor_fix() {
    const size_t n = win_.kernel.size();
    int64_t positions = 1, kernel_size = 1;
    for (size_t i = 0; i < n; ++i) {
      positions *= win_.out[i];
      kernel_size *= win_.kernel[i];
    }
    fix_.assign(positions, 1.0f);
    for (int64_t p = 0; p < positions; ++p) {
      int64_t rest = p, taps = 1;
      for (size_t i = n; i-- > 0;) {
        const int64_t o = rest % win_.out[i];
        rest /= win_.out[i];
        const int64_t limit = x_shape_[2 + i] + win_.pad_begin[i] + win_.pad_end[i];
        int64_t inside = 0;
        for (int64_t t = 0; t < win_.kernel[i]; ++t)
          inside += o * win_.strides[i] + t * win_.dilations[i] < limit ? 1 : 0;
        taps *= inside;
      }
      fix_[p] = taps > 0 ? static_cast<float>(kernel_size) / static_cast<float>(taps) : 0.0f;
    }
  }

  void apply_fix(const float* in, float* out) const {
    const int64_t positions = static_cast<int64_t>(fix_.size());
    const int64_t planes = shape_numel(y_shape_) / positions;
#pragma omp parallel for
    for (int64_t c = 0; c < planes; ++c)
      for (int64_t p = 0; p < positions; ++p)
        out[c * positions + p] = in[c * positions + p] * fix_[p];
  }

  dnnl::engine& eng_;
  dnnl::stream& stream_;
  Shape x_shape_, y_shape_;
  spatial::Window win_;
  dnnl::algorithm algo_;
  std::vector<float> fix_;  // empty unless the divisor needs fixing

  dnnl::pooling_v2_forward::primitive_desc fwd_train_pd_, fwd_inf_pd_;
  dnnl::pooling_v2_backward::primitive_desc bwd_pd_;
  dnnl::pooling_v2_forward fwd_train_, fwd_inf_;
  dnnl::pooling_v2_backward bwd_;
  std::unordered_map<int, dnnl::memory> fwd_train_args_, fwd_inf_args_, bwd_args_;
  spatial::Scratchpad scratch_;
  dnnl::memory scaled_dy_;
  float* y_ = nullptr;
  View dx_, dy_;
};

Status check_input(const KernelContext& ctx) {
  const Node& node = ctx.node;
  if (!node.has_input(0))
    return make_error(ErrorCode::kInvalidArgument, node.describe(), ": input X is missing");
  const Shape& x = ctx.input_shapes[0];
  if (x.size() < 3 || x.size() > 5)
    return make_error(ErrorCode::kInvalidArgument, node.describe(), ": input X ",
                      shape_to_string(x),
                      " must be N x C x D1 [x D2 [x D3]] (1-D, 2-D or 3-D pooling)");
  return Status::Ok();
}

Expected<std::unique_ptr<Kernel>> make_pool(const KernelContext& ctx, dnnl::algorithm algo,
                                            Expected<spatial::Window> win) {
  if (!win.ok()) return win.status();
  const Shape& x = ctx.input_shapes[0];
  Shape y{x[0], x[1]};
  y.insert(y.end(), win->out.begin(), win->out.end());
  auto k = std::make_unique<PoolKernel>(ctx, x, y, std::move(win).value(), algo);
  RETORT_RETURN_IF_ERROR(k->init(ctx.node.describe()));
  return std::unique_ptr<Kernel>(std::move(k));
}

// kernel_shape of MaxPool/AveragePool: required, one per spatial dim.
Expected<std::vector<int64_t>> kernel_shape(const KernelContext& ctx) {
  const size_t n = ctx.input_shapes[0].size() - 2;
  std::vector<int64_t> kernel = ctx.node.attr_ints("kernel_shape");
  if (kernel.size() != n)
    return make_error(ErrorCode::kInvalidArgument, ctx.node.describe(), ": kernel_shape ",
                      shape_to_string(kernel), " must have ", n,
                      " values (one per spatial dim of X ", shape_to_string(ctx.input_shapes[0]),
                      ")");
  return kernel;
}

}  // namespace

Expected<std::unique_ptr<Kernel>> create_max_pool_kernel(const KernelContext& ctx) {
  const Node& node = ctx.node;
  RETORT_RETURN_IF_ERROR(check_input(ctx));
  if (node.attr_int("storage_order", 0) != 0)
    return make_error(ErrorCode::kUnsupported, node.describe(),
                      ": storage_order=", node.attr_int("storage_order", 0),
                      " is not supported (only 0, row-major indices)");
  if (node.outputs.size() > 1 && !node.outputs[1].empty())
    return make_error(ErrorCode::kUnsupported, node.describe(), ": the Indices output ('",
                      node.outputs[1], "') is not supported; only Y can be produced");
  RETORT_ASSIGN_OR_RETURN(auto kernel, kernel_shape(ctx));
  const Shape& x = ctx.input_shapes[0];
  std::vector<int64_t> in(x.begin() + 2, x.end());
  return make_pool(ctx, dnnl::algorithm::pooling_max,
                   spatial::resolve_window(node, in, kernel, node.attr_int("ceil_mode", 0) != 0));
}

Expected<std::unique_ptr<Kernel>> create_average_pool_kernel(const KernelContext& ctx) {
  const Node& node = ctx.node;
  RETORT_RETURN_IF_ERROR(check_input(ctx));
  RETORT_ASSIGN_OR_RETURN(auto kernel, kernel_shape(ctx));
  const Shape& x = ctx.input_shapes[0];
  std::vector<int64_t> in(x.begin() + 2, x.end());
  const auto algo = node.attr_int("count_include_pad", 0) != 0
                        ? dnnl::algorithm::pooling_avg_include_padding
                        : dnnl::algorithm::pooling_avg_exclude_padding;
  return make_pool(ctx, algo,
                   spatial::resolve_window(node, in, kernel, node.attr_int("ceil_mode", 0) != 0));
}

Expected<std::unique_ptr<Kernel>> create_global_average_pool_kernel(const KernelContext& ctx) {
  RETORT_RETURN_IF_ERROR(check_input(ctx));
  const Shape& x = ctx.input_shapes[0];
  const size_t n = x.size() - 2;
  spatial::Window win;
  win.kernel.assign(x.begin() + 2, x.end());
  win.strides.assign(n, 1);
  win.dilations.assign(n, 1);
  win.pad_begin.assign(n, 0);
  win.pad_end.assign(n, 0);
  win.dnnl_pad_end.assign(n, 0);
  win.out.assign(n, 1);
  return make_pool(ctx, dnnl::algorithm::pooling_avg_exclude_padding, win);
}

}  // namespace retort::engine
