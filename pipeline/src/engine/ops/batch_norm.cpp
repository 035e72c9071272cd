// BatchNormalization (ONNX opset 9-15) on oneDNN batch_normalization with separate scale and
// shift (normalization_flags::use_scale | use_shift).
//
// Statistics: forward(training=true), or a node with training_mode=1, normalizes with the batch
// mean and (biased) batch variance. forward(training=true) also updates the running statistics
// in place in inputs 3 and 4 (the model's initializers):
//   running = running * momentum + batch * (1 - momentum)
// using the UNBIASED batch variance (n / (n - 1), n = elements per channel) for running_var,
// as PyTorch does, so models trained here behave like PyTorch-trained ones at inference.
// (ONNX's reference uses the biased variance for its optional running-stat outputs; this engine
// does not produce those outputs and rejects graphs that name them.)
// Otherwise (inference) the running statistics are used (use_global_stats).
#include <algorithm>
#include <string>
#include <unordered_map>

#include "ops.h"
#include "spatial_util.h"

namespace retort::engine {
namespace {

using flags = dnnl::normalization_flags;
using spatial::Edge;

class BatchNormKernel final : public Kernel {
 public:
  BatchNormKernel(const KernelContext& ctx, Shape x, float epsilon, float momentum,
                  bool training_mode)
      : eng_(ctx.engine),
        stream_(ctx.stream),
        x_shape_(std::move(x)),
        epsilon_(epsilon),
        momentum_(momentum),
        training_mode_(training_mode) {}

  Status init(const std::string& where) {
    try {
      // oneDNN 2.6's JIT batch norm handles 4-D/5-D data in channel blocks or channels-last;
      // plain NC... gets a slow generic kernel. Measured at 128x32x26x26, fwd + bwd: nchw
      // 40 ms, nChw16c including the four edge reorders 18-22 ms. So: [N, C] is viewed as
      // channels-last [N, C, 1, 1] (the same bytes), [N, C, L] as [N, C, L, 1], and 4-D/5-D
      // data goes to channel blocks when that is what gets the JIT kernel.
      using tag = dnnl::memory::format_tag;
      const auto f32 = dnnl::memory::data_type::f32;
      Shape dims = x_shape_;
      while (dims.size() < 4) dims.push_back(1);
      plain_md_ = x_shape_.size() == 2 ? dnnl::memory::desc(to_dims(dims), f32, tag::acdb)
                                       : plain_desc(dims);
      data_md_ = plain_md_;
      create_pds(plain_md_);
      if (!is_jit()) {
        const dnnl::memory::desc blocked(to_dims(dims), f32,
                                         dims.size() == 4 ? tag::aBcd16b : tag::aBcde16b);
        create_pds(blocked);
        if (is_jit()) {
          data_md_ = blocked;
        } else {
          create_pds(plain_md_);
        }
      }
    } catch (const dnnl::error& e) {
      return make_error(ErrorCode::kUnsupported, where,
                        ": oneDNN has no batch normalization for input ", shape_to_string(x_shape_),
                        ": ", e.what());
    }
    return Status::Ok();
  }

  std::vector<Shape> output_shapes() const override { return {x_shape_}; }
  // Running mean/var are statistics, not parameters.
  bool differentiable_input(size_t i) const override { return i < 3; }

  Status bind(const Bindings& b) override {
    try {
      const auto& plain = plain_md_;
      const auto c_md = plain_desc({x_shape_[1]});
      auto over = [&](const dnnl::memory::desc& md, const View& v) {
        return v ? dnnl::memory(md, eng_, v.data) : dnnl::memory(md, eng_);
      };
      x_.init(plain, b.inputs[0].data, data_md_, Edge::Direction::kIn, eng_);
      y_.init(plain, b.outputs[0].data, data_md_, Edge::Direction::kOut, eng_);
      dnnl::memory scale = over(c_md, b.inputs[1]), shift = over(c_md, b.inputs[2]);
      running_mean_ = b.inputs[3].data;
      running_var_ = b.inputs[4].data;
      dnnl::memory run_mean = over(c_md, b.inputs[3]), run_var = over(c_md, b.inputs[4]);
      batch_mean_ = dnnl::memory(batch_fwd_pd_.mean_desc(), eng_);
      batch_var_ = dnnl::memory(batch_fwd_pd_.variance_desc(), eng_);

      batch_fwd_ = dnnl::batch_normalization_forward(batch_fwd_pd_);
      global_fwd_ = dnnl::batch_normalization_forward(global_fwd_pd_);
      scratch_.reserve(batch_fwd_pd_);
      scratch_.reserve(global_fwd_pd_);
      batch_fwd_args_ = {{DNNL_ARG_SRC, x_.prim()},    {DNNL_ARG_DST, y_.prim()},
                         {DNNL_ARG_SCALE, scale},      {DNNL_ARG_SHIFT, shift},
                         {DNNL_ARG_MEAN, batch_mean_}, {DNNL_ARG_VARIANCE, batch_var_}};
      global_fwd_args_ = batch_fwd_args_;
      global_fwd_args_[DNNL_ARG_MEAN] = run_mean;
      global_fwd_args_[DNNL_ARG_VARIANCE] = run_var;

      auto grad = [&](size_t i) { return i < b.input_grads.size() ? b.input_grads[i] : View{}; };
      for (size_t i = 0; i < 3; ++i)
        if (grad(i)) grads_.push_back(grad(i));
      has_dy_ = !b.output_grads.empty() && b.output_grads[0];
      if (has_dy_ && !grads_.empty()) {
        batch_bwd_ = dnnl::batch_normalization_backward(batch_bwd_pd_);
        global_bwd_ = dnnl::batch_normalization_backward(global_bwd_pd_);
        scratch_.reserve(batch_bwd_pd_);
        scratch_.reserve(global_bwd_pd_);
        dy_.init(plain, b.output_grads[0].data, data_md_, Edge::Direction::kIn, eng_);
        // Gradients nobody asked for still need somewhere to go.
        dnnl::memory dx;
        if (grad(0)) {
          dx_.init(plain, grad(0).data, data_md_, Edge::Direction::kOut, eng_);
          dx = dx_.prim();
        } else {
          dx = dnnl::memory(data_md_, eng_);
        }
        batch_bwd_args_ = {{DNNL_ARG_SRC, x_.prim()},
                           {DNNL_ARG_DIFF_DST, dy_.prim()},
                           {DNNL_ARG_SCALE, scale},
                           {DNNL_ARG_SHIFT, shift},
                           {DNNL_ARG_MEAN, batch_mean_},
                           {DNNL_ARG_VARIANCE, batch_var_},
                           {DNNL_ARG_DIFF_SRC, dx},
                           {DNNL_ARG_DIFF_SCALE, over(c_md, grad(1))},
                           {DNNL_ARG_DIFF_SHIFT, over(c_md, grad(2))}};
        global_bwd_args_ = batch_bwd_args_;
        global_bwd_args_[DNNL_ARG_MEAN] = run_mean;
        global_bwd_args_[DNNL_ARG_VARIANCE] = run_var;
      }
      scratch_.allocate(eng_);
      for (auto* args : {&batch_fwd_args_, &global_fwd_args_, &batch_bwd_args_, &global_bwd_args_})
        (*args)[DNNL_ARG_SCRATCHPAD] = scratch_.memory();
    } catch (const dnnl::error& e) {
      return make_error(ErrorCode::kInternal, "BatchNormalization bind failed: ", e.what());
    }
    return Status::Ok();
  }

  void forward(bool training) override {
    used_batch_stats_ = training || training_mode_;
    x_.sync(stream_);
    if (used_batch_stats_) {
      batch_fwd_.execute(stream_, batch_fwd_args_);
    } else {
      global_fwd_.execute(stream_, global_fwd_args_);
    }
    y_.sync(stream_);
    stream_.wait();
    if (used_batch_stats_ && training) update_running_stats();
  }

  // Differentiates the forward that ran last: through the batch statistics after a batch-stat
  // forward, with the statistics as constants after an inference one (a frozen BN).
  void backward() override {
    if (!has_dy_) {
      for (const View& g : grads_) std::fill(g.data, g.data + g.numel(), 0.0f);
      return;
    }
    if (grads_.empty()) return;
    dy_.sync(stream_);
    if (used_batch_stats_) {
      batch_bwd_.execute(stream_, batch_bwd_args_);
    } else {
      global_bwd_.execute(stream_, global_bwd_args_);
    }
    dx_.sync(stream_);
    stream_.wait();
  }

 private:
  // The forward/backward descriptors for data in layout `md`. Both forwards are
  // forward_training so that each can hint a backward.
  void create_pds(const dnnl::memory::desc& md) {
    const auto attr = spatial::Scratchpad::attr();
    using fwd = dnnl::batch_normalization_forward;
    using bwd = dnnl::batch_normalization_backward;
    const auto batch_flags = flags::use_scale | flags::use_shift;
    const auto global_flags = batch_flags | flags::use_global_stats;
    batch_fwd_pd_ = fwd::primitive_desc(
        fwd::desc(dnnl::prop_kind::forward_training, md, epsilon_, batch_flags), attr, eng_);
    global_fwd_pd_ = fwd::primitive_desc(
        fwd::desc(dnnl::prop_kind::forward_training, md, epsilon_, global_flags), attr, eng_);
    batch_bwd_pd_ =
        bwd::primitive_desc(bwd::desc(dnnl::prop_kind::backward, md, md, epsilon_, batch_flags),
                            attr, eng_, batch_fwd_pd_);
    global_bwd_pd_ =
        bwd::primitive_desc(bwd::desc(dnnl::prop_kind::backward, md, md, epsilon_, global_flags),
                            attr, eng_, global_fwd_pd_);
  }
  bool is_jit() const {
    return std::string(batch_fwd_pd_.impl_info_str()).find("jit") != std::string::npos &&
           std::string(batch_bwd_pd_.impl_info_str()).find("jit") != std::string::npos;
  }

  void update_running_stats() {
    const int64_t channels = x_shape_[1];
    const int64_t n = shape_numel(x_shape_) / channels;
    const float unbias = n > 1 ? static_cast<float>(n) / static_cast<float>(n - 1) : 1.0f;
    const auto* mean = static_cast<const float*>(batch_mean_.get_data_handle());
    const auto* var = static_cast<const float*>(batch_var_.get_data_handle());
    const float keep = momentum_, take = 1.0f - momentum_;
    for (int64_t c = 0; c < channels; ++c) {
      running_mean_[c] = running_mean_[c] * keep + mean[c] * take;
      running_var_[c] = running_var_[c] * keep + var[c] * unbias * take;
    }
  }

  dnnl::engine& eng_;
  dnnl::stream& stream_;
  Shape x_shape_;
  float epsilon_, momentum_;
  bool training_mode_;

  dnnl::batch_normalization_forward::primitive_desc batch_fwd_pd_, global_fwd_pd_;
  dnnl::batch_normalization_backward::primitive_desc batch_bwd_pd_, global_bwd_pd_;
  dnnl::batch_normalization_forward batch_fwd_, global_fwd_;
  dnnl::batch_normalization_backward batch_bwd_, global_bwd_;
  std::unordered_map<int, dnnl::memory> batch_fwd_args_, global_fwd_args_, batch_bwd_args_,
      global_bwd_args_;
  spatial::Scratchpad scratch_;
  dnnl::memory::desc plain_md_;  // the plan's buffers, seen as 4-D/5-D
  dnnl::memory::desc data_md_;   // layout the primitives work in (plain or channel blocks)
  Edge x_, y_, dy_, dx_;
  dnnl::memory batch_mean_, batch_var_;
  float* running_mean_ = nullptr;
  float* running_var_ = nullptr;
  std::vector<View> grads_;
  bool has_dy_ = false;
  bool used_batch_stats_ = false;
};

}  // namespace

Expected<std::unique_ptr<Kernel>> create_batch_normalization_kernel(const KernelContext& ctx) {
  const Node& node = ctx.node;
  auto fail = [&](ErrorCode code, auto&&... parts) -> Status {
    return make_error(code, node.describe(), ": ", parts...);
  };
  for (size_t i = 0; i < 5; ++i)
    if (!node.has_input(i))
      return fail(ErrorCode::kInvalidArgument,
                  "needs 5 inputs (X, scale, B, input_mean, input_var); input ", i, " is missing");
  for (size_t i = 1; i < node.outputs.size(); ++i)
    if (!node.outputs[i].empty())
      return fail(ErrorCode::kUnsupported, "output ", i, " ('", node.outputs[i],
                  "') is not supported: only Y can be produced. The engine updates the running "
                  "mean/var in place in input_mean/input_var during training; drop the "
                  "running-statistics outputs from the graph");
  if (node.attr_int("spatial", 1) != 1)
    return fail(ErrorCode::kUnsupported, "spatial=0 (per-activation statistics) is not supported");
  const Shape& x = ctx.input_shapes[0];
  if (x.size() < 2 || x.size() > 5)
    return fail(ErrorCode::kInvalidArgument, "input X ", shape_to_string(x),
                " must be N x C [x D1 [x D2 [x D3]]]");
  static const char* kNames[] = {"X", "scale", "B", "input_mean", "input_var"};
  for (size_t i = 1; i < 5; ++i)
    if (ctx.input_shapes[i] != Shape{x[1]})
      return fail(ErrorCode::kInvalidArgument, kNames[i], " ", shape_to_string(ctx.input_shapes[i]),
                  " must be [", x[1], "] (one value per channel of X ", shape_to_string(x), ")");
  const float momentum = node.attr_float("momentum", 0.9f);
  if (momentum < 0.0f || momentum > 1.0f)
    return fail(ErrorCode::kInvalidArgument, "momentum ", momentum, " must be in [0, 1]");
  auto k = std::make_unique<BatchNormKernel>(ctx, x, node.attr_float("epsilon", 1e-5f), momentum,
                                             node.attr_int("training_mode", 0) != 0);
  RETORT_RETURN_IF_ERROR(k->init(node.describe()));
  return std::unique_ptr<Kernel>(std::move(k));
}

}  // namespace retort::engine
